"""Reads for one account on the engine's pool, driven through asyncpg directly.

A ``GET`` needs no ORM session: it reads rows into structs (:mod:`flowpilot_core.db.rows`). An
``AsyncSession`` around those reads costs more than the reads (its begin, its ``after_begin``
listener, its commit, each a greenlet switch through SQLAlchemy's execution machinery), so
:func:`read_transaction` takes a connection from the same pool (its size, its timeout and so its
503 ``database-busy``, its metrics) and speaks to asyncpg itself. A statement runs in one of two ways:

- **alone**, in one round trip: the statement scoped to the account by itself, in the implicit
  transaction PostgreSQL gives a single statement (:func:`scoped_alone`). Every ``GET`` of the server
  reads with one statement, so this is how they read.
- **in the read's transaction**, once :meth:`ReadTransaction.begin` began it (or a statement that
  cannot be scoped alone asked for it): ``BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
  SELECT set_config(...)`` as one simple query, the statements, ``COMMIT``. Repeatable read gives every
  statement the same snapshot; read only makes a write an error, not a surprise. Behind PgBouncer every
  read begins so: asyncpg's statement cache is off there, so a statement is prepared and then run in
  two round trips, which must fall in one transaction to reach the same server connection.

The account id is a :class:`uuid.UUID`; in the transaction's ``BEGIN`` it is formatted by this process,
never text a caller sent.

A connection is never returned to the pool inside a transaction: a failed read is rolled back, and
a connection that could not be (broken, or left mid-query by a cancellation) is invalidated, so it
is closed instead of reused. A read that finds its pooled connection dead at its first statement (the
pool has no ping on checkout) runs it again once on another; a connection lost later is a
``DisconnectionError``, which the server answers with a retryable 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection, QueuePool
from sqlalchemy.util import greenlet_spawn

from flowpilot_core.db.errors import connection_lost

PGBOUNCER_OPTION = "flowpilot_pgbouncer"
"""The engine execution option :func:`~flowpilot_core.db.engine.create_engine` sets behind PgBouncer."""

_BEGIN = (
    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT set_config('app.current_account_id', '{account_id}', true)"
)
"""Whether a read's plan may go parallel is the tables' to say (``parallel_workers = 0`` on those a request
reads, migration 0011), not the transaction's: that holds for a statement run alone too."""

_SCOPED = (
    "SELECT scoped.* FROM set_config('app.current_account_id', ${position}::uuid::text, true) AS scope(account_id) "
    "CROSS JOIN LATERAL (SELECT * FROM ({statement}) AS statement WHERE scope.account_id IS NOT NULL OFFSET 0) "
    "AS scoped"
)

_R = TypeVar("_R")


def scoped_alone(sql: str, names: Sequence[str]) -> tuple[str, int] | None:
    """``sql`` (asyncpg's, ``$n`` placeholders named ``names``) wrapped to scope itself to its ``account_id``
    parameter in one statement, with that parameter's index in ``names``; ``None`` if it has no such parameter.

    The tenant policy reads ``app.current_account_id``, and PostgreSQL promises no order among the parts of
    one statement, except where one needs another's value. So the parameter is set by a ``set_config`` in
    ``FROM``, and the statement runs in a ``LATERAL`` subquery whose ``WHERE`` reads that ``set_config``'s
    result: a lateral subquery runs once per row of what it depends on, after it (``OFFSET 0`` keeps the
    planner from merging the subquery into the outer join, where the order would be its choice again). The
    statement itself is unchanged, so the planner sees the account as before and plans it as it did inside a
    transaction. (Taking the account from the ``set_config`` row inside the statement instead hides it from
    the planner: generic plans that guessed one row per account, and a search of 10,000 sessions that went
    from 0.3 to 2.6 ms.) An earlier design, ``set_config`` in a ``MATERIALIZED`` CTE beside the statement,
    found nothing: the planner derived ``$2 = current_setting(...)`` from the statement's ``account_id = $2``
    and the policy, and checked it first, as a one-time filter of the whole statement; inside the lateral
    subquery that filter is the subquery's own, checked when it runs. ``set_config(..., true)`` lasts until
    the implicit transaction ends with the statement.

    The rows come in the statement's own order: one scope row, and its lateral rows as the statement
    returns them.
    """
    if "account_id" not in names:
        return None
    position = names.index("account_id") + 1
    # asyncpg's placeholders carry the bind's cast (``$2::UUID``); ``$2::UUID`` is no prefix of ``$20::UUID``.
    placeholder = re.compile(rf"\${position}::UUID(?![0-9A-Za-z_])")
    if not placeholder.search(sql) or re.search(rf"\${position}(?![0-9])", placeholder.sub("", sql)):
        return None  # the parameter is used other than as a uuid: leave the statement to a transaction
    return _SCOPED.format(position=position, statement=sql), position - 1


