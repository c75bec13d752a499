"""Run Alembic migrations programmatically, as the database owner."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from flowpilot_core.db.engine import create_engine


def alembic_config(app_db_role: str = "flowpilot_app", app_db_password: str | None = None) -> Config:
    from flowpilot_migrations import SCRIPT_LOCATION

    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    cfg.attributes["app_db_role"] = app_db_role
    cfg.attributes["app_db_password"] = app_db_password
    return cfg


async def _with_connection(owner_url: str, fn: Any) -> Any:
    engine = create_engine(owner_url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            return await conn.run_sync(fn)
    finally:
        await engine.dispose()


async def upgrade(owner_url: str, revision: str = "head", **role: Any) -> None:
    cfg = alembic_config(**role)

    def run(conn: Connection) -> None:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)

    await _with_connection(owner_url, run)


async def downgrade(owner_url: str, revision: str = "base", **role: Any) -> None:
    cfg = alembic_config(**role)

    def run(conn: Connection) -> None:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)

    await _with_connection(owner_url, run)


async def current(owner_url: str) -> tuple[str | None, str | None]:
    """(the database's revision, the newest revision this FlowPilot ships)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()

    def run(conn: Connection) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    return await _with_connection(owner_url, run), head
