"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get
from sqlalchemy import text

from flowpilot_core import __version__
from flowpilot_server.deps import get_runtime


class Health(msgspec.Struct):
    status: str
    database: str
    version: str
    plugin_failures: list[str]


@get("/healthz", operation_id="health", tags=["ops"], summary="Liveness and database reachability")
async def healthz(request: Request[Any, Any, Any]) -> Response[Health]:
    runtime = get_runtime(request)
    try:
        async with runtime.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        database = "ok"
    except Exception as exc:  # report, don't raise: a load balancer needs an answer
        database = f"unreachable: {type(exc).__name__}"
    failures = [f"{f.name}: {f.error}" for f in runtime.plugin_failures]
    ok = database == "ok"
    return Response(
        Health(status="ok" if ok else "degraded", database=database, version=__version__, plugin_failures=failures),
        status_code=200 if ok else 503,
    )
