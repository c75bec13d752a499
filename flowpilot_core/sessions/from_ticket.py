"""Sessions opened on a PSA ticket: the ticket is read through the account's PSA connection and snapshotted.

``POST /api/v1/ai-sessions`` reads the ticket when the body names a connection
(``psa_connection``: an id or ``default``) or when an embed token's ticket claim names a
provider the account has a connection for; ``POST .../ticket/refresh`` re-reads it. The PSA
is called between two short transactions, never inside one: a slow PSA holds no database
connection. A PSA that fails leaves nothing behind, and its problem says how to open the
session unlinked (``"unlinked": true``) instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core.accounts.accounts import Principal
from flowpilot_core.db.engine import tenant_session
from flowpilot_core.db.models import PsaConnection
from flowpilot_core.errors import Conflict, InvalidInput, NotFound
from flowpilot_core.hookspecs import PsaProviderFactory
from flowpilot_core.psa.connections import connection_for, get_connection_row, open_provider
from flowpilot_core.psa.provider import PSAProvider
from flowpilot_core.sessions.lifecycle import (
    CreateSession,
    LinkedTicket,
    SessionOut,
    bump_state_version,
    create_session,
    get_session_row,
    requested_ticket,
    session_out,
)
from flowpilot_core.tickets.from_psa import merged, read_ticket, snapshot

UNLINKED_HINT = (
    'To open the session without the PSA\'s ticket now, send the request again with "unlinked": true '
    "(it will resolve locally; nothing is posted to the PSA)"
)


async def _default_connection(db: AsyncSession, account_id: uuid.UUID) -> PsaConnection:
    row = await connection_for(db, account_id, connection_id=None, provider=None)
    if row is None:
        raise InvalidInput(
            "the account has no default PSA connection: name one by id, or mark one default "
            "(PATCH /api/v1/psa-connections/{id} with is_default)",
            field="psa_connection",
        )
    return row


async def _connection(
    db: AsyncSession, principal: Principal, data: CreateSession, provider: str | None
) -> PsaConnection | None:
    """The connection to read the ticket through, or ``None`` when the session is not read from a PSA."""
    if data.psa_connection == "default":
        row = await _default_connection(db, principal.account_id)
    elif data.psa_connection is not None:
        try:
            row = await get_connection_row(db, principal.account_id, uuid.UUID(data.psa_connection))
        except NotFound as exc:
            raise NotFound(exc.detail, field="psa_connection") from None
    elif principal.ticket is not None and provider:
        # An embed token opened on a ticket: its provider's connection (the default one first), if the account has one.
        return await connection_for(db, principal.account_id, connection_id=None, provider=provider)
    else:
        return None
    if provider and provider != row.provider:
        raise Conflict(
            f"PSA connection {row.name!r} is a {row.provider} connection, but the ticket is in {provider}",
            field="psa_connection",
        )
    return row


async def _read(
    provider: PSAProvider, connection_id: uuid.UUID, provider_name: str, ref: str, where: str, hint: str | None
) -> LinkedTicket:
    try:
        ticket = await read_ticket(provider, ref, where=where, hint=hint)
    finally:
        await provider.aclose()
    return LinkedTicket(connection_id=connection_id, provider=provider_name, ref=ticket.ref or ref,
                        fields=snapshot(ticket))  # fmt: skip


def _where(row: PsaConnection) -> str:
    return f"{row.provider} (connection {row.name!r})"


async def open_session(
    sessionmaker: async_sessionmaker[AsyncSession],
    principal: Principal,
    data: CreateSession,
    *,
    secret_key: str,
    providers: Mapping[str, PsaProviderFactory],
) -> SessionOut:
    """Open a session, reading its ticket from the PSA when the body or the embed token asks for it."""
    provider_name, ref = requested_ticket(principal, data)
    linked: LinkedTicket | None = None
    if not data.unlinked:
        async with tenant_session(sessionmaker, principal.account_id) as db:
            row = await _connection(db, principal, data, provider_name)
            source = None
            if row is not None:
                if not ref:
                    raise InvalidInput("ticket_ref is required to read a ticket from the PSA", field="ticket_ref")
                source = (open_provider(row, secret_key, providers)[0], row.id, row.provider, _where(row))
        if source is not None and ref:
            provider, connection_id, connection_provider, where = source
            linked = await _read(provider, connection_id, connection_provider, ref, where, UNLINKED_HINT)
    async with tenant_session(sessionmaker, principal.account_id) as db:
        if linked is not None:
            await get_connection_row(db, principal.account_id, linked.connection_id)  # removed meanwhile: a 404
        return await create_session(db, principal, data, linked=linked)


async def refresh_ticket(
    sessionmaker: async_sessionmaker[AsyncSession],
    principal: Principal,
    session_id: uuid.UUID,
    *,
    secret_key: str,
    providers: Mapping[str, PsaProviderFactory],
) -> SessionOut:
    """Re-read the session's ticket from its PSA and replace the snapshot's PSA fields; bumps ``state_version``."""
    async with tenant_session(sessionmaker, principal.account_id) as db:
        session = await get_session_row(db, principal, session_id)
        if session.status != "open":
            raise Conflict(f"this session is {session.status}: its ticket is kept as it was when it closed")
        if not session.ticket_ref:
            raise Conflict("this session is not linked to a PSA ticket: there is nothing to re-read")
        row = await connection_for(
            db, principal.account_id, connection_id=session.psa_connection_id, provider=session.psa_provider
        )
        if row is None:
            raise Conflict(
                f"this session's ticket {session.ticket_ref} is in {session.psa_provider or 'a PSA'}, but the account "
                "has no PSA connection for it: add one (POST /api/v1/psa-connections)"
            )
        provider, _ = open_provider(row, secret_key, providers)
        ref, connection_id, provider_name, where = session.ticket_ref, row.id, row.provider, _where(row)
    linked = await _read(provider, connection_id, provider_name, ref, where, None)
    async with tenant_session(sessionmaker, principal.account_id) as db:
        session = await get_session_row(db, principal, session_id, lock=True)
        await get_connection_row(db, principal.account_id, connection_id)
        session.ticket_snapshot = merged(dict(session.ticket_snapshot or {}), linked.fields)
        session.psa_connection_id, session.psa_provider = connection_id, provider_name
        session.updated_at = datetime.now(UTC)
        await db.flush()
        await bump_state_version(db, session_id)
        await db.refresh(session)
        return session_out(session)
