"""The transcript as the API shows it: messages in transcript order, the most recent page first.

Read as Core queries straight into :class:`MessageOut` (no ORM object is built), the session's
existence checked in the same query (the session left-joined to a page of its messages), so a
read is one round trip inside the request's transaction.

A page is the *most recent* ``limit`` messages before a position; ``older_cursor`` names the
position of its first message, for the page before it (``None`` once the transcript's start is in).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

import msgspec
from sqlalchemy import bindparam, case, select, true, tuple_

from flowpilot_core.accounts.accounts import Principal
from flowpilot_core.db.models import AiMessage, AiSession
from flowpilot_core.db.rows import Reader, fetch_all, static
from flowpilot_core.errors import InvalidInput, NotFound
from flowpilot_core.sessions.lifecycle import in_account, session_params

MAX_PAGE = 500


class MessageOut(msgspec.Struct):
    id: uuid.UUID
    seq: int
    role: str
    content: str
    """What to show: for the assistant, the reply with markers rendered as text."""
    markers: list[dict[str, Any]]
    client_message_id: str | None
    reply_to_id: uuid.UUID | None
    created_at: datetime
    origin: Literal["chat", "lane"] = "chat"
    """``lane``: FlowPilot wrote it to continue after the technician answered in the task lane."""


class MessageList(msgspec.Struct):
    items: list[MessageOut]
    """In transcript order (a reply directly after the message it answers)."""
    older_cursor: str | None = None
    """Set when older messages exist: pass it as ``before`` to read the page before ``items``."""


def message_out(row: AiMessage) -> MessageOut:
    content = row.display_content if row.role == "assistant" and row.display_content is not None else row.content
    return MessageOut(
        id=row.id,
        seq=row.seq,
        role=row.role,
        content=content,
        markers=list(row.markers or []),
        client_message_id=row.client_message_id,
        reply_to_id=row.reply_to_id,
        created_at=row.created_at,
        origin="lane" if row.origin == "lane" else "chat",
    )


def encode_position(turn_seq: int, seq: int) -> str:
    return f"{turn_seq}.{seq}"


def decode_position(cursor: str) -> tuple[int, int]:
    turn, dot, seq = cursor.partition(".")
    if not dot or not turn.isdigit() or not seq.isdigit() or len(cursor) > 40:
        raise InvalidInput("before is not a cursor this API returned", field="before")
    return int(turn), int(seq)


_SHOWN = case(
    ((AiMessage.role == "assistant") & AiMessage.display_content.is_not(None), AiMessage.display_content),
    else_=AiMessage.content,
)


def _page(session_id: Any, *, before: bool, limit: bool) -> Any:
    """The messages of ``session_id`` newest first: before ``(:before_turn, :before_seq)`` and ``:limit`` + 1
    of them (one more tells whether older ones exist) when asked."""
    query = select(
        AiMessage.id,
        AiMessage.seq,
        AiMessage.turn_seq,
        AiMessage.role,
        _SHOWN.label("content"),
        AiMessage.markers,
        AiMessage.client_message_id,
        AiMessage.reply_to_id,
        AiMessage.created_at,
        AiMessage.origin,
    ).where(AiMessage.session_id == session_id)
    if before:
        query = query.where(
            tuple_(AiMessage.turn_seq, AiMessage.seq) < tuple_(bindparam("before_turn"), bindparam("before_seq"))
        )
    query = query.order_by(AiMessage.turn_seq.desc(), AiMessage.seq.desc())
    return query.limit(bindparam("limit") + 1) if limit else query


def _in_session(before: bool, limit: bool) -> Any:
    """A page with the session's existence checked in the same query (the session left-joined to it)."""
    page = _page(AiSession.id, before=before, limit=limit).lateral("page")
    return (
        select(AiSession.id.label("session_id"), *page.c)
        .select_from(AiSession)
        .outerjoin(page, true())
        .where(in_account())
        .order_by(page.c.turn_seq.desc(), page.c.seq.desc())
    )


# Built once: the four shapes of a page (with or without a position, with or without a limit).
_PAGES = {(b, n): static(_in_session(b, n)) for b in (False, True) for n in (False, True)}
RECENT = static(_page(bindparam("session_id"), before=False, limit=True))
"""The ``:limit`` (+ 1) most recent messages of ``:session_id``, newest first: :func:`message_page`'s rows."""


class RecentRow(msgspec.Struct):
    """A :data:`RECENT` row as PostgreSQL's JSON of it holds it (``GET .../open`` aggregates the page into one
    array that msgspec decodes into these); read by column name, like a driver's record."""

    id: uuid.UUID
    seq: int
    turn_seq: int
    role: str
    content: str
    markers: list[dict[str, Any]] | None
    client_message_id: str | None
    reply_to_id: uuid.UUID | None
    created_at: datetime
    origin: str

    def __getitem__(self, name: str) -> Any:
        return getattr(self, name)


def _message(row: Any) -> MessageOut:
    return MessageOut(
        id=row["id"],
        seq=row["seq"],
        role=row["role"],
        content=row["content"],
        markers=list(row["markers"] or []),
        client_message_id=row["client_message_id"],
        reply_to_id=row["reply_to_id"],
        created_at=row["created_at"],
        origin="lane" if row["origin"] == "lane" else "chat",
    )


def message_page(rows: list[Any], limit: int | None) -> MessageList:
    """A page from :func:`_page` rows (newest first, one more than ``limit`` when older ones exist)."""
    more = limit is not None and len(rows) > limit
    newest_first = rows[:limit] if limit is not None else rows
    items = [_message(r) for r in reversed(newest_first)]
    oldest = newest_first[-1] if newest_first else None
    cursor = encode_position(oldest["turn_seq"], oldest["seq"]) if more and oldest is not None else None
    return MessageList(items=items, older_cursor=cursor)


def check_limit(limit: int | None) -> None:
    """:class:`InvalidInput` unless ``limit`` is a page size the transcript serves."""
    if limit is not None and not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", field="limit")


async def read_messages(
    db: Reader,
    principal: Principal,
    session_id: uuid.UUID,
    *,
    before: str | None = None,
    limit: int | None = None,
) -> MessageList:
    """The ``limit`` most recent messages before ``before`` (every one without ``limit``), in one query."""
    check_limit(limit)
    params: dict[str, Any] = session_params(principal, session_id)
    if before is not None:
        params["before_turn"], params["before_seq"] = decode_position(before)
    if limit is not None:
        params["limit"] = limit
    rows = await fetch_all(db, _PAGES[before is not None, limit is not None], params)
    if not rows:
        raise NotFound(f"session {session_id} not found")
    return message_page([r for r in rows if r["id"] is not None], limit)
