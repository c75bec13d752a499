"""Facts ("What We Know"): CRUD and promotion from task-lane items.

Every write to facts increments the session's ``state_version`` in the same
transaction (:func:`flowpilot_core.sessions.lifecycle.bump_state_version`).

Facts from questions and checks are read-only (they say what the technician answered
or what a check printed); manual notes and AI-synthesised facts are editable. Delete
is soft: a deleted fact stays in the table for the record.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
from sqlalchemy import bindparam, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from flowpilot_core.accounts.accounts import Principal
from flowpilot_core.db.models import AiSession, SessionFact
from flowpilot_core.db.rows import Reader, fetch_all, static
from flowpilot_core.errors import Conflict, InvalidInput, NotFound
from flowpilot_core.sessions.lifecycle import bump_state_version, get_session_row, in_account, session_params

MAX_FACT_CHARS = 2000
FactOrigin = Literal["question", "check", "manual", "ai_synthesis"]
FactText = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_FACT_CHARS)]


class FactOut(msgspec.Struct):
    id: uuid.UUID
    session_id: uuid.UUID
    text: str
    origin: str
    source_ref: str | None
    editable: bool
    author_user_id: uuid.UUID | None
    updated_by_user_id: uuid.UUID | None
    """Who last edited the text; ``None`` until someone edits it."""
    created_at: datetime
    updated_at: datetime


class FactList(msgspec.Struct):
    items: list[FactOut]
    state_version: int


class CreateFact(msgspec.Struct, forbid_unknown_fields=True):
    """A manual note."""

    text: FactText


class UpdateFact(msgspec.Struct, forbid_unknown_fields=True):
    text: FactText


class PromoteItem(msgspec.Struct, forbid_unknown_fields=True):
    """Promote a task-lane item; ``text`` defaults to what the item's answer or output says."""

    source_ref: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    text: FactText | None = None


def fact_out(row: SessionFact) -> FactOut:
    return msgspec.convert(row, FactOut, from_attributes=True)


def _clean(text: str) -> str:
    text = " ".join(text.split())
    if not text:
        raise InvalidInput("fact text must not be empty", field="text")
    if len(text) > MAX_FACT_CHARS:
        raise InvalidInput(f"fact text is longer than {MAX_FACT_CHARS} characters", field="text")
    return text


FACT_COLUMNS = tuple(getattr(SessionFact, name) for name in FactOut.__struct_fields__)
"""The columns of a :class:`FactOut`, in its fields' order, for Core reads straight into the struct."""


def fact_from_row(row: Sequence[Any]) -> FactOut:
    """A :class:`FactOut` from the values of :data:`FACT_COLUMNS`, in order (positional: no per-row mapping)."""
    return FactOut(*row)  # one value per field, in order, by the construction of FACT_COLUMNS


LIVE_FACTS = static(
    select(*FACT_COLUMNS)
    .where(SessionFact.session_id == bindparam("session_id"), SessionFact.deleted_at.is_(None))
    .order_by(SessionFact.created_at, SessionFact.id)
)
"""The live facts of the session ``:session_id`` as :data:`FACT_COLUMNS` rows, in order."""

_live = LIVE_FACTS.subquery()
_LIST_FACTS = static(  # the session left-joined to its facts: no row, no session (or another account's)
    select(AiSession.state_version, *_live.c)
    .select_from(AiSession)
    .outerjoin(_live, true())
    .where(in_account())
    .order_by(_live.c.created_at, _live.c.id)
)


async def list_facts(db: Reader, principal: Principal, session_id: uuid.UUID) -> FactList:
    """The live facts and the session's ``state_version``, in one query."""
    rows = await fetch_all(db, _LIST_FACTS, session_params(principal, session_id))
    if not rows:
        raise NotFound(f"session {session_id} not found")
    items = [fact_from_row(row[1:]) for row in rows if row["id"] is not None]  # FACT_COLUMNS follow state_version
    return FactList(items=items, state_version=rows[0]["state_version"])


async def live_facts(db: AsyncSession, session_id: uuid.UUID) -> list[SessionFact]:
    rows = await db.execute(
        select(SessionFact)
        .where(SessionFact.session_id == session_id, SessionFact.deleted_at.is_(None))
        .order_by(SessionFact.created_at, SessionFact.id)
    )
    return list(rows.scalars())


