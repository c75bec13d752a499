"""Chat turns under faults, over real HTTP: the live server, the real SDK, the fake Messages API, and a
database the test can cut (a TCP proxy in front of PostgreSQL). Everything talks to 127.0.0.1 and every
wait is bounded."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from flowpilot_server import sse
from flowpilot_server.app import create_app
from flowpilot_server.routes.troubleshooting import REPLY_NOT_SAVED
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core.config import Settings
from flowpilot_core.db.engine import DatabaseUrls, tenant_session
from flowpilot_core.db.models import AiMessage, AiUsage
from flowpilot_core.testing import FakeAnthropic
from tests.api.conftest import ANTHROPIC_TEST_KEY
from tests.conftest import Tenant, _free_port
from tests.tcp_proxy import TcpProxy

TICKET = {"summary": "Accounts cannot print", "description": "Jobs stuck in the queue on PRINT01 since 9am."}
REPLY = "Check the spooler on PRINT01 first: every job goes through it, and a stuck job blocks the queue."


@dataclass
class Live:
    url: str
    fake: FakeAnthropic
    proxy: TcpProxy


def _anthropic_settings(settings: Settings, fake: FakeAnthropic) -> Settings:
    return dataclasses.replace(
        settings,
        model_provider="anthropic",
        anthropic_api_key=ANTHROPIC_TEST_KEY,
        anthropic_base_url=fake.url,
        ai={"anthropic": {"max_retries": 0}},
    )


@pytest.fixture
def live(settings: Settings, db_urls: DatabaseUrls) -> Iterator[Live]:
    """A FlowPilot server over HTTP whose model is the fake and whose database is behind a cuttable proxy."""
    proxy, proxied = TcpProxy.for_url(db_urls.app)
    with FakeAnthropic(api_key=ANTHROPIC_TEST_KEY) as fake:
        app = create_app(_anthropic_settings(settings, fake), urls=dataclasses.replace(db_urls, app=proxied))
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, name="faults-server", daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started, "the fault-test server did not start in 30 s"
        try:
            yield Live(url, fake, proxy)
        finally:
            proxy.restore()
            server.should_exit = True
            thread.join(timeout=15)
            proxy.close()


def _events(raw: str) -> list[tuple[str, Any]]:
    events = []
    for block in raw.replace("\r\n", "\n").strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if "event" in lines:
            events.append((lines["event"], json.loads(lines["data"])))
    return events


async def _session(http: httpx.AsyncClient, tenant: Tenant) -> str:
    body = {"problem_statement": "Nobody in accounts can print", "ticket": TICKET}
    response = await http.post("/api/v1/ai-sessions", json=body, headers=tenant.headers())
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _metric(text: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", text, re.M)
    assert match, f"{name} is not in /metrics"
    return float(match.group(1))


async def _messages(sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant, sid: str) -> list[tuple[str, str]]:
    async with tenant_session(sessionmaker, tenant.account_id) as db:
        rows = await db.execute(select(AiMessage).where(AiMessage.session_id == uuid.UUID(sid)).order_by(AiMessage.seq))
        return [(m.role, m.content) for m in rows.scalars()]


async def _usage(sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant, sid: str) -> list[AiUsage]:
    async with tenant_session(sessionmaker, tenant.account_id) as db:
        rows = await db.execute(select(AiUsage).where(AiUsage.session_id == uuid.UUID(sid)))
        return list(rows.scalars())


async def test_database_killed_mid_stream_ends_with_an_error_event_and_loses_nothing(
    live: Live, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with httpx.AsyncClient(base_url=live.url, timeout=20) as http:
        sid = await _session(http, tenant)
        live.fake.queue_reply(REPLY)
        hang = live.fake.queue_hang(after_deltas=2, seconds=10)
        raw = ""
        deltas = 0
        body = {"content": "Jobs are stuck again", "client_message_id": "m-1"}
        headers = {**tenant.headers(), "accept": "text/event-stream"}
        async with http.stream("POST", f"/api/v1/ai-sessions/{sid}/messages", json=body, headers=headers) as response:
            assert response.status_code == 200
            async for chunk in response.aiter_text():
                raw += chunk
                deltas = sum(1 for name, _ in _events(raw) if name == "delta")
                if deltas == 2 and not hang._released.is_set():
                    # The model is mid-reply; the database dies; then the model finishes.
                    assert await asyncio.to_thread(hang.reached.wait, 5)
                    live.proxy.kill()
                    hang.release()
        live.proxy.restore()

        events = _events(raw)
        names = [name for name, _ in events]
        assert names[0] == "user_message" and names[-1] == "error" and "done" not in names
        assert "".join(d["text"] for n, d in events if n == "delta") == REPLY, "the whole reply was streamed"
        error = events[-1][1]
        assert error == {
            "status": 503,
            "type": "https://flowpilot.dev/problems/database-unavailable",
            "title": "Service unavailable",
            "detail": REPLY_NOT_SAVED,
            "retryable": True,
            "retry_after": 5,  # as on a plain request while the database is away
        }

        # The technician's message was stored before the model was asked; the reply was not.
        assert await _messages(sessionmaker, tenant, sid) == [("user", "Jobs are stuck again")]

        # The call's usage row could not be written while the database was down: it is kept
        # and written once the database is back, and /metrics says it happened.
        deadline = time.monotonic() + 15
        metrics = (await http.get("/metrics")).text
        while _metric(metrics, "flowpilot_ai_usage_buffered") > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            metrics = (await http.get("/metrics")).text
        assert _metric(metrics, "flowpilot_ai_usage_buffered") == 0
        assert _metric(metrics, "flowpilot_ai_usage_write_failures_total") >= 1
        assert _metric(metrics, "flowpilot_ai_usage_dropped_total") == 0
        rows = await _usage(sessionmaker, tenant, sid)
        assert [(r.service, r.error) for r in rows] == [("chat", None)]
        assert rows[0].output_tokens > 0, "the row is the streamed call's, written late"

        # Sending the message again (same client id) finishes the same turn, no duplicate.
        live.fake.queue_reply("Check the spooler on PRINT01.")
        retried = await http.post(f"/api/v1/ai-sessions/{sid}/messages", json=body, headers=tenant.headers())
        assert retried.status_code == 200, retried.text
    assert await _messages(sessionmaker, tenant, sid) == [
        ("user", "Jobs are stuck again"),
        ("assistant", "Check the spooler on PRINT01."),
    ]


async def test_a_long_silence_is_filled_with_heartbeats(
    live: Live, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sse, "HEARTBEAT_SECONDS", 0.2)  # 15 s in production; the mechanism is the same
    async with httpx.AsyncClient(base_url=live.url, timeout=20) as http:
        sid = await _session(http, tenant)
        live.fake.queue_reply(REPLY)
        live.fake.queue_hang(after_deltas=2, seconds=1.2)  # the model thinks for 1.2 s mid-reply
        arrivals: list[tuple[float, str]] = []
        raw = ""
        headers = {**tenant.headers(), "accept": "text/event-stream"}
        body = {"content": "What next?"}
        async with http.stream("POST", f"/api/v1/ai-sessions/{sid}/messages", json=body, headers=headers) as response:
            async for chunk in response.aiter_text():
                arrivals.append((time.monotonic(), chunk))
                raw += chunk
    names = [name for name, _ in _events(raw)]
    assert names[0] == "user_message" and names[-1] == "done"
    assert raw.count(": keep-alive") >= 3
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(arrivals)]
    # Without heartbeats the model's pause would be one silent gap of 1.2 s.
    assert max(gaps) < 1.0, "the pause is filled with heartbeats"


@pytest.fixture
async def anthropic_client(
    settings: Settings, db_urls: DatabaseUrls
) -> AsyncIterator[tuple[AsyncTestClient[Litestar], FakeAnthropic]]:
    with FakeAnthropic(api_key=ANTHROPIC_TEST_KEY) as fake:
        async with AsyncTestClient(app=create_app(_anthropic_settings(settings, fake), urls=db_urls)) as client:
            yield client, fake


async def test_a_rate_limit_says_the_same_in_a_stream_and_in_plain_http(
    anthropic_client: tuple[AsyncTestClient[Litestar], FakeAnthropic], tenant: Tenant
) -> None:
    client, fake = anthropic_client
    response = await client.post(
        "/api/v1/ai-sessions", json={"problem_statement": "Printing", "ticket": TICKET}, headers=tenant.headers()
    )
    url = f"/api/v1/ai-sessions/{response.json()['id']}/messages"
    body = {"content": "Jobs are stuck", "client_message_id": "m-1"}

    fake.queue_error(429, "rate_limit_error", "Number of request tokens has exceeded your rate limit", retry_after=7)
    streamed = await client.post(url, json=body, headers={**tenant.headers(), "accept": "text/event-stream"})
    events = _events(streamed.text)
    assert [name for name, _ in events] == ["user_message", "error"]
    error = events[-1][1]
    assert error == {
        "status": 429,
        "type": "https://flowpilot.dev/problems/ai-rate-limited",
        "title": "Rate limit reached",
        "detail": "The AI service is receiving too many requests right now. Try again in about 7 seconds. "
        "Nothing you sent was lost; send it again to retry.",
        "retryable": True,
        "retry_after": 7,
    }

    fake.queue_error(429, "rate_limit_error", "Number of request tokens has exceeded your rate limit", retry_after=7)
    plain = await client.post(url, json=body, headers=tenant.headers())
    assert plain.status_code == 429 and plain.headers["retry-after"] == "7"
    assert plain.json() == error, "one mapping: the stream's error event is the plain request's problem"


async def test_a_server_error_in_a_stream_says_the_service_was_reached(
    anthropic_client: tuple[AsyncTestClient[Litestar], FakeAnthropic], tenant: Tenant
) -> None:
    client, fake = anthropic_client
    response = await client.post(
        "/api/v1/ai-sessions", json={"problem_statement": "Printing", "ticket": TICKET}, headers=tenant.headers()
    )
    url = f"/api/v1/ai-sessions/{response.json()['id']}/messages"
    fake.queue_stream_error(after_deltas=1, error_type="api_error", message="Internal server error")
    streamed = await client.post(
        url, json={"content": "x"}, headers={**tenant.headers(), "accept": "text/event-stream"}
    )
    name, error = _events(streamed.text)[-1]
    assert name == "error" and error["status"] == 503 and error["retryable"] is True
    assert error["type"] == "https://flowpilot.dev/problems/ai-server-error"
    assert "reached but failed" in error["detail"] and "network" not in error["detail"]
