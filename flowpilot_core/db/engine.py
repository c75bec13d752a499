"""Engines and tenant-scoped units of work.

Two connections exist: the *owner* (runs migrations) and the *application role*
(serves requests: owns no table, is no superuser, so row-level security is what
guards tenants). Every unit of work sets ``app.current_account_id`` for its
transaction with ``set_config(..., true)``, and a session event re-issues it if the
session begins another transaction. The lifecycle events a unit of work emits are
delivered after it commits (:mod:`flowpilot_core.events`).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, SessionTransaction

from flowpilot_core.config import Settings, derive_app_url, normalize_database_url
from flowpilot_core.db.embedded import start_embedded
from flowpilot_core.db.read_tx import PGBOUNCER_OPTION
from flowpilot_core.events import DISPATCHER_KEY, EventDispatcher, dispatch_committed

ACCOUNT_KEY = "account_id"
_APPLIED_KEY = "account_id_applied"
"""The account ``set_config`` was issued for in the session's current transaction (so it is issued once)."""
_SET_ACCOUNT = text("SELECT set_config('app.current_account_id', :account_id, true)")


@dataclass(frozen=True)
class DatabaseUrls:
    owner: str
    app: str
    embedded: bool


def resolve_database(settings: Settings) -> DatabaseUrls:
    """Where the database is: the configured server, or the embedded one (started on demand)."""
    embedded = settings.database_url is None
    owner = settings.database_url or normalize_database_url(start_embedded(settings.data_dir))
    app = settings.app_database_url or derive_app_url(owner, settings.app_db_role, settings.app_db_password)
    return DatabaseUrls(owner=owner, app=app, embedded=embedded)


def create_engine(url: str, *, pgbouncer: bool = False, **kwargs: Any) -> AsyncEngine:
    """An engine without a ping on every checkout (a round trip per request): connections are recycled after
    30 minutes, and a connection found dead fails its request with a retryable 503 and invalidates the pool,
    so the next request gets a fresh one.

    ``pgbouncer``: ``url`` is PgBouncer in transaction mode, where consecutive transactions of one client
    connection run on different server connections. A prepared statement then must neither be reused after its
    transaction (SQLAlchemy's and asyncpg's statement caches are off) nor collide by name with another process's
    on the same server connection (asyncpg numbers them per process, so two workers or replicas would both
    prepare ``__asyncpg_stmt_1__``; here every name is unique).
    """
    kwargs.setdefault("pool_recycle", 1800)
    # jsonb columns (a session's task lane and ticket) decoded by msgspec: several times faster than json.loads.
    kwargs.setdefault("json_deserializer", msgspec.json.decode)
    connect_args = dict(kwargs.get("connect_args", {}))
    # Every connection speaks UTC, whatever the server's default: a timestamp PostgreSQL renders itself (in
    # JSON it aggregates, a usage day) reads the same as one the driver returns.
    connect_args["server_settings"] = {"timezone": "UTC", **connect_args.get("server_settings", {})}
    if pgbouncer:
        connect_args.update(PGBOUNCER_CONNECT_ARGS)
        # Its reads then begin a transaction for every statement (flowpilot_core.db.read_tx says why).
        kwargs["execution_options"] = {**kwargs.get("execution_options", {}), PGBOUNCER_OPTION: True}
    kwargs["connect_args"] = connect_args
    return create_async_engine(url, **kwargs)


def _unique_statement_name() -> str:
    return f"__asyncpg_{uuid.uuid4().hex}__"


PGBOUNCER_CONNECT_ARGS: dict[str, Any] = {
    "statement_cache_size": 0,  # asyncpg's own cache
    "prepared_statement_cache_size": 0,  # SQLAlchemy's asyncpg adapter cache
    "prepared_statement_name_func": _unique_statement_name,
}


def create_app_engine(settings: Settings, url: str) -> AsyncEngine:
    """The server's engine (application role), pooled as the settings say. A request that finds every
    connection taken waits ``db_pool_timeout`` seconds, then is answered 503 with Retry-After instead of queueing."""
    return create_engine(
        url,
        pgbouncer=settings.database_pgbouncer,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
    )


@event.listens_for(Session, "after_begin")
def _reapply_account(session: Session, transaction: SessionTransaction, connection: Any) -> None:
    """A session that commits and begins again keeps its tenant: the setting is per transaction."""
    account_id = session.info.get(ACCOUNT_KEY)
    session.info[_APPLIED_KEY] = account_id
    if account_id is not None:
        connection.execute(_SET_ACCOUNT, {"account_id": str(account_id)})


def make_sessionmaker(
    engine: AsyncEngine, *, events: EventDispatcher | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions on ``engine``; with ``events``, their committed lifecycle events reach the plugins."""
    info = {} if events is None else {DISPATCHER_KEY: events}
    return async_sessionmaker(engine, expire_on_commit=False, info=info)


async def set_account(session: AsyncSession, account_id: uuid.UUID | str | None) -> None:
    """Scope the current (and any later) transaction of ``session`` to ``account_id``.

    One ``set_config`` per transaction: when this call is what begins the transaction, the
    ``after_begin`` listener has already issued it for ``account_id``, and it is not sent again.
    """
    wanted = None if account_id is None else str(account_id)
    session.info[ACCOUNT_KEY] = wanted
    session.info.pop(_APPLIED_KEY, None)
    await session.connection()  # begins the transaction if none is under way: after_begin applies ``wanted``
    if session.info.get(_APPLIED_KEY) != wanted or wanted is None:
        await session.execute(_SET_ACCOUNT, {"account_id": "" if wanted is None else wanted})
        session.info[_APPLIED_KEY] = wanted


@asynccontextmanager
async def tenant_session(
    sessionmaker: async_sessionmaker[AsyncSession], account_id: uuid.UUID | str
) -> AsyncIterator[AsyncSession]:
    """One transaction scoped to one account: commits on success, rolls back on error.

    Lifecycle events emitted in it are delivered after the commit; a rollback drops them.
    """
    async with sessionmaker() as session:
        async with session.begin():
            await set_account(session, account_id)
            yield session
        await dispatch_committed(session)


async def database_status(engine: AsyncEngine) -> str:
    """``"ok"``, or ``"unreachable: <error type>"``: for health checks, which report rather than raise."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # a load balancer needs an answer, whatever went wrong
        return f"unreachable: {type(exc).__name__}"
    return "ok"