class ReadTransaction:
    """Reads scoped to ``account_id`` on one pooled connection: each statement alone, or, once :meth:`begin`
    was awaited, all in one read-only transaction (:mod:`flowpilot_core.db.read_tx`)."""

    __slots__ = ("_alone", "_began", "_connection", "_pooled", "_released", "_used", "account_id", "engine")

    def __init__(self, engine: AsyncEngine, account_id: uuid.UUID, pooled: PoolProxiedConnection) -> None:
        self.engine = engine
        self.account_id = account_id
        self._pooled = pooled
        self._connection: asyncpg.Connection = pooled.driver_connection
        self._alone = not engine.sync_engine.get_execution_options().get(PGBOUNCER_OPTION, False)
        self._began = False
        self._used = False  # a statement reached the server on this connection: no retry on another
        self._released = False  # the connection went back to the pool (a dead one, its replacement not had)

    async def begin(self) -> asyncpg.Connection:
        """Begin the read's transaction, if it has not begun: the statements after it share one snapshot, and
        the connection returned is inside it (for a statement :mod:`~flowpilot_core.db.rows` does not build)."""
        if not self._began:
            await self._run(lambda connection: connection.execute(_BEGIN.format(account_id=self.account_id)))
            self._began = True
        return self._connection

    async def fetch(self, sql: str, args: Sequence[Any], alone: tuple[str, int] | None = None) -> list[asyncpg.Record]:
        """The rows of ``sql``; run alone as ``alone`` (:func:`scoped_alone`) while no transaction has begun."""
        statement = self._alone_form(alone, args)
        if statement is None:
            connection = await self.begin()
            return await connection.fetch(sql, *args)
        return await self._run(lambda connection: connection.fetch(statement, *args))

    async def fetchrow(
        self, sql: str, args: Sequence[Any], alone: tuple[str, int] | None = None
    ) -> asyncpg.Record | None:
        """The first row of ``sql``, or ``None``; as :meth:`fetch`."""
        statement = self._alone_form(alone, args)
        if statement is None:
            connection = await self.begin()
            return await connection.fetchrow(sql, *args)
        return await self._run(lambda connection: connection.fetchrow(statement, *args))

    def _alone_form(self, alone: tuple[str, int] | None, args: Sequence[Any]) -> str | None:
        # A statement naming another account than the read's runs in the transaction, scoped to the read's
        # account, and so finds nothing, as it always has: the scope is the read's, never a statement's.
        if self._began or not self._alone or alone is None or args[alone[1]] != self.account_id:
            return None
        return alone[0]

    async def _run(self, call: Callable[[asyncpg.Connection], Awaitable[_R]]) -> _R:
        """``call`` on the connection; the read's first statement, if the pooled connection turns out dead,
        once more on a fresh one (nothing has been read yet, so running it again is safe). A later statement
        is never run again: inside a transaction, a fresh connection would be outside it."""
        if self._used:
            return await call(self._connection)
        self._used = True
        try:
            return await call(self._connection)
        except Exception as exc:
            if not _driver_failure(exc):
                raise
        await _release(self._pooled, discard=True)  # first: it may hold the pool's last place
        self._released = True
        self._pooled = await _checkout(self.engine)
        self._connection, self._released = self._pooled.driver_connection, False
        return await call(self._connection)

    async def _finish(self, exc: BaseException | None) -> None:
        """End the read (commit its transaction, or roll it back after ``exc``) and give the connection back."""
        if self._released:
            return
        connection = self._connection
        if exc is None:
            try:
                if self._began:
                    await connection.execute("COMMIT")
            except BaseException as failed:
                await _release(self._pooled, discard=True)
                _raise_lost(failed)
                raise
            if _returns_without_io(self.engine):
                self._pooled.close()
            else:
                await _release(self._pooled, discard=False)
            return
        # A cancellation may have cut a query short, and a driver failure leaves the protocol in an unknown
        # state: neither connection is rolled back and reused. Anything else (a 404, a refused write) is.
        healthy = isinstance(exc, Exception) and not _driver_failure(exc) and await _roll_back(connection)
        await _release(self._pooled, discard=not healthy or connection.is_closed() or connection.is_in_transaction())
        _raise_lost(exc)


