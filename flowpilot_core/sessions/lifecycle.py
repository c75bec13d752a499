"""FlowPilot sessions: create, list and read (the chat turn and the task lane build on these)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from flowpilot_core.accounts.accounts import Principal
from flowpilot_core.db.models import EMPTY_TASK_LANE, AiSession
from flowpilot_core.errors import InvalidInput, NotFound
from flowpilot_core.events import SessionCreated, emit
from flowpilot_core.sessions.task_lane import TaskLane

SessionStatus = Literal["open", "resolved", "escalated"]
MAX_PROBLEM_CHARS = 20_000
Short = Annotated[str, msgspec.Meta(max_length=500)]
Long = Annotated[str, msgspec.Meta(max_length=MAX_PROBLEM_CHARS)]


class TicketSnapshot(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """The ticket as the PSA or the host portal gave it; every field optional."""

    summary: Short | None = None
    description: Long | None = None
    company: Short | None = None
    contact: Short | None = None
    board: Short | None = None
    status: Short | None = None
    priority: Short | None = None
    provider: Short | None = None
    ref: Short | None = None


class CreateSession(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``POST /api/v1/ai-sessions``."""

    problem_statement: Long
    title: Annotated[str, msgspec.Meta(max_length=300)] | None = None
    session_type: Annotated[str, msgspec.Meta(pattern="^[a-z_]{1,40}$")] = "chat"
    ticket: TicketSnapshot | None = None
    psa_provider: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    ticket_ref: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class SessionOut(msgspec.Struct):
    id: uuid.UUID
    session_type: str
    title: str
    problem_statement: str
    status: str
    psa_provider: str | None
    ticket_ref: str | None
    ticket: dict[str, Any]
    pending_task_lane: TaskLane
    state_version: int
    owner_user_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = None
    escalated_at: datetime | None = None


class SessionList(msgspec.Struct):
    items: list[SessionOut]


def session_out(row: AiSession) -> SessionOut:
    return msgspec.convert(row, SessionOut, from_attributes=True)


def _title(data: CreateSession, ticket: dict[str, Any]) -> str:
    if data.title and data.title.strip():
        return data.title.strip()
    source = ticket.get("summary") or data.problem_statement
    first_line = source.strip().splitlines()[0] if source.strip() else "FlowPilot session"
    return first_line if len(first_line) <= 80 else first_line[:79].rstrip() + "…"


async def create_session(db: AsyncSession, principal: Principal, data: CreateSession) -> SessionOut:
    """Open a session; a ticket carried by the embed token is used when the body names none."""
    if not data.problem_statement.strip():
        raise InvalidInput("problem_statement must not be empty", field="problem_statement")
    ticket = msgspec.to_builtins(data.ticket) if data.ticket else dict(principal.ticket or {})
    ticket_provider, ticket_ref_claim = ticket.pop("provider", None), ticket.pop("ref", None)
    provider = data.psa_provider or ticket_provider
    ticket_ref = data.ticket_ref or ticket_ref_claim
    row = AiSession(
        account_id=principal.account_id,
        owner_user_id=principal.user_id,
        session_type=data.session_type,
        title=_title(data, ticket),
        problem_statement=data.problem_statement.strip(),
        ticket_snapshot=ticket,
        psa_provider=provider,
        ticket_ref=ticket_ref,
        pending_task_lane={k: list(v) for k, v in EMPTY_TASK_LANE.items()},
    )
    db.add(row)
    await db.flush()
    await db.refresh(row)
    emit(
        db,
        SessionCreated(
            account_id=row.account_id,
            session_id=row.id,
            user_id=row.owner_user_id,
            psa_provider=provider,
            ticket_ref=ticket_ref,
        ),
    )
    return session_out(row)


async def get_session_row(
    db: AsyncSession, principal: Principal, session_id: uuid.UUID, *, lock: bool = False
) -> AiSession:
    """The session, or :class:`NotFound`: another account's session is indistinguishable from none."""
    query = select(AiSession).where(AiSession.id == session_id, AiSession.account_id == principal.account_id)
    if lock:
        query = query.with_for_update()
    row = (await db.execute(query)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"session {session_id} not found")
    return row


async def get_session(db: AsyncSession, principal: Principal, session_id: uuid.UUID) -> SessionOut:
    return session_out(await get_session_row(db, principal, session_id))


async def list_sessions(
    db: AsyncSession,
    principal: Principal,
    *,
    status: SessionStatus | None = None,
    session_type: str | None = None,
    q: str | None = None,
    limit: int = 50,
) -> SessionList:
    """Most recently updated first; ``q`` searches title, problem, ticket reference and summary."""
    if not 1 <= limit <= 200:
        raise InvalidInput("limit must be between 1 and 200", field="limit")
    query = select(AiSession).where(AiSession.account_id == principal.account_id)
    if status:
        query = query.where(AiSession.status == status)
    if session_type:
        query = query.where(AiSession.session_type == session_type)
    if q and q.strip():
        like = "%" + q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                AiSession.title.ilike(like),
                AiSession.problem_statement.ilike(like),
                AiSession.ticket_ref.ilike(like),
                AiSession.ticket_snapshot["summary"].astext.ilike(like),
            )
        )
    rows = (await db.execute(query.order_by(AiSession.updated_at.desc()).limit(limit))).scalars().all()
    return SessionList(items=[session_out(r) for r in rows])


async def bump_state_version(db: AsyncSession, session_id: uuid.UUID) -> int:
    """Atomically increment the session's ``state_version``, in the caller's transaction.

    Every write to what a preview is built from (facts, suggested fixes, script
    generations) calls it, so ``(session_id, state_version)`` names one state of the
    session. The single ``UPDATE ... SET state_version = state_version + 1`` takes the
    row lock, so concurrent writers serialise and no increment is lost.
    """
    result = await db.execute(
        update(AiSession)
        .where(AiSession.id == session_id)
        .values(state_version=AiSession.state_version + 1, updated_at=datetime.now(UTC))
        .returning(AiSession.state_version)
    )
    return int(result.scalar_one())
