"""Row-level security as the application role: another account's rows do not exist."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core.db.engine import set_account, tenant_session
from flowpilot_core.db.models import AiSession
from tests.conftest import Tenant


async def _seed(sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant, title: str) -> None:
    async with tenant_session(sessionmaker, tenant.account_id) as db:
        db.add(AiSession(account_id=tenant.account_id, title=title, problem_statement="p"))


async def _titles(sessionmaker: async_sessionmaker[AsyncSession], account: object) -> list[str]:
    async with sessionmaker() as db, db.begin():
        if account is not None:
            await set_account(db, account)  # type: ignore[arg-type]
        return list((await db.execute(select(AiSession.title).order_by(AiSession.title))).scalars())


async def test_rows_of_a_are_invisible_with_b_set_and_with_nothing_set(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant, other_tenant: Tenant
) -> None:
    await _seed(sessionmaker, tenant, "a-secret")
    await _seed(sessionmaker, other_tenant, "b-own")

    assert await _titles(sessionmaker, tenant.account_id) == ["a-secret"]
    assert await _titles(sessionmaker, other_tenant.account_id) == ["b-own"]
    assert await _titles(sessionmaker, None) == []  # unset: matches nothing, does not raise
    assert await _titles(sessionmaker, "") == []  # empty: same


async def test_insert_for_another_account_is_refused(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant, other_tenant: Tenant
) -> None:
    with pytest.raises(DBAPIError, match="row-level security"):
        async with tenant_session(sessionmaker, other_tenant.account_id) as db:
            db.add(AiSession(account_id=tenant.account_id, title="smuggled", problem_statement="p"))
    assert "smuggled" not in await _titles(sessionmaker, tenant.account_id)


async def test_update_cannot_move_a_row_to_another_account(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant, other_tenant: Tenant
) -> None:
    await _seed(sessionmaker, tenant, "mine")
    with pytest.raises(DBAPIError, match="row-level security"):
        async with tenant_session(sessionmaker, tenant.account_id) as db:
            await db.execute(
                text("UPDATE ai_sessions SET account_id = :b WHERE title = 'mine'"), {"b": other_tenant.account_id}
            )


async def test_setting_survives_a_commit_inside_one_session(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    """The after_begin hook re-scopes a session that commits and begins again."""
    await _seed(sessionmaker, tenant, "persisted")
    async with sessionmaker() as db:
        async with db.begin():
            await set_account(db, tenant.account_id)
        async with db.begin():
            titles = list((await db.execute(select(AiSession.title))).scalars())
    assert "persisted" in titles
