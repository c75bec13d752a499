"""Reads on the pool (``read_transaction``) as the application role: statements alone and in a transaction.

What must hold: a tenant sees only its rows, whichever way a statement runs; nothing can be written; a
statement run alone leaves no scope behind; and a connection goes back to the pool outside any
transaction, whatever happened in the read (an error, a cancellation, a dead connection), so the next
request never runs inside another tenant's scope.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from flowpilot_core.db.engine import DatabaseUrls, create_engine, tenant_session
from flowpilot_core.db.errors import connection_lost
from flowpilot_core.db.models import Account, AiSession
from flowpilot_core.db.read_tx import ReadTransaction, read_transaction, scoped_alone
from flowpilot_core.db.rows import compile_statement, fetch_all
from tests.conftest import Tenant

TITLES = select(AiSession.title).order_by(AiSession.title)
"""No ``account_id`` parameter: runs in the read's transaction."""
TITLES_ALONE = select(AiSession.title).where(AiSession.account_id == bindparam("account_id")).order_by(AiSession.title)
"""Runs alone, scoped in its own statement."""
BACKEND_PID = select(func.pg_backend_pid()).where(Account.id == bindparam("account_id"))
"""The server process of the connection a statement run alone used."""
SLOW = select(func.pg_sleep(5)).where(Account.id == bindparam("account_id"))


@pytest.fixture
async def engine(db_urls: DatabaseUrls) -> AsyncIterator[AsyncEngine]:
    """One pooled connection, so every read reuses the connection the previous one gave back."""
    engine = create_engine(db_urls.app, pool_size=1, max_overflow=0, pool_timeout=5)
    yield engine
    await engine.dispose()


async def _seed(sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant, title: str) -> None:
    async with tenant_session(sessionmaker, tenant.account_id) as db:
        db.add(AiSession(account_id=tenant.account_id, title=title, problem_statement="p"))


async def _titles(engine: AsyncEngine, tenant: Tenant, alone: bool = False) -> list[str]:
    async with read_transaction(engine, tenant.account_id) as tx:
        if alone:
            return [row["title"] for row in await fetch_all(tx, TITLES_ALONE, {"account_id": tenant.account_id})]
        return [row["title"] for row in await fetch_all(tx, TITLES, {})]


async def _pid(tx: ReadTransaction) -> int:
    rows = await fetch_all(tx, BACKEND_PID, {"account_id": tx.account_id})
    assert len(rows) == 1  # run alone and scoped: the account's own row
    return int(rows[0][0])


@pytest.mark.parametrize("alone", [False, True], ids=["in a transaction", "alone"])
async def test_a_tenant_reads_only_its_rows(
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    tenant: Tenant,
    other_tenant: Tenant,
    alone: bool,
) -> None:
    await _seed(sessionmaker, tenant, "a-secret")
    await _seed(sessionmaker, other_tenant, "b-own")
    assert await _titles(engine, tenant, alone) == ["a-secret"]
    assert await _titles(engine, other_tenant, alone) == ["b-own"]  # the same pooled connection, re-scoped


async def test_a_statement_run_alone_takes_its_scope_from_the_read_and_leaves_none_behind(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant, other_tenant: Tenant
) -> None:
    """The scope lasts for the statement only: the pool's one connection, asked right after, is unscoped.
    A statement naming another account than the read's is scoped to the read's all the same: it finds nothing."""
    await _seed(sessionmaker, other_tenant, "b-row")
    async with read_transaction(engine, other_tenant.account_id) as tx:
        assert [row["title"] for row in await fetch_all(tx, TITLES_ALONE, {"account_id": other_tenant.account_id})]
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT current_setting('app.current_account_id', true)"))).scalar() in (
            "",
            None,
        )
        assert (await conn.execute(text("SELECT count(*) FROM ai_sessions"))).scalar() == 0
    async with read_transaction(engine, tenant.account_id) as tx:
        assert await fetch_all(tx, TITLES_ALONE, {"account_id": other_tenant.account_id}) == []


