"""AI usage: stored per call in ``ai_usage``, aggregated per account, counted for Prometheus.

The PostgreSQL sink writes each record in its own short transaction, so a call that
fails (and rolls back the request's transaction) still leaves its usage behind. A
write that fails (the database is gone, or too slow) never reaches the technician and
never loses the row: the record is kept in memory and written by a background task
that retries with backoff until the database is back. ``/metrics`` counts failed
writes, rows waiting and rows dropped; rows are dropped only when more than
``max_buffered`` wait (oldest first), and the buffer is lost if the process stops
while the database is still unreachable.

A call whose provider reported no usage (``TokenUsage.reported`` false: some
OpenAI-compatible servers) is stored with ``usage_reported = false`` and counted in
``unreported_calls``, so its zero token counts read as unknown, not as free.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import msgspec
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import Date, cast, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core.ai.provider import UsageRecord
from flowpilot_core.db.engine import tenant_session
from flowpilot_core.db.models import AiSession, AiUsage
from flowpilot_core.errors import InvalidInput

log = logging.getLogger("flowpilot.usage")


class UsageMetrics:
    """Prometheus counters for AI calls; one instance per app, on its own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        labels = ("service", "provider", "model")
        self.calls = Counter("flowpilot_ai_calls", "AI calls by outcome", (*labels, "outcome"), registry=self.registry)
        self.tokens = Counter("flowpilot_ai_tokens", "AI tokens by kind", (*labels, "kind"), registry=self.registry)
        self.unreported = Counter(
            "flowpilot_ai_usage_unreported",
            "AI calls whose provider reported no token usage",
            labels,
            registry=self.registry,
        )
        self.cost = Counter("flowpilot_ai_cost_usd", "AI cost in USD", labels, registry=self.registry)
        self.saved = Counter(
            "flowpilot_ai_cache_saved_usd", "USD saved by prompt caching", labels, registry=self.registry
        )
        self.latency = Histogram(
            "flowpilot_ai_latency_seconds",
            "AI call latency",
            ("service",),
            registry=self.registry,
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
        )
        self.usage_write_failures = Counter(
            "flowpilot_ai_usage_write_failures",
            "Attempts to store a usage row that failed (the row is kept and retried)",
            registry=self.registry,
        )
        self.usage_buffered = Gauge(
            "flowpilot_ai_usage_buffered", "Usage rows waiting to be stored", registry=self.registry
        )
        self.usage_dropped = Counter(
            "flowpilot_ai_usage_dropped",
            "Usage rows dropped because too many were waiting to be stored",
            registry=self.registry,
        )

    def observe(self, record: UsageRecord) -> None:
        labels = (record.service, record.provider, record.model)
        self.calls.labels(*labels, record.error or "ok").inc()
        u = record.usage
        if not u.reported:
            self.unreported.labels(*labels).inc()
        for kind, value in (
            ("input", u.input_tokens),
            ("cache_creation", u.cache_creation_input_tokens),
            ("cache_read", u.cache_read_input_tokens),
            ("output", u.output_tokens),
        ):
            if value:
                self.tokens.labels(*labels, kind).inc(value)
        if record.cost_usd:
            self.cost.labels(*labels).inc(record.cost_usd)
        if record.cost_usd is not None and record.uncached_cost_usd is not None:
            self.saved.labels(*labels).inc(max(0.0, record.uncached_cost_usd - record.cost_usd))
        self.latency.labels(record.service).observe(record.latency_ms / 1000.0)


RETRY_DELAYS: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
"""Seconds between attempts to store waiting rows; the last repeats until the database is back."""


