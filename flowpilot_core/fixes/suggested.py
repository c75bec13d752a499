"""Suggested fixes: what the assistant proposes, one active per session, and the technician's decision.

A new fix supersedes the active one (``superseded_by_id`` keeps the link); the same
fix proposed again (same title, root cause and steps, whitespace and case aside)
changes nothing. The database enforces one active fix per session (a partial unique
index), so two turns racing cannot leave two. A fix names the facts it rests on;
only ids of the session's live facts are kept, so a fix never cites what is not known.
Every write bumps the session's ``state_version``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec
from sqlalchemy import bindparam, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from flowpilot_core.accounts import Principal
from flowpilot_core.db.models import AiSession, SessionFact, SessionSuggestedFix
from flowpilot_core.db.rows import Reader, fetch_all, static
from flowpilot_core.errors import Conflict, NotFound
from flowpilot_core.events import FixDecided, FixSuggested, emit
from flowpilot_core.sessions.lifecycle import bump_state_version, get_session_row, in_account, session_params

FixDecision = Literal["one_off", "draft_template", "build_template", "dismissed"]
MAX_TITLE_CHARS = 300


class SuggestedFixOut(msgspec.Struct):
    id: uuid.UUID
    session_id: uuid.UUID
    title: str
    root_cause: str | None
    body: str
    """The fix steps."""
    fact_ids: list[uuid.UUID]
    """The live facts the fix rests on (as they were when it was proposed)."""
    status: Literal["active", "superseded"]
    superseded_by_id: uuid.UUID | None
    user_decision: FixDecision | None
    decided_by_user_id: uuid.UUID | None
    decided_at: datetime | None
    source_message_id: uuid.UUID | None
    created_at: datetime


class SuggestedFixes(msgspec.Struct):
    active: SuggestedFixOut | None
    history: list[SuggestedFixOut]
    """Every fix of the session, newest first (the active one included)."""
    state_version: int


class DecideFix(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``POST .../suggested-fixes/{fix_id}/decision``."""

    decision: FixDecision


def fix_out(row: SessionSuggestedFix) -> SuggestedFixOut:
    return msgspec.convert(row, SuggestedFixOut, from_attributes=True)


def _same(row: SessionSuggestedFix, title: str, root_cause: str | None, body: str) -> bool:
    def norm(text: str | None) -> str:
        return " ".join((text or "").lower().split())

    return (norm(row.title), norm(row.root_cause), norm(row.body)) == (norm(title), norm(root_cause), norm(body))


async def _live_fact_ids(db: AsyncSession, session_id: uuid.UUID, cited: tuple[str, ...]) -> list[str]:
    wanted: list[uuid.UUID] = []
    for ref in cited:
        try:
            wanted.append(uuid.UUID(ref))
        except ValueError:
            continue
    if not wanted:
        return []
    rows = await db.execute(
        select(SessionFact.id).where(
            SessionFact.session_id == session_id, SessionFact.id.in_(wanted), SessionFact.deleted_at.is_(None)
        )
    )
    live = {row for row in rows.scalars()}
    return [str(fact_id) for fact_id in dict.fromkeys(wanted) if fact_id in live]


async def active_fix(db: AsyncSession, session_id: uuid.UUID) -> SessionSuggestedFix | None:
    query = select(SessionSuggestedFix).where(
        SessionSuggestedFix.session_id == session_id, SessionSuggestedFix.status == "active"
    )
    return (await db.execute(query)).scalar_one_or_none()


