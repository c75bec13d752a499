"""FlowPilot sessions: create, list and read (the chat turn and the task lane build on these)."""

from __future__ import annotations

import base64
import binascii
import functools
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
from sqlalchemy import (
    Integer,
    any_,
    bindparam,
    cast,
    column,
    false,
    func,
    literal_column,
    not_,
    select,
    text,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from flowpilot_core.accounts.accounts import Principal
from flowpilot_core.db.models import EMPTY_TASK_LANE, AiSession
from flowpilot_core.db.rows import Reader, fetch_all, fetch_one, static
from flowpilot_core.errors import Conflict, InvalidInput, NotFound
from flowpilot_core.events import SessionCreated, emit
from flowpilot_core.sessions.task_lane import TaskLane
from flowpilot_core.tickets.ticket import Ticket

SessionStatus = Literal["open", "resolved", "escalated"]
CONNECTION_PATTERN = "^(default|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
MAX_PROBLEM_CHARS = 20_000
Short = Annotated[str, msgspec.Meta(max_length=500)]
Long = Annotated[str, msgspec.Meta(max_length=MAX_PROBLEM_CHARS)]


class CreateSession(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``POST /api/v1/ai-sessions``."""

    problem_statement: Long = ""
    """Required, unless the ticket is read from the PSA (its description, else its summary, is the default)."""
    title: Annotated[str, msgspec.Meta(max_length=300)] | None = None
    session_type: Annotated[str, msgspec.Meta(pattern="^[a-z_]{1,40}$")] = "chat"
    ticket: Ticket | None = None
    psa_provider: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    ticket_ref: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    psa_connection: Annotated[str, msgspec.Meta(pattern=CONNECTION_PATTERN)] | None = None
    """A PSA connection id, or ``default`` (the account's default connection): FlowPilot reads ``ticket_ref``
    from that PSA and snapshots it. An embed token's ticket claim does the same through the account's
    connection for the claim's provider."""
    unlinked: bool = False
    """Open the session without reading or linking a PSA ticket (it then resolves locally), e.g. while the PSA
    is down. The ticket fields a body or an embed token carries are kept as context."""


@dataclass(frozen=True)
class LinkedTicket:
    """The ticket as the PSA gave it, read through one connection (see :mod:`flowpilot_core.sessions.from_ticket`)."""

    connection_id: uuid.UUID
    provider: str
    ref: str
    fields: dict[str, Any]


class SessionOut(msgspec.Struct):
    id: uuid.UUID
    session_type: str
    title: str
    problem_statement: str
    status: str
    psa_provider: str | None
    ticket_ref: str | None
    ticket: dict[str, Any]
    """The ticket snapshot: read from the PSA when the session is linked to a connection, else as given."""
    pending_task_lane: TaskLane
    state_version: int
    owner_user_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = None
    escalated_at: datetime | None = None
    resolution_note_markdown: str | None = None
    """The resolution note as it was posted (or stored, resolved locally)."""
    resolution_note_external_id: str | None = None
    """The note's id in the PSA, when it was posted to one."""
    escalation_package_markdown: str | None = None
    escalation_package_external_id: str | None = None
    psa_connection_id: uuid.UUID | None = None
    """The PSA connection the ticket is read from and the notes go to (none: by ``psa_provider``, or local)."""


class SessionListItem(msgspec.Struct):
    """A session as the list shows it: what it is about, its ticket reference, its status and when it
    changed. The task lane, ticket snapshot and posted notes are in ``GET /api/v1/ai-sessions/{id}``."""

    id: uuid.UUID
    session_type: str
    title: str
    problem_statement: str
    status: str
    psa_provider: str | None
    ticket_ref: str | None
    state_version: int
    owner_user_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = None
    escalated_at: datetime | None = None


class SessionList(msgspec.Struct):
    """One page of sessions; ``next_cursor`` fetches the next page (``None`` on the last one)."""

    items: list[SessionListItem]
    next_cursor: str | None = None


def session_out(row: AiSession) -> SessionOut:
    return msgspec.convert(row, SessionOut, from_attributes=True)


_LIST_COLUMNS = tuple(getattr(AiSession, name) for name in SessionListItem.__struct_fields__)
SESSION_COLUMNS = (
    *_LIST_COLUMNS,
    AiSession.ticket_snapshot,
    AiSession.pending_task_lane,
    AiSession.resolution_note_markdown,
    AiSession.resolution_note_external_id,
    AiSession.escalation_package_markdown,
    AiSession.escalation_package_external_id,
)
"""The columns of a :class:`SessionOut`, for Core reads that skip building ORM objects."""


def session_from_row(row: Any) -> SessionOut:
    """A :class:`SessionOut` from a Core row of :data:`SESSION_COLUMNS`."""
    return SessionOut(
        id=row["id"],
        session_type=row["session_type"],
        title=row["title"],
        problem_statement=row["problem_statement"],
        status=row["status"],
        psa_provider=row["psa_provider"],
        ticket_ref=row["ticket_ref"],
        ticket=dict(row["ticket_snapshot"] or {}),
        pending_task_lane=msgspec.convert(row["pending_task_lane"] or EMPTY_TASK_LANE, TaskLane),
        state_version=row["state_version"],
        owner_user_id=row["owner_user_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        resolved_at=row["resolved_at"],
        escalated_at=row["escalated_at"],
        resolution_note_markdown=row["resolution_note_markdown"],
        resolution_note_external_id=row["resolution_note_external_id"],
        escalation_package_markdown=row["escalation_package_markdown"],
        escalation_package_external_id=row["escalation_package_external_id"],
    )


def in_account() -> Any:
    """``id = :session_id AND account_id = :account_id``: the statements below are built once, at import
    (a hot read then costs no statement building), and take these two parameters."""
    return (AiSession.id == bindparam("session_id")) & (AiSession.account_id == bindparam("account_id"))


def session_params(principal: Principal, session_id: uuid.UUID) -> dict[str, Any]:
    return {"session_id": session_id, "account_id": principal.account_id}


_GET_SESSION = static(select(*SESSION_COLUMNS).where(in_account()))
_GET_TASK_LANE = static(select(AiSession.pending_task_lane).where(in_account()))


def _title(data: CreateSession, ticket: dict[str, Any]) -> str:
    if data.title and data.title.strip():
        return data.title.strip()
    source = ticket.get("summary") or data.problem_statement
    first_line = source.strip().splitlines()[0] if source.strip() else "FlowPilot session"
    return first_line if len(first_line) <= 80 else first_line[:79].rstrip() + "…"


def _refuse_another_ticket(signed: dict[str, Any], data: CreateSession) -> None:
    body_ticket = data.ticket or Ticket()
    for field, sent, claimed in (
        ("ticket_ref", data.ticket_ref, signed.get("ref")),
        ("psa_provider", data.psa_provider, signed.get("provider")),
        ("ticket.ref", body_ticket.ref, signed.get("ref")),
        ("ticket.provider", body_ticket.provider, signed.get("provider")),
    ):
        if sent is not None and sent != claimed:
            raise Conflict(
                f"{field} {sent!r} is not the ticket signed into the embed token ({claimed!r}); "
                "omit it or send the same value",
                field=field,
            )


def requested_ticket(principal: Principal, data: CreateSession) -> tuple[str | None, str | None]:
    """The (provider, ref) the session is opened on: the embed token's claim, else the body's.
    A body naming another ticket than the claim is a :class:`Conflict`."""
    if principal.ticket is not None:
        _refuse_another_ticket(principal.ticket, data)
        return principal.ticket.get("provider"), principal.ticket.get("ref")
    body_ticket = data.ticket or Ticket()
    return data.psa_provider or body_ticket.provider, data.ticket_ref or body_ticket.ref


async def create_session(
    db: AsyncSession, principal: Principal, data: CreateSession, *, linked: LinkedTicket | None = None
) -> SessionOut:
    """Open a session. A ticket signed into the embed token is the session's ticket: its fields win over
    the body's ``ticket`` (which may only add fields the claim lacks), and a body naming another ticket
    (``ticket_ref``, ``psa_provider``, or ``ticket.ref``/``ticket.provider``) is refused with :class:`Conflict`.
    A ticket read from the PSA (``linked``) wins over both; ``unlinked`` keeps the fields but no link."""
    problem = data.problem_statement.strip()
    if not problem and linked is not None:
        problem = (linked.fields.get("description") or linked.fields.get("summary") or "").strip()
    if not problem:
        raise InvalidInput("problem_statement must not be empty", field="problem_statement")
    body_ticket: dict[str, Any] = msgspec.to_builtins(data.ticket) if data.ticket else {}
    if principal.ticket is not None:
        _refuse_another_ticket(principal.ticket, data)
        ticket = {**body_ticket, **principal.ticket}
    else:
        ticket = body_ticket
    ticket_provider, ticket_ref_claim = ticket.pop("provider", None), ticket.pop("ref", None)
    provider = data.psa_provider or ticket_provider
    ticket_ref = data.ticket_ref or ticket_ref_claim
    for field, value, limit in (("ticket.provider", provider, 64), ("ticket.ref", ticket_ref, 200)):
        if value is not None and len(value) > limit:  # the body's ticket_ref/psa_provider may be longer
            raise InvalidInput(f"{field} must be at most {limit} characters", field=field)
    connection_id = None
    if linked is not None:
        ticket = {**ticket, **linked.fields}
        provider, ticket_ref, connection_id = linked.provider, linked.ref, linked.connection_id
    elif data.unlinked:
        provider = ticket_ref = None
    row = AiSession(
        account_id=principal.account_id,
        owner_user_id=principal.user_id,
        session_type=data.session_type,
        title=_title(data, ticket),
        problem_statement=problem[:MAX_PROBLEM_CHARS],
        ticket_snapshot=ticket,
        psa_provider=provider,
        psa_connection_id=connection_id,
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


async def get_session(db: Reader, principal: Principal, session_id: uuid.UUID) -> SessionOut:
    """The session as the API shows it, read as one Core query (no ORM object is built)."""
    row = await fetch_one(db, _GET_SESSION, session_params(principal, session_id))
    if row is None:
        raise NotFound(f"session {session_id} not found")
    return session_from_row(row)


async def get_task_lane(db: Reader, principal: Principal, session_id: uuid.UUID) -> TaskLane:
    """The session's task lane alone (one column of one row)."""
    row = await fetch_one(db, _GET_TASK_LANE, session_params(principal, session_id))
    lane = None if row is None else row[0]
    if lane is None:
        raise NotFound(f"session {session_id} not found")
    return msgspec.convert(lane, TaskLane)


def encode_cursor(updated_at: datetime, session_id: uuid.UUID) -> str:
    """An opaque, url-safe token for the position just after the session (``updated_at``, ``id``)."""
    raw = f"{updated_at.isoformat()}|{session_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The (``updated_at``, ``id``) a cursor from :func:`encode_cursor` holds; :class:`InvalidInput` otherwise."""
    if len(cursor) > 200:  # far longer than any cursor encode_cursor makes
        raise InvalidInput("cursor is not a cursor this API returned", field="cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, ident = raw.partition("|")
        updated_at, session_id = datetime.fromisoformat(stamp), uuid.UUID(ident)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput("cursor is not a cursor this API returned", field="cursor") from None
    if updated_at.tzinfo is None:
        raise InvalidInput("cursor is not a cursor this API returned", field="cursor")
    return updated_at, session_id


async def list_sessions(
    db: Reader,
    principal: Principal,
    *,
    status: SessionStatus | None = None,
    session_type: str | None = None,
    q: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> SessionList:
    """Most recently updated first; ``q`` searches title, problem, ticket reference and summary
    (every word of ``q``, as :func:`search_words` finds them, starts a word of the session, in any order;
    ``q`` with no word matches nothing).

    Keyset pagination on (``updated_at`` DESC, ``id`` DESC): a page starts strictly after the
    cursor's position, so a session created meanwhile (newer, so before the cursor) never makes
    a later page repeat or skip an item, as an OFFSET would.
    """
    if not 1 <= limit <= 200:
        raise InvalidInput("limit must be between 1 and 200", field="limit")
    params: dict[str, Any] = {"account_id": principal.account_id, "limit": limit + 1}
    if cursor is not None:
        params["after_updated"], params["after_id"] = decode_cursor(cursor)
    if status:
        params["status"] = status
    if session_type:
        params["session_type"] = session_type
    if q is not None and q.strip():
        words = search_words(q)
        if not words:
            return SessionList(items=[], next_cursor=None)  # a query of no word matches nothing
        params |= search_params(words)
    query = _list_query(cursor is not None, bool(status), bool(session_type), "tsquery" in params)
    rows = await fetch_all(db, query, params)
    page, more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor(page[-1]["updated_at"], page[-1]["id"]) if more else None
    items = [SessionListItem(*r) for r in page]  # _LIST_COLUMNS: its fields, in order
    return SessionList(items=items, next_cursor=next_cursor)


@functools.cache
def _list_query(after: bool, status: bool, session_type: bool, search: bool) -> Any:
    """The session list of one shape (which filters it has), built and compiled once; its values are parameters."""
    query = select(*_LIST_COLUMNS).where(AiSession.account_id == bindparam("account_id"))
    if after:
        # A row comparison, which PostgreSQL turns into an index range on (updated_at): the page starts
        # at the cursor instead of filtering every newer row.
        position = tuple_(
            bindparam("after_updated", type_=AiSession.updated_at.type), bindparam("after_id", type_=AiSession.id.type)
        )
        query = query.where(tuple_(AiSession.updated_at, AiSession.id) < position)
    if status:
        query = query.where(AiSession.status == bindparam("status"))
    if session_type:
        query = query.where(AiSession.session_type == bindparam("session_type"))
    newest_first = (AiSession.updated_at.desc(), AiSession.id.desc())
    if not search:
        return static(query.order_by(*newest_first).limit(bindparam("limit")))
    tsquery = func.to_tsquery(literal_column("'simple'::regconfig"), bindparam("tsquery"))
    query = query.where(AiSession.search_vector.bool_op("@@")(tsquery))
    # Two plans, one of which runs (the other's gate is false, so PostgreSQL never starts it): the sessions
    # of the query's rarest word, from the word index, when it has few; else the walk newest first.
    rarest = _RAREST_WORD.cte("rarest_word")
    few = select(func.cardinality(rarest.c.ids) < cast(bindparam("search_enough"), Integer)).scalar_subquery()
    ids = cast(select(rarest.c.ids).scalar_subquery(), ARRAY(UUID(as_uuid=True)))
    by_word = query.where(few, AiSession.id == any_(ids)).order_by(*newest_first).limit(bindparam("limit"))
    walk = query.where(not_(func.coalesce(few, false()))).order_by(*newest_first).limit(bindparam("limit"))
    found = union_all(by_word, walk).subquery("found")
    return static(select(*found.c).order_by(found.c.updated_at.desc(), found.c.id.desc()).limit(bindparam("limit")))


SEARCH_FEW = 500
"""A search word with at most this many sessions in the account is looked up in the word index and only its
sessions tested (a page costs at most this many row reads, however large the account); a word more sessions
have is searched by walking the account newest first, which finds a page of such a word within a few hundred
rows (at 10,000 sessions, one in 20 has it)."""

_PAST_ANY_WORD = "\U0010ffff"
"""Appended to a prefix, the end of its range in the "C" collation: no word holds U+10FFFF (the search document
keeps letters and digits only), so every word that starts with the prefix sorts before it."""

_RAREST_WORD = text(
    # Each word of the query as the search document's parser and dictionary make it (the lexemes to_tsquery
    # makes), with up to :search_enough of the sessions having a word it starts; the word with fewest. The
    # range's ends are computed outside the word lookup (OFFSET 0 keeps them there): with ``||`` (not leakproof)
    # inside it, PostgreSQL applied the range's end after the tenant policy instead of in the index (23 ms for
    # a rare word at 10,000 sessions, bench/list_scaling.py). The OFFSET 0 of the lookup runs it once per word.
    'SELECT found.ids FROM (SELECT lexeme COLLATE "C" AS low, (lexeme || :search_past) COLLATE "C" AS high '
    "FROM unnest(tsvector_to_array(to_tsvector('simple'::regconfig, :search_text))) AS lexeme OFFSET 0) AS prefix "
    "CROSS JOIN LATERAL (SELECT ARRAY(SELECT w.session_id FROM session_search_words AS w "
    "WHERE w.word >= prefix.low AND w.word < prefix.high LIMIT CAST(:search_enough AS integer)) AS ids "
    "OFFSET 0) AS found "
    "ORDER BY cardinality(found.ids) LIMIT 1"
).columns(column("ids", ARRAY(UUID(as_uuid=True))))


def search_params(words: list[str]) -> dict[str, Any]:
    """The parameters of a searching :func:`_list_query` for ``words`` (from :func:`search_words`)."""
    return {
        "tsquery": " & ".join(f"{w}:*" for w in words),
        "search_text": " ".join(words),
        "search_enough": SEARCH_FEW + 1,
        "search_past": _PAST_ANY_WORD,
    }


def search_words(q: str) -> list[str]:
    """The words of a search (letters and digits; at most 20), lower-cased."""
    return re.findall(r"[^\W_]+", q.lower())[:20]


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
