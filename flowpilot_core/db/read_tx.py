"""Read-only units of work on the engine's pool, driven through asyncpg directly.

A ``GET`` needs no ORM session: it reads rows into structs (:mod:`flowpilot_core.db.rows`). An
``AsyncSession`` around those reads costs more than the reads (its begin, its ``after_begin``
listener, its commit, each a greenlet switch through SQLAlchemy's execution machinery), so
:func:`read_transaction` takes a connection from the same pool (its size, its timeout and so its
503 ``database-busy``, its metrics) and speaks to asyncpg itself:

- one round trip begins the transaction and scopes it to the tenant:
  ``BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL ...; SELECT set_config(...)`` as one
  simple query. The account id is a :class:`uuid.UUID` this process formats, never text a caller sent.
  Repeatable read gives every statement of the unit the same snapshot (``GET .../open`` reads four
  tables at one ``state_version``); read only makes a write in it an error, not a surprise.
- the reads, then ``COMMIT``.

Three round trips, not one: a ``set_config`` inside the read's own statement is not ordered before the
tenant policy (PostgreSQL folds the policy into a one-time filter evaluated first, and the read finds
nothing), and a PL/pgSQL function per read, which is ordered, would move every hot query into a
migration for about 0.1 ms a read (``bench/read_designs.py``).

A connection is never returned to the pool inside a transaction: a failed read is rolled back, and
a connection that could not be (broken, or left mid-query by a cancellation) is invalidated, so it
is closed instead of reused with another tenant's ``set_config`` still in force. A read that finds
its pooled connection dead before it began (the pool has no ping on checkout) begins again once on
another; a connection lost later is a ``DisconnectionError``, which the server answers with a
retryable 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection, QueuePool
from sqlalchemy.util import greenlet_spawn

from flowpilot_core.db.errors import connection_lost

_BEGIN = (
    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL max_parallel_workers_per_gather = 0; "
    "SELECT set_config('app.current_account_id', '{account_id}', true)"
)
"""No parallel workers for a read of one request: a request reads a page of rows, and starting workers cost
7.9 ms of a 10 ms search plan that chose them on this project's 2-core machine (``EXPLAIN ANALYZE``)."""


@dataclass(frozen=True, slots=True, eq=False)
class ReadTransaction:
    """A read-only transaction scoped to ``account_id``, on ``connection`` (asyncpg's)."""

    connection: asyncpg.Connection
    account_id: uuid.UUID


@asynccontextmanager
async def read_transaction(engine: AsyncEngine, account_id: uuid.UUID) -> AsyncIterator[ReadTransaction]:
    """A read-only transaction for one account's rows (row-level security sees ``account_id``)."""
    if not isinstance(account_id, uuid.UUID):  # it is formatted into SQL: only a UUID may be
        raise TypeError(f"account_id must be a uuid.UUID, not {type(account_id).__name__}")
    pooled, connection = await _begin(engine, _BEGIN.format(account_id=account_id))
    finished = False
    healthy = True
    try:
        yield ReadTransaction(connection=connection, account_id=account_id)
        await connection.execute("COMMIT")
        finished = True
    except BaseException as exc:
        # A cancellation may have cut a query short, and a driver failure leaves the protocol in an unknown
        # state: neither connection is rolled back and reused. Anything else (a 404, a refused write) is.
        healthy = isinstance(exc, Exception) and not _driver_failure(exc) and await _roll_back(connection)
        if not healthy and _driver_failure(exc):  # discarded below
            raise DisconnectionError("the database connection was lost during the read") from exc
        raise
    finally:
        if finished and _returns_without_io(engine):
            pooled.close()
        else:
            if not finished and (not healthy or connection.is_closed() or connection.is_in_transaction()):
                await _discard(pooled)
            await asyncio.shield(greenlet_spawn(pooled.close))  # back to the pool (closed, if invalidated)


async def _begin(engine: AsyncEngine, begin: str) -> tuple[PoolProxiedConnection, asyncpg.Connection]:
    """A pooled connection inside the read's transaction. A pooled connection found dead (the server
    restarted, an idle timeout closed it) is discarded and the read begun once more on another; the pool
    has no ping on checkout, and nothing has been read yet, so the retry is safe."""
    for attempt in (1, 2):
        # The pool's own checkout, in one greenlet hop: it may open a connection (asyncpg I/O), and its
        # timeout is the pool's (503 database-busy).
        pooled = await greenlet_spawn(engine.sync_engine.raw_connection)
        connection: asyncpg.Connection = pooled.driver_connection
        try:
            await connection.execute(begin)
        except BaseException as exc:
            await _discard(pooled)
            await asyncio.shield(greenlet_spawn(pooled.close))
            lost = isinstance(exc, Exception) and _driver_failure(exc)
            if lost and attempt == 1:
                continue
            if lost:
                raise DisconnectionError("the database connection was lost") from exc
            raise
        return pooled, connection
    raise AssertionError("unreachable")


def _returns_without_io(engine: AsyncEngine) -> bool:
    """Whether a committed read's connection goes back to the pool without a word to the database, so that
    it can be returned in place rather than from a greenlet in a shielded task (a loop iteration, 25-45 µs
    of a 400 µs read): the pool has room to keep it (a connection beyond ``pool_size`` is closed instead,
    which is I/O), and its reset is a no-op (the transaction was asyncpg's, unknown to SQLAlchemy's
    adapter, and is over). Nothing awaits between this check and the return, so the room is still there."""
    pool = engine.sync_engine.pool
    return isinstance(pool, QueuePool) and pool.checkedin() < pool.size()


def _driver_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says the connection itself failed (lost, or its protocol left in a state asyncpg
    refuses to go on from), rather than a statement failing on a sound connection."""
    return isinstance(exc, asyncpg.InternalClientError) or connection_lost(exc)


async def _discard(pooled: PoolProxiedConnection) -> None:
    # Closing a broken connection may fail in turn; it is discarded all the same.
    with contextlib.suppress(Exception):
        await asyncio.shield(greenlet_spawn(pooled.invalidate))


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
