"""The database pool on /metrics: how many of this process's connections are in use, read at scrape time.

A pool whose ``in_use`` stays at its ``limit`` is where requests start waiting and then get 503 ``database-busy``.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool


class PoolCollector(Collector):
    def __init__(self, engine: AsyncEngine, *, limit: int) -> None:
        self.engine = engine
        self.limit = limit

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pool = self.engine.pool
        connections = GaugeMetricFamily(
            "flowpilot_db_pool_connections",
            "Database connections of this process's pool, by state",
            labels=("state",),
        )
        if isinstance(pool, QueuePool):
            connections.add_metric(("in_use",), pool.checkedout())
            connections.add_metric(("idle",), pool.checkedin())
        yield connections
        yield GaugeMetricFamily(
            "flowpilot_db_pool_limit",
            "Connections this process's pool may have in use at once (pool size + max overflow)",
            value=self.limit,
        )


def register_pool_metrics(registry: CollectorRegistry, engine: AsyncEngine, *, limit: int) -> None:
    registry.register(PoolCollector(engine, limit=limit))
