"""Testing a PSA connection before a technician relies on it: ``POST /api/v1/psa-connections/{id}/test``, ``flowpilot
psa test``.

It authenticates, and with a ticket it reads the ticket and the statuses it can take, and
shows which status a resolution and an escalation would get (the writeback's own choice,
:func:`flowpilot_core.psa.statuses.choose_status`). Statuses belong to a ticket's board in
some PSAs (ConnectWise), so they are read through a ticket. Nothing is written to the PSA.
A PSA failure is raised as its typed error; a mapping that names no status of the ticket is
reported in the result (``ok`` false), since the PSA itself answered.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Annotated

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core.db.engine import tenant_session
from flowpilot_core.hookspecs import PsaProviderFactory
from flowpilot_core.psa.connections import get_connection_row, open_provider
from flowpilot_core.psa.errors import PSAPermanent
from flowpilot_core.psa.provider import PSAProvider, PSAStatus
from flowpilot_core.psa.statuses import StatusChoice, choose_status
from flowpilot_core.tickets.from_psa import read_ticket


class CheckConnection(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``POST /api/v1/psa-connections/{id}/test`` (may be empty)."""

    ticket_ref: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    """A ticket to read statuses through; without it only the credentials are checked."""


class MappedStatus(msgspec.Struct):
    wanted: str
    """What the connection's mapping names."""
    status: PSAStatus | None
    """The status a writeback would set on this ticket, or none (see ``problem``)."""
    how: str | None
    """``mapping`` (named exactly) or ``closing_status`` (the board's closing status, the named one is not on it)."""
    problem: str | None = None


class TicketCheck(msgspec.Struct):
    ref: str
    summary: str
    status: PSAStatus | None
    board: str | None
    statuses: list[PSAStatus]


class ConnectionCheck(msgspec.Struct):
    connection_id: uuid.UUID
    name: str
    provider: str
    authenticated: bool
    ok: bool
    """Authenticated and, with a ticket, every mapped status found on it."""
    ticket: TicketCheck | None = None
    resolved: MappedStatus | None = None
    escalated: MappedStatus | None = None
    """None also when the mapping has no escalation status (an escalation then leaves the status as it is)."""
    hint: str | None = None


async def _mapped(provider: PSAProvider, ref: str, wanted: str, statuses: list[PSAStatus], *, resolving: bool
                  ) -> MappedStatus:  # fmt: skip
    try:
        choice: StatusChoice = await choose_status(provider, ref, wanted, statuses, resolving=resolving)
    except PSAPermanent as exc:
        return MappedStatus(wanted=wanted, status=None, how=None, problem=exc.detail)
    return MappedStatus(wanted=wanted, status=choice.status, how=choice.how)


async def check_connection(
    sessionmaker: async_sessionmaker[AsyncSession],
    account_id: uuid.UUID,
    connection_id: uuid.UUID,
    request: CheckConnection,
    *,
    secret_key: str,
    providers: Mapping[str, PsaProviderFactory],
) -> ConnectionCheck:
    """Authenticate and read (never write); the PSA is called outside any database transaction."""
    async with tenant_session(sessionmaker, account_id) as db:
        row = await get_connection_row(db, account_id, connection_id)
        name, provider_name = row.name, row.provider
        provider, mapping = open_provider(row, secret_key, providers)
    try:
        await provider.check_connection()
        result = ConnectionCheck(
            connection_id=connection_id, name=name, provider=provider_name, authenticated=True, ok=True
        )
        if request.ticket_ref is None:
            result.hint = "name a ticket (ticket_ref) to read its statuses and see which the mapping picks"
            return result
        ref = request.ticket_ref
        ticket = await read_ticket(provider, ref, where=f"PSA connection {name!r}")
        statuses = await provider.list_statuses(ref)
        result.ticket = TicketCheck(
            ref=ticket.ref, summary=ticket.summary, status=ticket.status, board=ticket.board, statuses=statuses
        )
        result.resolved = await _mapped(provider, ref, mapping.resolved, statuses, resolving=True)
        if mapping.escalated is not None:
            result.escalated = await _mapped(provider, ref, mapping.escalated, statuses, resolving=False)
        result.ok = all(m is None or m.status is not None for m in (result.resolved, result.escalated))
        return result
    finally:
        await provider.aclose()
