"""Per-request dependencies: one transaction per request, scoped to the caller's account."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from flowpilot_core.accounts.accounts import (
    API_KEY_PREFIX,
    Principal,
    api_key_account,
    authenticate,
    check_api_key,
    known_principal,
    stored_principal,
    touch_api_key,
)
from flowpilot_core.accounts.embed_tokens import unverified_account_id
from flowpilot_core.db.read_tx import ReadTransaction, read_transaction
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


@dataclass
class ReadContext:
    """What a read-only handler works with: reads scoped to the caller's account (``db``), the caller, the runtime."""

    db: ReadTransaction
    principal: Principal
    runtime: FlowPilot


async def provide_reader(request: Request[Any, Any, Any]) -> AsyncGenerator[ReadContext, None]:
    """Authenticate, then hold the request's reads, scoped to the caller's account, on one pooled connection
    (:mod:`flowpilot_core.db.read_tx`: each ``GET`` reads with one statement, one round trip).

    An embed token this process verified a moment ago costs no query; one it has not seen is verified by one
    query on the same connection, and only a technician who must be stored (new, renamed, not seen for a while)
    costs a unit of work first. An API key is checked by one query on the same connection; its ``last_used_at``
    is written, in a unit of work of its own, at most every few minutes.
    """
    runtime = get_runtime(request)
    token = bearer_token(request)
    if token.startswith(API_KEY_PREFIX):
        async with read_transaction(runtime.engine, api_key_account(token)) as tx:
            principal, stale = await check_api_key(tx, token)
            yield ReadContext(db=tx, principal=principal, runtime=runtime)
        if stale and principal.api_key_id is not None:
            async with runtime.sessionmaker() as db, db.begin():
                await touch_api_key(db, principal.api_key_id)
        return
    known = known_principal(token)
    if known is None:
        async with read_transaction(runtime.engine, unverified_account_id(token)) as tx:
            known = await stored_principal(tx, token, runtime.secret_key)
            if known is not None:
                yield ReadContext(db=tx, principal=known, runtime=runtime)
                return
        async with runtime.sessionmaker() as db, db.begin():
            known = await authenticate(db, token, runtime.secret_key)
    async with read_transaction(runtime.engine, known.account_id) as tx:
        yield ReadContext(db=tx, principal=known, runtime=runtime)


Reads = NamedDependency[ReadContext]
"""How a read-only handler asks for its :class:`ReadContext` (injected as ``reads``)."""


def require_api_key(ctx: RequestContext | ReadContext) -> None:
    if ctx.principal.via != "api_key":
        raise Forbidden("this endpoint is for server-to-server calls with an API key, not for embed tokens")


@dataclass
class Caller:
    """The authenticated caller, without a request-long transaction: for handlers whose
    work runs in its own short transactions around a model call (chat turns, answers)."""

    principal: Principal
    runtime: FlowPilot


async def provide_caller(request: Request[Any, Any, Any]) -> Caller:
    """The caller: an embed token this process verified a moment ago costs no query."""
    runtime = get_runtime(request)
    token = bearer_token(request)
    principal = known_principal(token)
    if principal is None:
        async with runtime.sessionmaker() as db, db.begin():
            principal = await authenticate(db, token, runtime.secret_key)
    return Caller(principal=principal, runtime=runtime)


CallerDep = NamedDependency[Caller]
"""How a handler asks for a :class:`Caller` (injected as ``caller``)."""