class PostgresUsageSink:
    """Stores every :class:`UsageRecord` as an ``ai_usage`` row of the record's account.

    A failed or slow write (``write_timeout``) keeps the record in memory and retries it
    in the background (``retry_delays``), in arrival order: :meth:`record` never raises
    and never waits longer than ``write_timeout``.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        metrics: UsageMetrics | None = None,
        *,
        write_timeout: float = 5.0,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        max_buffered: int = 100_000,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.metrics = metrics
        self.write_timeout = write_timeout
        self.retry_delays = tuple(retry_delays) or RETRY_DELAYS
        self.max_buffered = max_buffered
        self._pending: deque[UsageRecord] = deque()
        self._flusher: asyncio.Task[None] | None = None
        self._flushing = asyncio.Lock()  # one writer of waiting rows at a time, or a row is stored twice

    @property
    def pending(self) -> int:
        """Rows waiting to be stored."""
        return len(self._pending)

    async def record(self, record: UsageRecord) -> None:
        if self.metrics is not None:
            self.metrics.observe(record)
        if record.account_id is None:
            log.warning("usage of %s without an account is not stored", record.service)
            return
        # While earlier rows wait, this one queues behind them: order is kept, and a dead
        # database is not waited on once per call.
        if self._pending or not await self._write(record):
            self._buffer(record)

    async def flush(self) -> int:
        """Try to store every waiting row now; returns how many still wait."""
        async with self._flushing:
            while self._pending:
                if not await self._write(self._pending[0]):
                    break
                self._pending.popleft()
                self._count_pending()
        return len(self._pending)

    async def aclose(self) -> None:
        """Stop retrying in the background, after one last attempt to store what waits."""
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        left = await self.flush()
        if left:
            log.error("%d usage rows could not be stored before shutdown", left)

    async def _write(self, record: UsageRecord) -> bool:
        try:
            async with asyncio.timeout(self.write_timeout):
                await self._store(record)
        except Exception as exc:  # the database is gone or stuck: keep the row, tell the operator
            if self.metrics is not None:
                self.metrics.usage_write_failures.inc()
            log.warning("usage row of %s not stored yet (%s: %s); will retry", record.service, type(exc).__name__, exc)
            return False
        return True

    def _buffer(self, record: UsageRecord) -> None:
        if len(self._pending) >= self.max_buffered:
            self._pending.popleft()
            if self.metrics is not None:
                self.metrics.usage_dropped.inc()
            log.error("more than %d usage rows waiting: the oldest was dropped", self.max_buffered)
        self._pending.append(record)
        self._count_pending()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._retry(), name="usage-retry")

    def _count_pending(self) -> None:
        if self.metrics is not None:
            self.metrics.usage_buffered.set(len(self._pending))

    async def _retry(self) -> None:
        failures = 0
        while self._pending:
            await asyncio.sleep(self.retry_delays[min(failures, len(self.retry_delays) - 1)])
            failures = 0 if await self.flush() == 0 else failures + 1

    async def _store(self, record: UsageRecord) -> None:
        session_id = uuid.UUID(record.session_id) if record.session_id else None
        try:
            await self._insert(record, session_id)
        except IntegrityError:
            # The session may be in a transaction that never committed; keep the usage anyway.
            await self._insert(record, None)

    async def _insert(self, record: UsageRecord, session_id: uuid.UUID | None) -> None:
        u = record.usage
        error = record.error if not record.error_message else f"{record.error}: {record.error_message}"
        async with tenant_session(self.sessionmaker, record.account_id or "") as db:
            db.add(
                AiUsage(
                    account_id=uuid.UUID(record.account_id or ""),
                    session_id=session_id,
                    service=record.service,
                    provider=record.provider,
                    model=record.model,
                    input_tokens=u.input_tokens,
                    cache_creation_input_tokens=u.cache_creation_input_tokens,
                    cache_creation_5m_input_tokens=u.cache_creation_5m_input_tokens,
                    cache_creation_1h_input_tokens=u.cache_creation_1h_input_tokens,
                    cache_read_input_tokens=u.cache_read_input_tokens,
                    output_tokens=u.output_tokens,
                    estimated=u.estimated,
                    usage_reported=u.reported,
                    latency_ms=round(record.latency_ms),
                    cost_usd=Decimal(str(round(record.cost_usd or 0.0, 6))),
                    uncached_cost_usd=Decimal(str(round(record.uncached_cost_usd or 0.0, 6))),
                    error=error,
                )
            )


class UsageRow(msgspec.Struct):
    key: str
    calls: int
    failed_calls: int
    estimated_calls: int
    unreported_calls: int
    """Calls whose provider reported no token usage: their tokens and cost are unknown, not zero."""
    input_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    output_tokens: int
    cost_usd: float
    uncached_cost_usd: float
    saved_usd: float
    """What prompt caching saved: the same tokens uncached minus what they cost."""
    label: str | None = None


class UsageReport(msgspec.Struct):
    since: date
    until: date
    totals: UsageRow
    by_day: list[UsageRow]
    by_session: list[UsageRow]
    by_service: list[UsageRow]
    by_model: list[UsageRow]


def _sums() -> tuple[Any, ...]:
    return (
        func.count(AiUsage.id),
        func.count(AiUsage.error),
        func.count().filter(AiUsage.estimated.is_(True)),
        func.count().filter(AiUsage.usage_reported.is_(False)),
        func.coalesce(func.sum(AiUsage.input_tokens), 0),
        func.coalesce(func.sum(AiUsage.cache_creation_input_tokens), 0),
        func.coalesce(func.sum(AiUsage.cache_read_input_tokens), 0),
        func.coalesce(func.sum(AiUsage.output_tokens), 0),
        func.coalesce(func.sum(AiUsage.cost_usd), 0),
        func.coalesce(func.sum(AiUsage.uncached_cost_usd), 0),
    )


def _row(key: str, values: Any, label: str | None = None) -> UsageRow:
    calls, failed, estimated, unreported, inp, create, read, out, cost, uncached = values
    return UsageRow(
        key=key,
        calls=int(calls),
        failed_calls=int(failed),
        estimated_calls=int(estimated),
        unreported_calls=int(unreported),
        input_tokens=int(inp),
        cache_creation_input_tokens=int(create),
        cache_read_input_tokens=int(read),
        output_tokens=int(out),
        cost_usd=float(cost),
        uncached_cost_usd=float(uncached),
        saved_usd=round(float(uncached) - float(cost), 6),
        label=label,
    )


async def usage_report(
    db: AsyncSession, account_id: uuid.UUID, since: date | None = None, until: date | None = None
) -> UsageReport:
    """The account's usage between two UTC dates (inclusive; default the last 30 days)."""
    until = until or datetime.now(UTC).date()
    since = since or until - timedelta(days=29)
    if since > until:
        raise InvalidInput("since must not be after until", field="since")
    if (until - since).days > 366:
        raise InvalidInput("a report covers at most 366 days", field="since")
    window = (
        AiUsage.account_id == account_id,
        AiUsage.created_at >= datetime.combine(since, time.min, tzinfo=UTC),
        AiUsage.created_at < datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC),
    )
    totals = (await db.execute(select(*_sums()).where(*window))).one()
    day = cast(AiUsage.created_at, Date)
    by_day = (await db.execute(select(day, *_sums()).where(*window).group_by(day).order_by(day))).all()
    by_service = (
        await db.execute(
            select(AiUsage.service, *_sums()).where(*window).group_by(AiUsage.service).order_by(AiUsage.service)
        )
    ).all()
    by_model = (
        await db.execute(select(AiUsage.model, *_sums()).where(*window).group_by(AiUsage.model).order_by(AiUsage.model))
    ).all()
    by_session = (
        await db.execute(
            select(AiUsage.session_id, AiSession.title, *_sums())
            .outerjoin(AiSession, AiSession.id == AiUsage.session_id)
            .where(*window, AiUsage.session_id.is_not(None))
            .group_by(AiUsage.session_id, AiSession.title)
            .order_by(func.sum(AiUsage.cost_usd).desc())
            .limit(100)
        )
    ).all()
    return UsageReport(
        since=since,
        until=until,
        totals=_row("total", totals),
        by_day=[_row(r[0].isoformat(), r[1:]) for r in by_day],
        by_session=[_row(str(r[0]), r[2:], label=r[1]) for r in by_session],
        by_service=[_row(r[0], r[1:]) for r in by_service],
        by_model=[_row(r[0], r[1:]) for r in by_model],
    )
