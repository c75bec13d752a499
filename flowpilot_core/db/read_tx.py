"""Read-only units of work on the engine's pool, driven through asyncpg directly.

A ``GET`` needs no ORM session: it reads rows into structs (:mod:`flowpilot_core.db.rows`). An
``AsyncSession`` around those reads costs more than the reads (its begin, its ``after_begin``
listener, its commit, each a greenlet switch through SQLAlchemy's execution machinery), so
:func:`read_transaction` takes a connection from the same pool (its size, its timeout and so its
503 ``database-busy``, its metrics) and speaks to asyncpg itself:

- one round trip begins the transaction and scopes it to the tenant:
  ``BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT set_config(...)`` as one simple
  query. The account id is a :class:`uuid.UUID` this process formats, never text a caller sent.
  Repeatable read gives every statement of the unit the same snapshot (``GET .../open`` reads four
  tables at one ``state_version``); read only makes a write in it an error, not a surprise.
- the reads, then ``COMMIT``.

A connection is never returned to the pool inside a transaction: a failed read is rolled back, and
a connection that could not be (broken, or left mid-query by a cancellation) is invalidated, so it
is closed instead of reused with another tenant's ``set_config`` still in force.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

_BEGIN = (
    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT set_config('app.current_account_id', '{account_id}', true)"
)


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
    # The pool's own checkout, in one greenlet hop: it may open a connection (asyncpg I/O), and its
    # timeout is the pool's (503 database-busy).
    pooled = await greenlet_spawn(engine.sync_engine.raw_connection)
    connection: asyncpg.Connection = pooled.driver_connection
    finished = False
    try:
        await connection.execute(_BEGIN.format(account_id=account_id))
        yield ReadTransaction(connection=connection, account_id=account_id)
        await connection.execute("COMMIT")
        finished = True
    except Exception:
        await _roll_back(connection)
        raise
    finally:
        if not finished and (connection.is_closed() or connection.is_in_transaction()):
            # Closing a broken connection may fail in turn; it is discarded all the same.
            with contextlib.suppress(Exception):
                await asyncio.shield(greenlet_spawn(pooled.invalidate))
        await asyncio.shield(greenlet_spawn(pooled.close))  # back to the pool (closed, if invalidated)


async def _roll_back(connection: asyncpg.Connection) -> None:
    if connection.is_closed() or not connection.is_in_transaction():
        return
    # Whatever the rollback fails with, the connection is invalidated below.
    with contextlib.suppress(TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        await connection.execute("ROLLBACK")
