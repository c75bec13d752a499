"""Built-in plugin: the ``local`` PSA provider, for sessions without a PSA ticket.

A session that has no ticket in a PSA still ends the same way as one that has: the
writeback engine posts the note with its idempotency marker, sets the status and reads
it back, through this provider. Its tickets, notes and statuses are FlowPilot's own
record, in PostgreSQL (``local_tickets``, ``local_ticket_notes``), tenant-scoped by
row-level security like every other table; nothing leaves FlowPilot, and the writeback
says so (``posted_to_psa`` is false, its state ``local``).

It registers through the ``flowpilot`` entry-point group like any PSA plugin
(``local = "flowpilot_core.psa.local"``). Unlike a remote PSA it needs no connection
and no credentials, but it does need the database: its factory takes the same
``config`` every factory takes (empty here) and a keyword-only
:class:`~flowpilot_core.psa.provider.PsaContext` (the account and a sessionmaker), which
the writeback engine passes to this provider only. Every method runs in a short unit
of work of its own, exactly as a call to a remote PSA is outside FlowPilot's
transaction, so a crash between posting and storing the result is reconciled the same
way: the marker is found among the notes and nothing is posted twice.

Its statuses are fixed (:data:`STATUSES`): a session's ticket starts ``In Progress``,
and :data:`STATUS_MAPPING` resolves it to ``Resolved`` or escalates it to ``Escalated``.
It has no workflow rules, so a status set is the status read.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flowpilot_core import hookimpl
from flowpilot_core.db.engine import tenant_session
from flowpilot_core.db.models import AiSession, LocalTicket, LocalTicketNote
from flowpilot_core.psa.connections import StatusMapping
from flowpilot_core.psa.errors import PSANotFound, PSAPermanent
from flowpilot_core.psa.provider import NoteKind, PsaContext, PSANote, PSAStatus, PSATicket

PROVIDER_NAME = "local"
STATUSES = (
    PSAStatus("new", "New"),
    PSAStatus("in_progress", "In Progress"),
    PSAStatus("escalated", "Escalated"),
    PSAStatus("resolved", "Resolved", closed=True),
)
STATUS_MAPPING = StatusMapping(resolved="resolved", escalated="escalated")
"""What a resolution and an escalation set on a local ticket (there is no connection to configure it on)."""
_BY_ID = {s.id: s for s in STATUSES}


def _ticket_id(ref: str) -> uuid.UUID:
    try:
        return uuid.UUID(ref)
    except ValueError:
        raise PSANotFound(f"ticket {ref} does not exist in FlowPilot's local record") from None


async def ticket_for_session(db: AsyncSession, session: AiSession) -> str:
    """The ref of the session's local ticket, made on first use from the session (in the caller's transaction)."""
    query = select(LocalTicket.id).where(
        LocalTicket.account_id == session.account_id, LocalTicket.session_id == session.id
    )
    existing = (await db.execute(query)).scalar_one_or_none()
    if existing is not None:
        return str(existing)
    ticket = LocalTicket(
        account_id=session.account_id,
        session_id=session.id,
        summary=session.title,
        description=session.problem_statement,
    )
    db.add(ticket)
    await db.flush()
    return str(ticket.id)


async def add_ticket(
    context: PsaContext, summary: str, *, description: str | None = None, status_id: str = "in_progress"
) -> str:
    """A local ticket that belongs to no session (FlowPilot's own record of a ticket); returns its ref."""
    async with tenant_session(context.sessionmaker, context.account_id) as db:
        ticket = LocalTicket(
            account_id=context.account_id, summary=summary, description=description, status_id=status_id
        )
        db.add(ticket)
        await db.flush()
        return str(ticket.id)


async def delete_ticket(context: PsaContext, ref: str) -> None:
    async with tenant_session(context.sessionmaker, context.account_id) as db:
        ticket = await db.get(LocalTicket, _ticket_id(ref))
        if ticket is not None and ticket.account_id == context.account_id:
            await db.delete(ticket)


class LocalPSA:
    """The ``local`` provider for one account (see the module docstring)."""

    def __init__(self, context: PsaContext) -> None:
        self.context = context

    def __repr__(self) -> str:
        return f"LocalPSA(account_id={self.context.account_id})"

    async def _ticket(self, db: AsyncSession, ref: str, *, lock: bool = False) -> LocalTicket:
        query = select(LocalTicket).where(
            LocalTicket.id == _ticket_id(ref), LocalTicket.account_id == self.context.account_id
        )
        ticket = (await db.execute(query.with_for_update() if lock else query)).scalar_one_or_none()
        if ticket is None:  # another account's ticket is invisible (RLS) and reads the same as none
            raise PSANotFound(f"ticket {ref} does not exist in FlowPilot's local record")
        return ticket

    def _unit(self) -> Any:
        return tenant_session(self.context.sessionmaker, self.context.account_id)

    async def get_ticket(self, ref: str) -> PSATicket:
        async with self._unit() as db:
            ticket = await self._ticket(db, ref)
            return PSATicket(
                ref=ref, summary=ticket.summary, description=ticket.description, status=_BY_ID[ticket.status_id]
            )

    async def list_notes(self, ref: str) -> list[PSANote]:
        async with self._unit() as db:
            ticket = await self._ticket(db, ref)
            query = (
                select(LocalTicketNote)
                .where(LocalTicketNote.ticket_id == ticket.id)
                .order_by(LocalTicketNote.created_at, LocalTicketNote.id)
            )
            notes = (await db.execute(query)).scalars()
            return [PSANote(id=str(n.id), text=n.text, internal=n.internal) for n in notes]

    async def post_note(self, ref: str, text: str, *, kind: NoteKind, internal: bool) -> PSANote:
        if not text.strip():
            raise PSAPermanent(f"an empty note cannot be added to ticket {ref}")
        async with self._unit() as db:
            ticket = await self._ticket(db, ref)
            note = LocalTicketNote(account_id=ticket.account_id, ticket_id=ticket.id, kind=kind, text=text,
                                   internal=internal)  # fmt: skip
            db.add(note)
            await db.flush()
            return PSANote(id=str(note.id), text=note.text, internal=note.internal)

    async def list_statuses(self, ref: str) -> list[PSAStatus]:
        async with self._unit() as db:
            await self._ticket(db, ref)
        return list(STATUSES)

    async def set_status(self, ref: str, status_id: str) -> None:
        if status_id not in _BY_ID:
            names = ", ".join(s.name for s in STATUSES)
            raise PSAPermanent(f"status {status_id!r} is not a status of FlowPilot's local tickets ({names})")
        async with self._unit() as db:
            ticket = await self._ticket(db, ref, lock=True)
            ticket.status_id = status_id

    async def get_status(self, ref: str) -> PSAStatus:
        async with self._unit() as db:
            return _BY_ID[(await self._ticket(db, ref)).status_id]

    async def check_connection(self) -> None:
        async with self._unit() as db:
            await db.execute(select(LocalTicket.id).limit(1))

    async def aclose(self) -> None:
        return None


def create_provider(config: dict[str, Any], *, context: PsaContext | None = None) -> LocalPSA:
    """The provider for ``context``'s account. There is nothing to connect to, so there is no connection to make:
    a ``local`` PSA connection is refused (a ``ValueError``, which the connections API turns into a 422)."""
    if context is None:
        raise ValueError(
            "'local' is FlowPilot's own record, not a PSA to connect to: sessions without a PSA ticket use it "
            "without a connection"
        )
    if config:
        raise ValueError(f"the local PSA takes no config (got {', '.join(sorted(config))})")
    return LocalPSA(context)


@hookimpl
def register_psa_providers(register: Callable[..., None]) -> None:
    """Contribute the ``local`` PSA provider."""
    register(PROVIDER_NAME, create_provider)


__all__ = [
    "PROVIDER_NAME",
    "STATUSES",
    "STATUS_MAPPING",
    "LocalPSA",
    "add_ticket",
    "create_provider",
    "delete_ticket",
    "register_psa_providers",
    "ticket_for_session",
]
