"""``[SUGGEST_FIX]``'s effect: the fix becomes the session's active suggested fix."""

from __future__ import annotations

from flowpilot_core.fixes.suggested import propose_fix
from flowpilot_core.markers import Marker, SuggestFixMarker
from flowpilot_core.markers.effects import TurnContext


async def suggest_fix(turn: TurnContext, marker: Marker) -> None:
    if not isinstance(marker, SuggestFixMarker):
        raise TypeError(f"suggest_fix cannot handle {type(marker).__name__}")
    fix, created = await propose_fix(
        turn.db,
        turn.principal,
        turn.session_id,
        title=marker.title,
        root_cause=marker.root_cause,
        body=marker.body,
        fact_ids=marker.fact_ids,
        source_message_id=turn.reply.id,
    )
    if created:
        turn.suggested_fix = fix