@asynccontextmanager
async def read_transaction(engine: AsyncEngine, account_id: uuid.UUID) -> AsyncIterator[ReadTransaction]:
    """Reads of one account's rows (row-level security sees ``account_id``) on one pooled connection."""
    if not isinstance(account_id, uuid.UUID):  # it is formatted into SQL: only a UUID may be
        raise TypeError(f"account_id must be a uuid.UUID, not {type(account_id).__name__}")
    tx = ReadTransaction(engine, account_id, await _checkout(engine))
    try:
        yield tx
    except BaseException as exc:
        await tx._finish(exc)
        raise
    await tx._finish(None)


async def _checkout(engine: AsyncEngine) -> PoolProxiedConnection:
    # The pool's own checkout, in one greenlet hop: it may open a connection (asyncpg I/O), and its timeout
    # is the pool's (503 database-busy).
    return await greenlet_spawn(engine.sync_engine.raw_connection)


def _returns_without_io(engine: AsyncEngine) -> bool:
    """Whether a finished read's connection goes back to the pool without a word to the database, so that
    it can be returned in place rather than from a greenlet in a shielded task (a loop iteration, 25-45 µs
    of a 400 µs read): the pool has room to keep it (a connection beyond ``pool_size`` is closed instead,
    which is I/O), and its reset is a no-op (no transaction is open, and SQLAlchemy's adapter knew of none).
    Nothing awaits between this check and the return, so the room is still there."""
    pool = engine.sync_engine.pool
    return isinstance(pool, QueuePool) and pool.checkedin() < pool.size()


def _driver_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says the connection itself failed (lost, or its protocol left in a state asyncpg
    refuses to go on from), rather than a statement failing on a sound connection."""
    return isinstance(exc, asyncpg.InternalClientError) or connection_lost(exc)


def _raise_lost(exc: BaseException) -> None:
    """A driver's word that the connection failed, as SQLAlchemy's ``DisconnectionError`` (a retryable 503)."""
    if isinstance(exc, Exception) and _driver_failure(exc) and not isinstance(exc, SQLAlchemyError):
        raise DisconnectionError("the database connection was lost during the read") from exc


async def _release(pooled: PoolProxiedConnection, *, discard: bool) -> None:
    """Give ``pooled`` back to the pool; ``discard``: closed, not kept (its state is unknown or broken)."""
    if discard:
        # Closing a broken connection may fail in turn; it is discarded all the same.
        with contextlib.suppress(Exception):
            await asyncio.shield(greenlet_spawn(pooled.invalidate))
    await asyncio.shield(greenlet_spawn(pooled.close))


async def _roll_back(connection: asyncpg.Connection) -> bool:
    """Roll back if inside a transaction; whether the connection is now outside one, fit for reuse."""
    if connection.is_closed():
        return False
    if not connection.is_in_transaction():
        return True
    try:
        await connection.execute("ROLLBACK")
    except (TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError):
        return False
    return not connection.is_in_transaction()
