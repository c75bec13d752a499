"""Everything the widget shows when it opens a session, read in one transaction.

``GET /api/v1/ai-sessions/{id}/open`` answers with the session (its task lane included), its live
facts, its suggested fixes and the most recent page of its transcript, so opening a session is one
request instead of five. Each part has the shape of the endpoint that reads it alone (``getSession``,
``listFacts``, ``listSuggestedFixes``, ``listMessages``) and is read as a Core query straight into
its structs, all at the same ``state_version``.
"""

from __future__ import annotations

import uuid

import msgspec

from flowpilot_core.accounts.accounts import Principal
from flowpilot_core.db.rows import Reader, fetch_all
from flowpilot_core.facts.crud import LIVE_FACTS, FactList, fact_from_row
from flowpilot_core.fixes.suggested import FIXES, SuggestedFixes, fix_from_row, suggested_fixes
from flowpilot_core.sessions.lifecycle import SessionOut, get_session
from flowpilot_core.sessions.transcript import MessageList, recent_messages

DEFAULT_MESSAGES = 50


class OpenedSession(msgspec.Struct):
    """What ``GET /api/v1/ai-sessions/{id}/open`` returns."""

    session: SessionOut
    """The session, its task lane in ``pending_task_lane``."""
    facts: FactList
    suggested_fixes: SuggestedFixes
    messages: MessageList
    """The most recent messages; ``older_cursor`` reads the ones before them (``listMessages?before=``)."""


async def open_session(
    db: Reader, principal: Principal, session_id: uuid.UUID, *, messages: int = DEFAULT_MESSAGES
) -> OpenedSession:
    session = await get_session(db, principal, session_id)  # NotFound for another account's session
    params = {"session_id": session_id}
    facts = [fact_from_row(row) for row in await fetch_all(db, LIVE_FACTS, params)]
    fixes = [fix_from_row(row) for row in await fetch_all(db, FIXES, params)]
    transcript = await recent_messages(db, session_id, messages)
    return OpenedSession(
        session=session,
        facts=FactList(items=facts, state_version=session.state_version),
        suggested_fixes=suggested_fixes(fixes, session.state_version),
        messages=transcript,
    )
