"""Liveness (``/livez``: the process answers) and readiness (``/healthz``: it can reach the database)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.openapi import ResponseSpec

from flowpilot_core import __version__
from flowpilot_core.db.engine import database_status
from flowpilot_server.deps import get_runtime


class Health(msgspec.Struct):
    status: str
    database: str
    version: str
    plugin_failures: list[str]


@get(
    "/healthz",
    operation_id="health",
    tags=["ops"],
    summary="Liveness and database reachability",
    responses={503: ResponseSpec(Health, description="The database cannot be reached (status: degraded)")},
)
async def healthz(request: Request[Any, Any, Any]) -> Response[Health]:
    runtime = get_runtime(request)
    database = await database_status(runtime.engine)
    failures = [f"{f.name}: {f.error}" for f in runtime.plugin_failures]
    ok = database == "ok"
    return Response(
        Health(status="ok" if ok else "degraded", database=database, version=__version__, plugin_failures=failures),
        status_code=200 if ok else 503,
    )


class Liveness(msgspec.Struct):
    status: str
    version: str


@get("/livez", operation_id="liveness", tags=["ops"], summary="The process answers (no database check)")
async def livez() -> Liveness:
    """For a liveness probe: 200 while the process serves requests, whatever the database's state. A replica
    whose database is unreachable is taken out of rotation by ``/healthz`` (503) but not restarted by this."""
    return Liveness(status="ok", version=__version__)
