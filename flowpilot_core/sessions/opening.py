"""Everything the widget shows when it opens a session, read in one transaction.

``GET /api/v1/ai-sessions/{id}/open`` answers with the session (its task lane included), its live
facts, its suggested fixes and the most recent page of its transcript, so opening a session is one
request instead of five. Each part has the shape of the endpoint that reads it alone (``getSession``,
``listFacts``, ``listSuggestedFixes``, ``listMessages``), all at the same ``state_version``.

One query: the session's row with its facts, its fixes and the transcript's most recent page, each
aggregated by PostgreSQL into one JSON array that msgspec decodes straight into structs (no row-by-row
work in the driver).
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from sqlalchemy import Text, cast, func, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from flowpilot_core.accounts.accounts import Principal
from flowpilot_core.db.rows import Reader, fetch_one, static
from flowpilot_core.errors import NotFound
from flowpilot_core.facts.crud import LIVE_FACTS, FactList, FactOut
from flowpilot_core.fixes.suggested import FIXES, SuggestedFixes, SuggestedFixOut, suggested_fixes
from flowpilot_core.sessions.lifecycle import SESSION_COLUMNS, SessionOut, in_account, session_from_row, session_params
from flowpilot_core.sessions.transcript import RECENT, MessageList, RecentRow, check_limit, message_page

DEFAULT_MESSAGES = 50


class OpenedSession(msgspec.Struct):
    """What ``GET /api/v1/ai-sessions/{id}/open`` returns."""

    session: SessionOut
    """The session, its task lane in ``pending_task_lane``."""
    facts: FactList
    suggested_fixes: SuggestedFixes
    messages: MessageList
    """The most recent messages; ``older_cursor`` reads the ones before them (``listMessages?before=``)."""


def json_array(statement: Any, *order: str) -> Any:
    """``statement``'s rows as one JSON array (text) of objects keyed by its column names, ordered by the
    columns ``order`` names (``-name``: descending); ``[]`` for no row."""
    rows = statement.subquery("r")
    keys = [rows.c[name[1:]].desc() if name.startswith("-") else rows.c[name] for name in order]
    aggregated = func.json_agg(aggregate_order_by(literal_column("r"), *keys))
    return (
        select(cast(func.coalesce(aggregated, literal_column("'[]'::json")), Text))
        .select_from(rows)
        .scalar_subquery()
    )


_OPEN = static(
    select(
        *SESSION_COLUMNS,
        json_array(LIVE_FACTS, "created_at", "id").label("facts_json"),
        json_array(FIXES, "-created_at", "id").label("fixes_json"),
        json_array(RECENT, "-turn_seq", "-seq").label("messages_json"),
    ).where(in_account())
)
_FACTS = msgspec.json.Decoder(list[FactOut])
_FIXES = msgspec.json.Decoder(list[SuggestedFixOut])
_MESSAGES = msgspec.json.Decoder(list[RecentRow])


async def open_session(
    db: Reader, principal: Principal, session_id: uuid.UUID, *, messages: int = DEFAULT_MESSAGES
) -> OpenedSession:
    check_limit(messages)
    row = await fetch_one(db, _OPEN, {**session_params(principal, session_id), "limit": messages})
    if row is None:  # another account's session is indistinguishable from none
        raise NotFound(f"session {session_id} not found")
    session = session_from_row(row)
    return OpenedSession(
        session=session,
        facts=FactList(items=_FACTS.decode(row["facts_json"]), state_version=session.state_version),
        suggested_fixes=suggested_fixes(_FIXES.decode(row["fixes_json"]), session.state_version),
        messages=message_page(_MESSAGES.decode(row["messages_json"]), messages),
    )
