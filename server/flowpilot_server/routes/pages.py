"""The /pilot surface, the embed loader, static assets, and the /assistant redirects."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from litestar import Request, Response, get, route
from litestar.enums import HttpMethod
from litestar.params import FromPath
from litestar.response import Redirect

from flowpilot_core.accounts.accounts import embedding_origins
from flowpilot_server.deps import get_runtime
from flowpilot_server.static_assets import versioned_html

_GET_HEAD = [HttpMethod.GET, HttpMethod.HEAD]

_STATIC_FALLBACK = Path(__file__).resolve().parents[3] / "embed" / "flowpilot_embed" / "static"


def static_dir() -> Path:
    try:
        from flowpilot_embed import STATIC_DIR

        return Path(STATIC_DIR)
    except ImportError:  # running from a checkout before the embed package exists
        return _STATIC_FALLBACK


PAGE_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}
"""What every HTML page FlowPilot serves sends besides its Content-Security-Policy."""


def content_security_policy(frame_ancestors: list[str]) -> str:
    ancestors = " ".join(["'self'", *frame_ancestors])
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        f"font-src 'self'; frame-ancestors {ancestors}; base-uri 'none'; object-src 'none'; form-action 'self'"
    )


async def _allowed_origins(request: Request[Any, Any, Any]) -> list[str]:
    """The account's embedding origins, when the loader names the account (``?account=``)."""
    raw = request.query_params.get("account")
    if not raw:
        return []
    try:
        account_id = uuid.UUID(raw)
    except ValueError:
        return []
    return await embedding_origins(get_runtime(request).sessionmaker, account_id)


async def _pilot_page(request: Request[Any, Any, Any]) -> Response[bytes]:
    html = versioned_html((static_dir() / "pilot.html").read_bytes(), request.app.state.static_version)
    return Response(
        html,
        media_type="text/html",  # Litestar adds "; charset=utf-8" to text/* types
        headers={"Content-Security-Policy": content_security_policy(await _allowed_origins(request)), **PAGE_HEADERS},
    )


@route(["/pilot", "/pilot/"], http_method=_GET_HEAD, include_in_schema=False)
async def pilot(request: Request[Any, Any, Any]) -> Response[bytes]:
    return await _pilot_page(request)


@route("/pilot/{session_id:str}", http_method=_GET_HEAD, include_in_schema=False)
async def pilot_session(request: Request[Any, Any, Any], session_id: FromPath[str]) -> Response[bytes]:
    return await _pilot_page(request)


def _to_pilot(request: Request[Any, Any, Any]) -> Redirect:
    target = "/pilot" + request.url.path.removeprefix("/assistant")
    if request.url.query:
        target += "?" + request.url.query
    return Redirect(target, status_code=308)


@get(["/assistant", "/assistant/"], include_in_schema=False)
async def assistant(request: Request[Any, Any, Any]) -> Redirect:
    return _to_pilot(request)


@get("/assistant/{rest:path}", include_in_schema=False)
async def assistant_deep(request: Request[Any, Any, Any], rest: FromPath[Path]) -> Redirect:
    return _to_pilot(request)


@route("/embed.js", http_method=_GET_HEAD, include_in_schema=False)
async def embed_js() -> Response[bytes]:
    # A plain response, not a File: a file download would add a content-disposition header a script has no use for.
    return Response(
        (static_dir() / "embed.js").read_bytes(),
        media_type="text/javascript",
        headers={
            "Cache-Control": "public, max-age=300",
            "Access-Control-Allow-Origin": "*",
            "X-Content-Type-Options": "nosniff",
        },
    )


@get("/", include_in_schema=False)
async def root() -> Redirect:
    return Redirect("/pilot", status_code=302)


async def static_security_headers(response: Any) -> Any:
    """Static HTML (the design-system gallery, the host-portal page) gets the same strict CSP as /pilot."""
    headers = response.headers
    if "x-content-type-options" not in headers:
        headers["X-Content-Type-Options"] = "nosniff"
    if str(headers.get("content-type", "")).startswith("text/html") and "content-security-policy" not in headers:
        headers["Content-Security-Policy"] = content_security_policy([])
    return response
