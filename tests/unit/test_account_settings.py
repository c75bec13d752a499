"""account_settings: lazy row, documented defaults, get_setting on the model."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core.accounts.settings import get_setting, set_setting
from flowpilot_core.db.engine import tenant_session
from flowpilot_core.db.models import AccountSettings
from tests.conftest import Tenant


def test_get_setting_on_the_model_prefers_stored_then_documented_default_then_argument() -> None:
    row = AccountSettings(preferences={"templatize_prompt_enabled": False, "x": 1})
    assert row.get_setting("templatize_prompt_enabled") is False
    assert row.get_setting("x") == 1
    empty = AccountSettings(preferences={})
    assert empty.get_setting("templatize_prompt_enabled") is True
    assert empty.get_setting("missing", "fallback") == "fallback"


async def test_absent_row_reads_defaults_and_first_write_creates_it(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    async with tenant_session(sessionmaker, tenant.account_id) as db:
        assert await get_setting(db, tenant.account_id, "templatize_prompt_enabled") is True
        assert await get_setting(db, tenant.account_id, "unknown", 7) == 7
        assert (await db.execute(select(AccountSettings))).scalars().all() == []  # reading creates nothing

    async with tenant_session(sessionmaker, tenant.account_id) as db:
        await set_setting(db, tenant.account_id, "templatize_prompt_enabled", False)
        await set_setting(db, tenant.account_id, "theme", "dark")

    async with tenant_session(sessionmaker, tenant.account_id) as db:
        rows = (await db.execute(select(AccountSettings))).scalars().all()
        assert [r.preferences for r in rows] == [{"templatize_prompt_enabled": False, "theme": "dark"}]
        assert await get_setting(db, tenant.account_id, "templatize_prompt_enabled") is False
