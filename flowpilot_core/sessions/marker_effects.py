"""The built-in marker effects: QUESTION, CHECK and ACTION propose lane items; PROMOTE records a fact;
SUGGEST_FIX makes the session's active fix (:mod:`flowpilot_core.fixes`).

A plugin like any other (entry point ``marker_effects``): its ``register_marker_effects``
hook registers one effect per marker type.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flowpilot_core import hookimpl
from flowpilot_core.facts import crud as facts_engine
from flowpilot_core.fixes.marker_effect import suggest_fix
from flowpilot_core.markers import ActionMarker, CheckMarker, Marker, PromoteMarker, QuestionMarker
from flowpilot_core.markers.effects import MarkerEffect, TurnContext
from flowpilot_core.sessions.task_lane import ItemKind

log = logging.getLogger("flowpilot.markers")


async def propose_item(turn: TurnContext, marker: Marker) -> None:
    """A proposed question, check or action becomes a lane item (the same proposal keeps its item)."""
    kind: ItemKind
    if isinstance(marker, QuestionMarker):
        kind, text, command, shell = "question", marker.text, None, None
    elif isinstance(marker, CheckMarker):
        kind, text, command, shell = "check", marker.title, marker.command, marker.shell
    elif isinstance(marker, ActionMarker):
        kind, text, command, shell = "action", marker.text, None, None
    else:
        raise TypeError(f"propose_item cannot handle {type(marker).__name__}")
    item, new = turn.lane.add(kind, text, command=command, shell=shell, message_id=str(turn.reply.id))
    turn.link(marker, item.id)
    if new:
        turn.items_added.append(item)


async def promote_fact(turn: TurnContext, marker: Marker) -> None:
    """A confirmed statement, or what a settled lane item established, becomes a fact.

    A fact from an item the technician has not answered yet would disagree with the
    lane, so ``[PROMOTE ref=…]`` naming an open (or unknown) item is ignored.
    """
    if not isinstance(marker, PromoteMarker):
        raise TypeError(f"promote_fact cannot handle {type(marker).__name__}")
    origin: facts_engine.FactOrigin
    if marker.ref:
        item = turn.lane.find(marker.ref)
        if item is None:
            log.warning("[PROMOTE] names item %s, which is not in session %s: ignored", marker.ref, turn.session_id)
            return
        if item.status not in ("answered", "done"):
            log.info("[PROMOTE] names %s item %s in session %s: ignored", item.status, item.id, turn.session_id)
            return
        origin, source_ref = item.rules.fact_origin, item.id
    else:
        origin, source_ref = "ai_synthesis", facts_engine.statement_ref(marker.text)
    fact, created = await facts_engine.promote(
        turn.db, turn.principal, turn.session_id, text=marker.text, origin=origin, source_ref=source_ref
    )
    if created:
        turn.facts_added.append(fact)


BUILTIN_EFFECTS: dict[str, MarkerEffect] = {
    "question": propose_item,
    "check": propose_item,
    "action": propose_item,
    "promote": promote_fact,
    "suggest_fix": suggest_fix,
}


@hookimpl
def register_marker_effects(register: Callable[[str, MarkerEffect], None]) -> None:
    """Register the built-in effects, one per marker type."""
    for name, effect in BUILTIN_EFFECTS.items():
        register(name, effect)
