"""The hot read paths: statements compiled once and run on the asyncpg connection itself.

``AsyncSession.execute`` runs even a column ``select`` through the ORM (its compile step, its result
loading, a greenlet switch per call); the driver alone is what a read needs. :func:`fetch_all` and
:func:`fetch_one` take a statement built once at import, compile it once for asyncpg (``$n``
placeholders) and run it on the connection under ``db``:

- an ``AsyncSession``: the connection of its current transaction, so the tenant's ``set_config``
  applies as for any other query and a read after a write sees the write;
- a :class:`~flowpilot_core.db.read_tx.ReadTransaction` (``GET`` requests of the server): a statement with an
  ``account_id`` parameter runs alone, scoped to the account in the same round trip; one without, or any once
  the read's transaction has begun, in that read-only transaction.

Rows are asyncpg records: by position (``row[0]``, ``Struct(*row)``) or by column name
(``row["id"]``). Only statements whose columns and parameters need no SQLAlchemy type processing
are accepted (the compile step checks), so a record holds what the ORM would have returned.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from flowpilot_core.db.read_tx import ReadTransaction, scoped_alone

Reader = AsyncSession | ReadTransaction
"""What a hot read runs on: a unit of work's session, or a read scoped to an account (``read_transaction``)."""

_DIALECT = asyncpg_dialect()
_S = TypeVar("_S", bound=ClauseElement)
_DYNAMIC_CAPACITY = 256


@dataclass(frozen=True, slots=True)
class Compiled:
    """A statement as asyncpg runs it: its SQL and where each ``$n`` takes its value from."""

    sql: str
    names: tuple[str, ...]
    """The bound parameter behind ``$1``, ``$2``, … in order."""
    bound: Mapping[str, Any]
    """Values the statement carries itself (a ``LIMIT 51``, a literal compared with)."""
    compiler: SQLCompiler
    alone: tuple[str, int] | None
    """The statement scoped to its ``account_id`` by itself, and that parameter's index (:func:`scoped_alone`)."""

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        try:
            return [params[name] if name in params else self.bound[name] for name in self.names]
        except KeyError as missing:
            raise TypeError(f"the statement needs the parameter {missing}") from None


def compile_statement(statement: ClauseElement, cache_key: Any = None) -> Compiled:
    """Compile ``statement`` for asyncpg; refuse what this path could not run faithfully.

    With ``cache_key`` (SQLAlchemy's, of ``statement``) the compiled form serves every statement of
    that key, each with the values it was built with.
    """
    if cache_key is None:
        compiled = statement.compile(dialect=_DIALECT)
    else:
        compiled = statement._compiler(_DIALECT, cache_key=cache_key)
    assert isinstance(compiled, SQLCompiler)
    if compiled.positiontup is None:
        raise TypeError("not a positional statement")
    if any(bind.expanding for bind in compiled.binds.values()):
        raise TypeError("IN (...) lists of parameters are not supported on the hot read path")
    if compiled._bind_processors:
        raise TypeError(f"parameters need type processing: {sorted(compiled._bind_processors)}")
    for _, name, _, type_ in compiled._result_columns:
        if type_._cached_result_processor(_DIALECT, None) is not None:
            raise TypeError(f"column {name} needs type processing: use the ORM for it")
    bound = {
        name: bind.effective_value
        for name, bind in ((compiled.bind_names[b], b) for b in compiled.binds.values())
        if not bind.required
    }
    names = tuple(compiled.positiontup)
    return Compiled(
        sql=compiled.string, names=names, bound=bound, compiler=compiled, alone=scoped_alone(compiled.string, names)
    )


class Statements:
    """Compiled forms, kept for as long as their statements (module-level ones: for ever)."""

    def __init__(self) -> None:
        self._static: dict[int, tuple[ClauseElement, Compiled]] = {}
        self._dynamic: OrderedDict[Any, Compiled] = OrderedDict()

    def get(self, statement: ClauseElement, params: Mapping[str, Any]) -> tuple[Compiled, Mapping[str, Any]]:
        hit = self._static.get(id(statement))
        if hit is not None and hit[0] is statement:
            return hit[1], params
        # A statement built per call (a list with filters): the same shape compiles once, by SQLAlchemy's
        # own cache key, and the values it was built with are read off the key.
        cache_key = statement._generate_cache_key()
        if cache_key is None:
            raise TypeError("the statement cannot be cached")
        compiled = self._dynamic.get(cache_key.key)
        if compiled is None:
            compiled = compile_statement(statement, cache_key)
            self._dynamic[cache_key.key] = compiled
            if len(self._dynamic) > _DYNAMIC_CAPACITY:
                self._dynamic.popitem(last=False)
        else:
            self._dynamic.move_to_end(cache_key.key)
        values = compiled.compiler.construct_params(dict(params), extracted_parameters=cache_key.bindparams)
        return compiled, values

    def static(self, statement: _S) -> _S:
        """Compile a statement built once, at import; returns it (``X = statements.static(select(...))``)."""
        self._static[id(statement)] = (statement, compile_statement(statement))
        return statement


statements = Statements()
static = statements.static


async def driver_connection(db: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under ``db``, inside its transaction."""
    connection = await db.connection()
    raw = await connection.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection
    return driver


async def fetch_all(db: Reader, statement: ClauseElement, params: Mapping[str, Any]) -> Sequence[asyncpg.Record]:
    compiled, params = statements.get(statement, params)
    arguments = compiled.arguments(params)
    if isinstance(db, ReadTransaction):
        return await db.fetch(compiled.sql, arguments, compiled.alone)
    return await (await driver_connection(db)).fetch(compiled.sql, *arguments)


async def fetch_one(db: Reader, statement: ClauseElement, params: Mapping[str, Any]) -> asyncpg.Record | None:
    compiled, params = statements.get(statement, params)
    arguments = compiled.arguments(params)
    if isinstance(db, ReadTransaction):
        return await db.fetchrow(compiled.sql, arguments, compiled.alone)
    return await (await driver_connection(db)).fetchrow(compiled.sql, *arguments)
