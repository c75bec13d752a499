"""The built-in ``local`` PSA's record is tenant data: row-level security keeps each account's tickets and
notes to itself (checked with raw queries as the application role, not through the provider's own filters)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core.db.engine import tenant_session
from flowpilot_core.db.models import LocalTicket, LocalTicketNote
from flowpilot_core.psa import PsaContext, local
from tests.conftest import Tenant


async def _counts(sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant) -> tuple[int, int]:
    async with tenant_session(sessionmaker, tenant.account_id) as db:
        tickets = (await db.execute(select(func.count()).select_from(LocalTicket))).scalar_one()
        notes = (await db.execute(select(func.count()).select_from(LocalTicketNote))).scalar_one()
    return tickets, notes


async def test_local_tickets_and_notes_are_visible_to_their_account_only(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant, other_tenant: Tenant
) -> None:
    context = PsaContext(account_id=tenant.account_id, sessionmaker=sessionmaker)
    ref = await local.add_ticket(context, "Printer offline")
    provider = local.create_provider({}, context=context)
    await provider.post_note(ref, "Restarted the spooler.", kind="resolution", internal=True)
    assert await _counts(sessionmaker, tenant) == (1, 1)
    assert await _counts(sessionmaker, other_tenant) == (0, 0)
    async with tenant_session(sessionmaker, other_tenant.account_id) as db:  # nor can it write into them
        db.add(LocalTicket(account_id=tenant.account_id, summary="Planted"))
        with pytest.raises(Exception, match="row-level security"):
            await db.flush()


def test_the_local_provider_needs_no_connection_and_takes_no_config(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    with pytest.raises(ValueError, match="without a connection"):
        local.create_provider({})
    context = PsaContext(account_id=tenant.account_id, sessionmaker=sessionmaker)
    with pytest.raises(ValueError, match="takes no config"):
        local.create_provider({"url": "https://psa.example.com"}, context=context)
