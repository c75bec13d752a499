"""The usage sink when its database fails: a row is never lost, and /metrics says what happened.

The sink writes through a TCP proxy in front of the test PostgreSQL, which the test cuts and
restores; the real server is never touched.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.pool import NullPool

from flowpilot_core.ai.provider import UsageRecord
from flowpilot_core.ai.types import TokenUsage
from flowpilot_core.db.engine import DatabaseUrls, create_engine, make_sessionmaker, tenant_session
from flowpilot_core.db.models import AiUsage
from flowpilot_core.usage import PostgresUsageSink, UsageMetrics
from tests.conftest import Tenant
from tests.tcp_proxy import TcpProxy


def _record(tenant: Tenant, output_tokens: int) -> UsageRecord:
    return UsageRecord(
        account_id=str(tenant.account_id),
        session_id=None,
        service="ai_parse",
        provider="anthropic",
        model="claude-haiku-4-5",
        usage=TokenUsage(input_tokens=100, output_tokens=output_tokens),
        latency_ms=850.0,
        cost_usd=0.0002,
        uncached_cost_usd=0.0002,
    )


async def _outputs(sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant) -> list[int]:
    async with tenant_session(sessionmaker, tenant.account_id) as db:
        rows = await db.execute(select(AiUsage.output_tokens).where(AiUsage.account_id == tenant.account_id))
        return sorted(rows.scalars())


@pytest.fixture
async def proxied(db_urls: DatabaseUrls) -> AsyncIterator[tuple[TcpProxy, async_sessionmaker[AsyncSession]]]:
    proxy, url = TcpProxy.for_url(db_urls.app)
    engine = create_engine(url, poolclass=NullPool)
    yield proxy, make_sessionmaker(engine)
    proxy.restore()
    await engine.dispose()
    proxy.close()


def _value(metrics: UsageMetrics, name: str) -> float:
    value = metrics.registry.get_sample_value(name)
    assert value is not None, name
    return value


async def test_rows_written_while_the_database_is_down_are_stored_when_it_is_back(
    proxied: tuple[TcpProxy, async_sessionmaker[AsyncSession]],
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    proxy, through_proxy = proxied
    metrics = UsageMetrics()
    sink = PostgresUsageSink(through_proxy, metrics, write_timeout=2, retry_delays=(0.1, 0.2))

    await sink.record(_record(tenant, 1))
    assert await _outputs(sessionmaker, tenant) == [1]

    proxy.kill()
    started = time.monotonic()
    await sink.record(_record(tenant, 2))  # never raises, never waits long: the technician gets the answer
    await sink.record(_record(tenant, 3))
    assert time.monotonic() - started < 2
    assert sink.pending == 2
    assert _value(metrics, "flowpilot_ai_usage_buffered") == 2
    assert _value(metrics, "flowpilot_ai_usage_write_failures_total") >= 1
    await asyncio.sleep(0.5)  # the background retries keep failing while the database is down
    assert sink.pending == 2 and _value(metrics, "flowpilot_ai_usage_write_failures_total") >= 2

    proxy.restore()
    for _ in range(200):  # the background retry stores them; at most 10 s
        if not sink.pending:
            break
        await asyncio.sleep(0.05)
    assert await _outputs(sessionmaker, tenant) == [1, 2, 3], "nothing lost"
    assert _value(metrics, "flowpilot_ai_usage_buffered") == 0
    assert _value(metrics, "flowpilot_ai_usage_dropped_total") == 0
    await sink.aclose()


async def test_a_database_that_hangs_is_given_up_on_after_the_write_timeout(tenant: Tenant) -> None:
    # A listener that accepts and never answers: asyncpg waits for the server's greeting.
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    engine = create_engine(f"postgresql+asyncpg://flowpilot_app@127.0.0.1:{port}/x", poolclass=NullPool)
    metrics = UsageMetrics()
    sink = PostgresUsageSink(make_sessionmaker(engine), metrics, write_timeout=0.3, retry_delays=(30,))
    started = time.monotonic()
    await sink.record(_record(tenant, 4))
    assert time.monotonic() - started < 1.5
    assert sink.pending == 1 and _value(metrics, "flowpilot_ai_usage_write_failures_total") == 1
    await sink.aclose()  # one last attempt, then it reports what could not be stored
    assert sink.pending == 1
    server.close()
    await engine.dispose()


async def test_when_too_many_rows_wait_the_oldest_is_dropped_and_counted(
    proxied: tuple[TcpProxy, async_sessionmaker[AsyncSession]],
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    proxy, through_proxy = proxied
    metrics = UsageMetrics()
    sink = PostgresUsageSink(through_proxy, metrics, write_timeout=1, retry_delays=(0.1,), max_buffered=2)
    proxy.kill()
    for tokens in (5, 6, 7):
        await sink.record(_record(tenant, tokens))
    assert sink.pending == 2 and _value(metrics, "flowpilot_ai_usage_dropped_total") == 1
    proxy.restore()
    assert await sink.flush() == 0
    assert await _outputs(sessionmaker, tenant) == [6, 7]
    await sink.aclose()


def test_the_metrics_exist_before_anything_fails() -> None:
    registry = UsageMetrics().registry
    names = {metric.name for metric in registry.collect()}
    assert {"flowpilot_ai_usage_write_failures", "flowpilot_ai_usage_buffered", "flowpilot_ai_usage_dropped"} <= names
