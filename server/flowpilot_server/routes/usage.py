"""AI usage and cost for the caller's account, and Prometheus metrics for operators."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.params import Parameter
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from flowpilot_core.errors import Forbidden
from flowpilot_core.usage import UsageReport, usage_report
from flowpilot_server.deps import Ctx, get_runtime


@get(
    "/api/v1/usage",
    operation_id="getUsage",
    tags=["usage"],
    summary="AI usage by day, session, service and model, with what prompt caching saved; MSP admins only",
    description=(
        "The account's AI cost is for its MSP admins: an API key, or an embed token minted with "
        "`role: admin`. A technician's token is a 403. Days are UTC days."
    ),
)
async def get_usage(
    ctx: Ctx,
    since: Annotated[date | None, Parameter(description="first day (default: 29 days before until)")] = None,
    until: Annotated[date | None, Parameter(description="last day (default: today)")] = None,
) -> UsageReport:
    if not ctx.principal.is_admin:
        raise Forbidden(
            "usage and cost are for the account's MSP admins: use an API key, or an embed token minted with role admin"
        )
    return await usage_report(ctx.db, ctx.principal.account_id, since, until)


_METRICS_MEDIA_TYPE = CONTENT_TYPE_LATEST.removesuffix("; charset=utf-8")  # Litestar appends the charset itself


@get(
    "/metrics",
    operation_id="metrics",
    tags=["ops"],
    summary="Prometheus metrics (no tenant data)",
    include_in_schema=True,
    media_type=_METRICS_MEDIA_TYPE,
)
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    return Response(generate_latest(get_runtime(request).metrics.registry), media_type=_METRICS_MEDIA_TYPE)
