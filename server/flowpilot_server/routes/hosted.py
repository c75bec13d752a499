"""FlowPilot hosted inside a PSA's own screens: the ConnectWise pod page and its member-to-token exchange."""

from __future__ import annotations

import contextlib
import html
import json
import uuid
from typing import Any

from litestar import Request, Response, post, route
from litestar.enums import HttpMethod
from litestar.params import JSONBody

from flowpilot_core.accounts.accounts import embedding_origins
from flowpilot_core.psa.hosted import HostedToken, HostedTokenRequest, mint_for_hosted_member
from flowpilot_server.deps import get_runtime
from flowpilot_server.routes.pages import PAGE_HEADERS, content_security_policy, static_dir
from flowpilot_server.static_assets import versioned_html

CONNECTWISE = "connectwise"


@post(
    "/api/v1/embed/connectwise-pod/token",
    operation_id="mintConnectWisePodToken",
    tags=["account"],
    status_code=201,
    security=[],
    summary="Exchange a ConnectWise pod's member authentication for an embed token",
    description=(
        "No bearer token: the caller is FlowPilot's pod page inside ConnectWise. The body carries what "
        "ConnectWise's Hosted API answered `getMemberAuthentication` (and `getScreenObject`); FlowPilot asks "
        "ConnectWise, through the account's ConnectWise connection, to confirm the member's session before it "
        "mints a short-lived embed token for that member, opened on the ticket on screen. Anything "
        "ConnectWise does not confirm is a 401."
    ),
)
async def connectwise_pod_token(request: Request[Any, Any, Any], data: JSONBody[HostedTokenRequest]) -> HostedToken:
    runtime = get_runtime(request)
    return await mint_for_hosted_member(
        runtime.sessionmaker,
        data,
        provider=CONNECTWISE,
        secret_key=runtime.secret_key,
        providers=runtime.plugins.psa_providers,
    )


@route("/connectwise-pod", http_method=[HttpMethod.GET, HttpMethod.HEAD], include_in_schema=False)
async def connectwise_pod_page(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The page a ConnectWise pod frames (``/connectwise-pod?account=<id>``), framable by the account's origins."""
    origins: list[str] = []  # no account named: the page says so, and no origin may frame it
    with contextlib.suppress(KeyError, ValueError):
        origins = await embedding_origins(get_runtime(request).sessionmaker, uuid.UUID(request.query_params["account"]))
    page = (static_dir() / "connectwise-pod.html").read_text(encoding="utf-8")
    page = page.replace("__PARENT_ORIGINS__", html.escape(json.dumps(origins), quote=True))
    return Response(
        versioned_html(page.encode(), request.app.state.static_version),
        media_type="text/html",
        headers={"Content-Security-Policy": content_security_policy(origins), **PAGE_HEADERS},
    )