async def create_manual_fact(db: AsyncSession, principal: Principal, session_id: uuid.UUID, text: str) -> FactOut:
    await get_session_row(db, principal, session_id)
    row = SessionFact(
        account_id=principal.account_id,
        session_id=session_id,
        text=_clean(text),
        origin="manual",
        editable=True,
        author_user_id=principal.user_id,
    )
    db.add(row)
    await db.flush()
    await bump_state_version(db, session_id)
    await db.refresh(row)
    return fact_out(row)


async def _get_fact(db: AsyncSession, principal: Principal, session_id: uuid.UUID, fact_id: uuid.UUID) -> SessionFact:
    await get_session_row(db, principal, session_id)
    row = (
        await db.execute(
            select(SessionFact)
            .where(SessionFact.id == fact_id, SessionFact.session_id == session_id, SessionFact.deleted_at.is_(None))
            .with_for_update()
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"fact {fact_id} not found in session {session_id}")
    return row


async def update_fact(
    db: AsyncSession, principal: Principal, session_id: uuid.UUID, fact_id: uuid.UUID, text: str
) -> FactOut:
    row = await _get_fact(db, principal, session_id, fact_id)
    if not row.editable:
        raise Conflict(
            f"this fact comes from a {row.origin} and is read-only: it records what the "
            f"{'technician answered' if row.origin == 'question' else 'check printed'}; "
            "add a note instead"
        )
    new_text = _clean(text)
    if new_text != row.text:
        row.text = new_text
        row.updated_by_user_id = principal.user_id
        row.updated_at = datetime.now(UTC)
        await db.flush()
        await bump_state_version(db, session_id)
    return fact_out(row)


async def delete_fact(db: AsyncSession, principal: Principal, session_id: uuid.UUID, fact_id: uuid.UUID) -> None:
    row = await _get_fact(db, principal, session_id, fact_id)
    row.deleted_at = datetime.now(UTC)
    await db.flush()
    await bump_state_version(db, session_id)


def statement_ref(text: str) -> str:
    """A stable ``source_ref`` for a promoted statement, so promoting it again is a no-op."""
    return "statement:" + hashlib.sha256(" ".join(text.lower().split()).encode()).hexdigest()[:32]


async def promote(
    db: AsyncSession,
    principal: Principal,
    session_id: uuid.UUID,
    *,
    text: str,
    origin: FactOrigin,
    source_ref: str,
) -> tuple[FactOut, bool]:
    """Create the fact for ``source_ref`` unless a live one exists. Returns (fact, created).

    Idempotent under concurrency: the partial unique index on (session, source_ref)
    decides, and the loser reads the winner's fact.
    """
    editable = origin in ("manual", "ai_synthesis")
    inserted = (
        await db.execute(
            pg_insert(SessionFact)
            .values(
                account_id=principal.account_id,
                session_id=session_id,
                text=_clean(text),
                origin=origin,
                source_ref=source_ref,
                editable=editable,
                author_user_id=principal.user_id,
            )
            .on_conflict_do_nothing(
                index_elements=["session_id", "source_ref"],
                index_where=SessionFact.deleted_at.is_(None) & SessionFact.source_ref.is_not(None),
            )
            .returning(SessionFact.id)
        )
    ).scalar_one_or_none()
    if inserted is not None:
        await bump_state_version(db, session_id)
    row = (
        await db.execute(
            select(SessionFact)
            .where(
                SessionFact.session_id == session_id,
                SessionFact.source_ref == source_ref,
                SessionFact.deleted_at.is_(None),
            )
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    return fact_out(row), inserted is not None


async def retire_facts_from(db: AsyncSession, session_id: uuid.UUID, source_ref: str) -> bool:
    """Soft-delete the live fact of a source (its answer changed); True if there was one."""
    result = await db.execute(
        update(SessionFact)
        .where(
            SessionFact.session_id == session_id, SessionFact.source_ref == source_ref, SessionFact.deleted_at.is_(None)
        )
        .values(deleted_at=datetime.now(UTC))
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