def test_only_a_statement_with_an_account_parameter_used_as_a_uuid_runs_alone() -> None:
    assert compile_statement(TITLES).alone is None
    alone = compile_statement(TITLES_ALONE).alone
    assert alone is not None and alone[1] == 0
    assert "FROM set_config('app.current_account_id', $1::uuid::text, true) AS scope(account_id)" in alone[0]
    assert "WHERE scope.account_id IS NOT NULL OFFSET 0" in alone[0]  # the statement depends on the scope
    assert scoped_alone("SELECT 1 WHERE $1::TEXT = 'x'", ("account_id",)) is None  # not a uuid here
    assert scoped_alone("SELECT 1 WHERE $1::UUID = $1", ("account_id",)) is None  # not only as a uuid
    assert scoped_alone("SELECT $10::UUID", ("account_id",) + ("p",) * 9) is None  # $10 is not $1
    assert scoped_alone("SELECT $10::UUID", ("p",) * 9 + ("account_id",)) is not None


async def test_a_read_transaction_cannot_write(engine: AsyncEngine, tenant: Tenant) -> None:
    with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
        async with read_transaction(engine, tenant.account_id) as tx:
            await (await tx.begin()).execute("UPDATE ai_sessions SET title = 'changed'")
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


@pytest.mark.parametrize("alone", [False, True], ids=["in a transaction", "alone"])
async def test_a_cancelled_read_never_returns_its_connection_inside_the_transaction(
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    tenant: Tenant,
    other_tenant: Tenant,
    alone: bool,
) -> None:
    """A client that goes away cancels its request mid-query: that connection is closed, not reused."""
    await _seed(sessionmaker, tenant, "a-row")

    async def slow_read() -> None:
        async with read_transaction(engine, tenant.account_id) as tx:
            if alone:
                await fetch_all(tx, SLOW, {"account_id": tenant.account_id})
            else:
                await (await tx.begin()).execute("SELECT pg_sleep(5)")

    task = asyncio.create_task(slow_read())
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The pool's only connection: if it came back inside tenant A's scope, B would see A's row.
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
    for alone in (False, True):
        async with read_transaction(engine, tenant.account_id) as tx:
            pid = await _pid(tx)
        await _terminate(db_urls, pid)
        await asyncio.sleep(0.2)
        async with read_transaction(engine, tenant.account_id) as tx:
            if alone:
                titles = await fetch_all(tx, TITLES_ALONE, {"account_id": tenant.account_id})
            else:
                titles = await fetch_all(tx, TITLES, {})
            assert [row["title"] for row in titles] == ["still here"]
            assert (await tx.begin()).get_server_pid() != pid


async def test_a_connection_lost_during_a_read_is_a_disconnection_and_the_pool_recovers(
    engine: AsyncEngine, db_urls: DatabaseUrls, tenant: Tenant
) -> None:
    """Lost after the read began: a DisconnectionError (the server's retryable 503), never a 500."""
    for alone in (False, True):
        with pytest.raises(DisconnectionError) as raised:
            async with read_transaction(engine, tenant.account_id) as tx:
                await _terminate(db_urls, await _pid(tx))
                await asyncio.sleep(0.2)
                if alone:
                    await fetch_all(tx, TITLES_ALONE, {"account_id": tenant.account_id})
                else:
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
            first = await _pid(tx)  # alone: no transaction to end
        async with read_transaction(engine, tenant.account_id) as tx:
            assert await _pid(tx) == first  # returned and reused
            begun = await tx.begin()
        async with read_transaction(engine, tenant.account_id) as tx:
            assert await tx.begin() is begun  # committed, returned and reused
        async with read_transaction(engine, tenant.account_id) as outer:
            outer_connection = await outer.begin()
            async with read_transaction(engine, tenant.account_id) as inner:
                inner_connection = await inner.begin()
                assert inner_connection is not outer_connection
                assert pool.overflow() == 1  # type: ignore[attr-defined]
            assert pool.checkedin() == 1  # type: ignore[attr-defined]  # the inner one took the free place
        # the outer one found no room: closed, not kept
        assert (pool.checkedin(), pool.overflow()) == (1, 0)  # type: ignore[attr-defined]
        assert outer_connection.is_closed() != inner_connection.is_closed()
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
