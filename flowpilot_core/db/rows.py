"""Core reads on a session's connection: the hot read paths, whose rows go straight into msgspec structs.

``AsyncSession.execute`` runs even a column ``select`` through the ORM (its compile step, its result
loading); on the connection a statement built once at import costs only the driver's work. It runs
in the session's transaction, so the tenant's ``set_config`` applies as for any other query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Executable, Row
from sqlalchemy.ext.asyncio import AsyncSession


async def fetch_all(db: AsyncSession, statement: Executable, params: Mapping[str, Any]) -> Sequence[Row[Any]]:
    connection = await db.connection()
    return (await connection.execute(statement, dict(params))).all()


async def fetch_one(db: AsyncSession, statement: Executable, params: Mapping[str, Any]) -> Row[Any] | None:
    connection = await db.connection()
    return (await connection.execute(statement, dict(params))).one_or_none()
