"""Telling "the database is unreachable" (a retryable 503) apart from a bug (a 500).

The one classifier: the server's problem mapping, the SSE error events and the health
check all ask :func:`connection_lost`. Only what an error explicitly wraps is followed
(``raise ... from`` and SQLAlchemy's ``orig``), never the exception that was being handled
when it was raised, so a bug in an ``except`` block is not mistaken for an outage.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterator

from asyncpg.exceptions import (
    CannotConnectNowError,
    ConnectionDoesNotExistError,
    OperatorInterventionError,
    PostgresConnectionError,
    PostgresError,
    TooManyConnectionsError,
)
from asyncpg.exceptions import _base as asyncpg_base
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

DATABASE_ERROR_TYPES: tuple[type[Exception], ...] = (
    OSError,
    SQLAlchemyError,
    PostgresError,
    asyncpg_base.InterfaceError,
)
"""Exception types that may mean the database is unreachable; :func:`connection_lost` decides."""

_UNREACHABLE = (
    PostgresConnectionError,
    CannotConnectNowError,  # starting up or shutting down
    OperatorInterventionError,  # admin shutdown, crash recovery
    TooManyConnectionsError,
    ConnectionDoesNotExistError,
    DisconnectionError,
    PoolTimeout,
)


def _raised_by_database_driver(exc: BaseException) -> bool:
    """An OSError is the database's only when the driver raised it (not, say, a missing static file)."""
    return any(
        f"{os.sep}asyncpg{os.sep}" in frame.filename or f"{os.sep}sqlalchemy{os.sep}" in frame.filename
        for frame in traceback.extract_tb(exc.__traceback__)
    )


def _explicit_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it explicitly wraps (``raise ... from`` and SQLAlchemy's ``orig``)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend([getattr(current, "orig", None), current.__cause__])


def pool_exhausted(exc: BaseException) -> bool:
    """Whether ``exc`` is the pool's timeout: every connection of this process stayed in use (overload)."""
    return any(isinstance(current, PoolTimeout) for current in _explicit_chain(exc))


def connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) says the database cannot be reached, rather than a query being wrong."""
    for current in _explicit_chain(exc):
        if isinstance(current, ConnectionError | TimeoutError):
            return True  # asyncpg raises a refused/reset socket or a connect timeout unwrapped
        if isinstance(current, OSError) and _raised_by_database_driver(current):
            return True  # no route, the socket file gone
        if isinstance(current, _UNREACHABLE):
            return True
        if isinstance(current, DBAPIError) and (current.connection_invalidated or isinstance(current, InterfaceError)):
            return True
        if isinstance(current, asyncpg_base.InterfaceError) and "connection" in str(current).lower():
            return True  # "connection is closed" and the like
    return False
