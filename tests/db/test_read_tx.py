"""Read-only transactions on the pool (``read_transaction``) as the application role.

What must hold: a tenant sees only its rows; nothing can be written; and a connection goes back to
the pool outside any transaction, whatever happened in the read (an error, a cancellation, a dead
connection), so the next request never runs inside another tenant's scope.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from flowpilot_core.db.engine import DatabaseUrls, create_engine, tenant_session
from flowpilot_core.db.errors import connection_lost
from flowpilot_core.db.models import AiSession
from flowpilot_core.db.read_tx import read_transaction
from flowpilot_core.db.rows import compile_statement, fetch_all
from tests.conftest import Tenant

TITLES = select(AiSession.title).order_by(AiSession.title)


@pytest.fixture
async def engine(db_urls: DatabaseUrls) -> AsyncIterator[AsyncEngine]:
    """One pooled connection, so every read reuses the connection the previous one gave back."""
    engine = create_engine(db_urls.app, pool_size=1, max_overflow=0, pool_timeout=5)
    yield engine
    await engine.dispose()


async def _seed(sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant, title: str) -> None:
    async with tenant_session(sessionmaker, tenant.account_id) as db:
        db.add(AiSession(account_id=tenant.account_id, title=title, problem_statement="p"))


async def _titles(engine: AsyncEngine, tenant: Tenant) -> list[str]:
    async with read_transaction(engine, tenant.account_id) as tx:
        return [row["title"] for row in await fetch_all(tx, TITLES, {})]


async def test_a_tenant_reads_only_its_rows(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant, other_tenant: Tenant
) -> None:
    await _seed(sessionmaker, tenant, "a-secret")
    await _seed(sessionmaker, other_tenant, "b-own")
    assert await _titles(engine, tenant) == ["a-secret"]
    assert await _titles(engine, other_tenant) == ["b-own"]  # the same pooled connection, re-scoped


async def test_a_read_transaction_cannot_write(engine: AsyncEngine, tenant: Tenant) -> None:
    with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
        async with read_transaction(engine, tenant.account_id) as tx:
            await tx.connection.execute("UPDATE ai_sessions SET title = 'changed'")
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert not raw.is_in_transaction()  # rolled back before it went back to the pool


async def test_an_error_in_the_read_leaves_the_connection_clean(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant, other_tenant: Tenant
) -> None:
    await _seed(sessionmaker, other_tenant, "b-only")
    with pytest.raises(LookupError):
        async with read_transaction(engine, tenant.account_id):
            raise LookupError("a handler's 404")
    assert await _titles(engine, other_tenant) == ["b-only"]
    assert await _titles(engine, tenant) == []


async def test_a_cancelled_read_never_returns_its_connection_inside_the_transaction(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant, other_tenant: Tenant
) -> None:
    """A client that goes away cancels its request mid-query: that connection is closed, not reused."""
    await _seed(sessionmaker, tenant, "a-row")

    async def slow_read() -> None:
        async with read_transaction(engine, tenant.account_id) as tx:
            await tx.connection.execute("SELECT pg_sleep(5)")

    task = asyncio.create_task(slow_read())
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The pool's only connection: if it came back inside tenant A's transaction, B would see A's row.
    assert await asyncio.wait_for(_titles(engine, other_tenant), 10) == []
    assert await _titles(engine, tenant) == ["a-row"]


async def _terminate(db_urls: DatabaseUrls, pid: int) -> None:
    admin = await asyncpg.connect(db_urls.owner.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


async def test_a_pooled_connection_found_dead_is_replaced_before_the_read_begins(
    engine: AsyncEngine, db_urls: DatabaseUrls, sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    """The pool has no ping on checkout: a connection the server closed while it idled is discarded and the
    read begins on a fresh one, and the caller never sees the dead one."""
    await _seed(sessionmaker, tenant, "still here")
    async with read_transaction(engine, tenant.account_id) as tx:
        pid = tx.connection.get_server_pid()
    await _terminate(db_urls, pid)
    await asyncio.sleep(0.2)
    async with read_transaction(engine, tenant.account_id) as tx:
        assert tx.connection.get_server_pid() != pid
        assert [row["title"] for row in await fetch_all(tx, TITLES, {})] == ["still here"]


async def test_a_connection_lost_during_a_read_is_a_disconnection_and_the_pool_recovers(
    engine: AsyncEngine, db_urls: DatabaseUrls, tenant: Tenant
) -> None:
    """Lost after the read began: a DisconnectionError (the server's retryable 503), never a 500."""
    with pytest.raises(DisconnectionError) as raised:
        async with read_transaction(engine, tenant.account_id) as tx:
            await _terminate(db_urls, tx.connection.get_server_pid())
            await asyncio.sleep(0.2)
            await fetch_all(tx, TITLES, {})
    assert connection_lost(raised.value)
    assert await _titles(engine, tenant) == []  # a fresh connection


async def test_committed_reads_reuse_their_connection_and_close_one_the_pool_has_no_room_for(
    db_urls: DatabaseUrls, tenant: Tenant
) -> None:
    """A committed read's connection goes back to the pool in place; one beyond ``pool_size`` is closed (I/O,
    so from a greenlet): either way the pool ends with ``pool_size`` connections and no overflow."""
    engine = create_engine(db_urls.app, pool_size=1, max_overflow=1, pool_timeout=5)
    pool = engine.sync_engine.pool
    try:
        async with read_transaction(engine, tenant.account_id) as tx:
            first = tx.connection
        async with read_transaction(engine, tenant.account_id) as tx:
            assert tx.connection is first  # returned and reused
        async with read_transaction(engine, tenant.account_id) as outer:
            async with read_transaction(engine, tenant.account_id) as inner:
                assert inner.connection is not outer.connection
                assert pool.overflow() == 1  # type: ignore[attr-defined]
            assert pool.checkedin() == 1  # type: ignore[attr-defined]  # the inner one took the free place
        # the outer one found no room: closed, not kept
        assert (pool.checkedin(), pool.overflow()) == (1, 0)  # type: ignore[attr-defined]
        assert outer.connection.is_closed() != inner.connection.is_closed()
        assert await _titles(engine, tenant) == []
    finally:
        await engine.dispose()


async def test_only_an_account_uuid_is_formatted_into_sql(engine: AsyncEngine) -> None:
    with pytest.raises(TypeError, match="uuid"):
        async with read_transaction(engine, "x'; DROP TABLE ai_sessions; --"):  # type: ignore[arg-type]
            pass


def test_statements_the_driver_alone_cannot_run_faithfully_are_refused() -> None:
    with pytest.raises(TypeError, match="IN"):
        compile_statement(select(AiSession.id).where(AiSession.id.in_(bindparam("ids", expanding=True))))
    compiled = compile_statement(select(AiSession.id).where(AiSession.title == bindparam("t")).limit(5))
    assert compiled.names == ("t", "param_1") and compiled.arguments({"t": "x"}) == ["x", 5]
    with pytest.raises(TypeError, match="needs the parameter"):
        compiled.arguments({})


async def test_a_read_on_a_session_sees_its_own_uncommitted_writes(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    """On a unit of work's session the hot reads run in its transaction (a write, then the read of it)."""
    async with tenant_session(sessionmaker, tenant.account_id) as db:
        db.add(AiSession(account_id=tenant.account_id, title="just written", problem_statement="p"))
        await db.flush()
        assert [row["title"] for row in await fetch_all(db, TITLES, {})] == ["just written"]
        await db.execute(text("SELECT 1"))  # the session still works after the driver was used under it
