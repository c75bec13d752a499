"""Requests answered 503 because of the database, on /metrics, by reason: ``busy`` (every pooled connection was in
use for ``db_pool_timeout``: overload, the first thing to break under load) and ``unreachable`` (lost or down)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter

from flowpilot_core.errors import DatabaseBusy, DatabaseUnavailable, database_unavailable

STATE_KEY = "database_unavailable_responses"


def register(registry: CollectorRegistry) -> Counter:
    counter = Counter(
        "flowpilot_database_unavailable_responses",
        "Requests answered 503 because the database was busy (pool exhausted) or unreachable",
        ("reason",),
        registry=registry,
    )
    for reason in ("busy", "unreachable"):  # both present from the start, so a rate() sees the first one
        counter.labels(reason)
    return counter


async def count_database_unavailable(exc: Exception, scope: Any) -> None:
    """Litestar ``after_exception`` hook: count an exception that is answered as a database 503."""
    lost = exc if isinstance(exc, DatabaseUnavailable) else database_unavailable(exc)
    counter: Counter | None = getattr(scope["litestar_app"].state, STATE_KEY, None)
    if lost is not None and counter is not None:
        counter.labels("busy" if isinstance(lost, DatabaseBusy) else "unreachable").inc()
