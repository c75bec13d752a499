"""Overload: when every pooled connection is busy, a request is answered 503 with Retry-After at once (after the
short pool timeout), instead of queueing for as long as the load lasts."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import asyncpg
import httpx
from flowpilot_server.app import create_app

from flowpilot_core.config import Settings
from flowpilot_core.db.engine import DatabaseUrls
from tests.conftest import Tenant
from tests.deploy.support import served


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _wait_for_a_blocked_query(owner: asyncpg.Connection) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        waiting = await owner.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = 'flowpilot_app' AND wait_event_type = 'Lock'"
        )
        if waiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the first request never reached the locked table")


async def test_a_request_that_finds_every_connection_busy_is_a_503_with_retry_after_within_a_second(
    settings: Settings, db_urls: DatabaseUrls, tenant: Tenant
) -> None:
    tiny = dataclasses.replace(settings, db_pool_size=1, db_max_overflow=0, db_pool_timeout=0.5)
    with served(create_app(tiny, urls=db_urls)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            created = await http.post(
                "/api/v1/ai-sessions", json={"problem_statement": "VPN drops"}, headers=tenant.headers()
            )
            assert created.status_code == 201, created.text
            session_url = f"/api/v1/ai-sessions/{created.json()['id']}"

            # A slow query holds the only connection: an administrator's lock on the sessions table.
            owner = await asyncpg.connect(_plain(db_urls.owner))
            try:
                lock = owner.transaction()
                await lock.start()
                await owner.execute("LOCK TABLE ai_sessions IN ACCESS EXCLUSIVE MODE")
                slow = asyncio.create_task(http.get(session_url, headers=tenant.headers()))
                await _wait_for_a_blocked_query(owner)

                # Answered while the lock is still held: the pool timeout (0.5 s) decides, not the slow query.
                busy = await asyncio.wait_for(http.get(session_url, headers=tenant.headers()), timeout=10)
                assert not slow.done()
                metrics = (await http.get("/metrics")).text
                assert 'flowpilot_db_pool_connections{state="in_use"} 1.0' in metrics
                assert "flowpilot_db_pool_limit 1.0" in metrics
                await lock.rollback()
            finally:
                await owner.close()

            assert busy.status_code == 503, busy.text
            assert busy.headers["retry-after"] == "1"
            assert busy.headers["content-type"].startswith("application/problem+json")
            problem = busy.json()
            assert problem["type"].endswith("/database-busy")
            assert problem["retryable"] is True and problem["retry_after"] == 1
            assert "busy" in problem["detail"]

            assert (await slow).status_code == 200  # the queued one finishes once the lock is gone
            again = await http.get(session_url, headers=tenant.headers())
            assert again.status_code == 200, "the pool serves again once a connection is free"
            metrics = (await http.get("/metrics")).text
            assert 'flowpilot_database_unavailable_responses_total{reason="busy"} 1.0' in metrics
            assert 'flowpilot_database_unavailable_responses_total{reason="unreachable"} 0.0' in metrics