async def propose_fix(
    db: AsyncSession,
    principal: Principal,
    session_id: uuid.UUID,
    *,
    title: str,
    root_cause: str | None,
    body: str,
    fact_ids: tuple[str, ...] = (),
    source_message_id: uuid.UUID | None = None,
) -> tuple[SuggestedFixOut, bool]:
    """Make this the session's active fix. Returns (fix, created); the caller holds the session's row lock."""
    title = " ".join(title.split())[:MAX_TITLE_CHARS]
    root_cause = root_cause.strip() if root_cause and root_cause.strip() else None
    current = await active_fix(db, session_id)
    if current is not None and _same(current, title, root_cause, body):
        return fix_out(current), False
    if current is not None:
        current.status = "superseded"
        await db.flush()  # the partial unique index allows the new active fix only once this one is not
    row = SessionSuggestedFix(
        account_id=principal.account_id,
        session_id=session_id,
        title=title,
        root_cause=root_cause,
        body=body.strip(),
        fact_ids=await _live_fact_ids(db, session_id, fact_ids),
        source_message_id=source_message_id,
    )
    db.add(row)
    await db.flush()
    if current is not None:
        current.superseded_by_id = row.id
        await db.flush()
    await bump_state_version(db, session_id)
    await db.refresh(row)
    emit(
        db,
        FixSuggested(
            account_id=principal.account_id,
            session_id=session_id,
            fix_id=row.id,
            superseded_fix_id=current.id if current is not None else None,
        ),
    )
    return fix_out(row), True


FIX_COLUMNS = tuple(getattr(SessionSuggestedFix, name) for name in SuggestedFixOut.__struct_fields__)
"""The columns of a :class:`SuggestedFixOut`, for Core reads straight into the struct."""


FIXES = static(
    select(*FIX_COLUMNS)
    .where(SessionSuggestedFix.session_id == bindparam("session_id"))
    .order_by(SessionSuggestedFix.created_at.desc(), SessionSuggestedFix.id)
)
"""Every fix of the session ``:session_id`` as :data:`FIX_COLUMNS` rows, newest first."""

_fixes = FIXES.subquery()
_LIST_FIXES = static(  # the session left-joined to its fixes: no row, no session (or another account's)
    select(AiSession.state_version, *_fixes.c)
    .select_from(AiSession)
    .outerjoin(_fixes, true())
    .where(in_account())
    .order_by(_fixes.c.created_at.desc(), _fixes.c.id)
)


_FACT_IDS = SuggestedFixOut.__struct_fields__.index("fact_ids")


def fix_from_row(row: Sequence[Any]) -> SuggestedFixOut:
    """A :class:`SuggestedFixOut` from the values of :data:`FIX_COLUMNS`, in order."""
    values = list(row)
    values[_FACT_IDS] = [uuid.UUID(str(f)) for f in values[_FACT_IDS] or []]
    return SuggestedFixOut(*values)


def suggested_fixes(rows: list[SuggestedFixOut], state_version: int) -> SuggestedFixes:
    active = next((f for f in rows if f.status == "active"), None)
    return SuggestedFixes(active=active, history=rows, state_version=state_version)


async def list_fixes(db: Reader, principal: Principal, session_id: uuid.UUID) -> SuggestedFixes:
    """The fixes and the session's ``state_version``, in one query."""
    rows = await fetch_all(db, _LIST_FIXES, session_params(principal, session_id))
    if not rows:
        raise NotFound(f"session {session_id} not found")
    history = [fix_from_row(row[1:]) for row in rows if row["id"] is not None]  # FIX_COLUMNS follow state_version
    return suggested_fixes(history, rows[0]["state_version"])


async def decide_fix(
    db: AsyncSession, principal: Principal, session_id: uuid.UUID, fix_id: uuid.UUID, decision: FixDecision
) -> SuggestedFixOut:
    """Record the technician's decision on the active fix (who and when); a superseded fix is a 409."""
    await get_session_row(db, principal, session_id, lock=True)
    row = (
        await db.execute(
            select(SessionSuggestedFix).where(
                SessionSuggestedFix.id == fix_id, SessionSuggestedFix.session_id == session_id
            )
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"suggested fix {fix_id} not found in session {session_id}")
    if row.status != "active":
        raise Conflict(f"suggested fix {fix_id} was superseded by a newer fix; decide on the active one")
    await db.execute(
        update(SessionSuggestedFix)
        .where(SessionSuggestedFix.id == fix_id)
        .values(user_decision=decision, decided_by_user_id=principal.user_id, decided_at=datetime.now(UTC))
    )
    await bump_state_version(db, session_id)
    await db.refresh(row)
    emit(
        db,
        FixDecided(
            account_id=principal.account_id,
            session_id=session_id,
            fix_id=fix_id,
            decision=decision,
            user_id=principal.user_id,
        ),
    )
    return fix_out(row)
