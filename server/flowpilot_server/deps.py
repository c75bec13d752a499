"""Per-request dependencies: one transaction per request, scoped to the caller's account."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from flowpilot_core.accounts.accounts import Principal, authenticate
from flowpilot_core.errors import AuthenticationFailed, Forbidden
from flowpilot_core.events import dispatch_committed
from flowpilot_core.library import FlowPilot


@dataclass
class RequestContext:
    """What a handler works with: the request's transaction, the caller, the runtime."""

    db: AsyncSession
    principal: Principal
    runtime: FlowPilot


Ctx = NamedDependency[RequestContext]
"""How a handler asks for its :class:`RequestContext` (injected as ``ctx``)."""


def get_runtime(request: Request[Any, Any, Any]) -> FlowPilot:
    runtime: FlowPilot = request.app.state.runtime
    return runtime


def bearer_token(request: Request[Any, Any, Any]) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise AuthenticationFailed(
            "missing Authorization header: send 'Authorization: Bearer <API key or embed token>'"
        )
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("the Authorization header must be 'Bearer <API key or embed token>'")
    return token.strip()


async def provide_ctx(request: Request[Any, Any, Any]) -> AsyncGenerator[RequestContext, None]:
    """Authenticate, then hold one transaction for the whole request: committed on success,
    rolled back when the handler raises, so a failure half-way leaves nothing behind.
    The request's lifecycle events reach the plugins once the commit succeeded."""
    runtime = get_runtime(request)
    token = bearer_token(request)
    async with runtime.sessionmaker() as db:
        async with db.begin():
            principal = await authenticate(db, token, runtime.secret_key)
            yield RequestContext(db=db, principal=principal, runtime=runtime)
        await dispatch_committed(db)


def require_api_key(ctx: RequestContext) -> None:
    if ctx.principal.via != "api_key":
        raise Forbidden("this endpoint is for server-to-server calls with an API key, not for embed tokens")


@dataclass
class Caller:
    """The authenticated caller, without a request-long transaction: for handlers whose
    work runs in its own short transactions around a model call (chat turns, answers)."""

    principal: Principal
    runtime: FlowPilot


async def provide_caller(request: Request[Any, Any, Any]) -> Caller:
    runtime = get_runtime(request)
    token = bearer_token(request)
    async with runtime.sessionmaker() as db, db.begin():
        principal = await authenticate(db, token, runtime.secret_key)
    return Caller(principal=principal, runtime=runtime)


CallerDep = NamedDependency[Caller]
"""How a handler asks for a :class:`Caller` (injected as ``caller``)."""
