"""Per-account settings: one lazy ``account_settings`` row with a JSONB ``preferences`` column.

A setting graduates to a typed column when it needs a constraint, an index or a
foreign key; until then it is a preference key with a documented default.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from flowpilot_core.db.models import AccountSettings


async def get_setting(db: AsyncSession, account_id: uuid.UUID, key: str, default: Any = None) -> Any:
    """Read a setting without creating the row (absent row → the documented default)."""
    row = await db.get(AccountSettings, account_id)
    if row is None:
        return AccountSettings.DEFAULTS.get(key, default)
    return row.get_setting(key, default)


async def set_setting(db: AsyncSession, account_id: uuid.UUID, key: str, value: Any) -> AccountSettings:
    """Write one preference, creating the row on first write (concurrent-safe upsert)."""
    await db.execute(
        pg_insert(AccountSettings)
        .values(account_id=account_id, preferences={})
        .on_conflict_do_nothing(index_elements=["account_id"])
    )
    row = await db.get(AccountSettings, account_id, with_for_update=True, populate_existing=True)
    assert row is not None
    row.preferences = {**(row.preferences or {}), key: value}
    await db.flush()
    return row
