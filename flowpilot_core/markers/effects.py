"""Marker effects: what each type of marker does to a session, in one registry.

Parsing turns assistant output into typed markers (:mod:`flowpilot_core.markers.grammar`);
an *effect* gives a marker type its meaning. The chat turn stores the assistant's
reply, then, inside the same (second) transaction, runs the registered effect of each
marker in order. Each effect runs in its own savepoint: one that fails is logged and
rolled back alone, and the reply and the other markers' effects are kept.

The built-in effects (lane items for QUESTION / CHECK / ACTION, facts for PROMOTE) live
with the engines they change (:mod:`flowpilot_core.sessions.marker_effects`); a plugin
that adds a marker type contributes its effect through the ``register_marker_effects``
hook. A marker type without an effect is recorded on the message and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import msgspec

from flowpilot_core.markers.grammar import Marker

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.ext.asyncio import AsyncSession

    from flowpilot_core.accounts import Principal
    from flowpilot_core.db.models import AiMessage, AiSession
    from flowpilot_core.facts.crud import FactOut
    from flowpilot_core.fixes.suggested import SuggestedFixOut
    from flowpilot_core.sessions.task_lane import TaskLane, TaskLaneItem

log = logging.getLogger("flowpilot.markers")


def marker_type(marker: Marker) -> str:
    """The marker's type: its struct tag (``"question"``, ``"suggest_fix"``, ...)."""
    return str(type(marker).__struct_config__.tag)


@dataclass
class TurnContext:
    """What an effect may read and change: the turn's transaction, session, lane and results.

    ``lane`` is written back to the session after all effects ran; effects record what
    they did in ``items_added`` / ``facts_added`` and link a marker to the lane item it
    maps to with :meth:`link` (shown on the message's stored markers as ``item_id``).
    """

    db: AsyncSession
    principal: Principal
    session: AiSession
    lane: TaskLane
    reply: AiMessage
    items_added: list[TaskLaneItem] = field(default_factory=list)
    facts_added: list[FactOut] = field(default_factory=list)
    suggested_fix: SuggestedFixOut | None = None
    """The fix this turn made active, if any."""
    _links: dict[int, str] = field(default_factory=dict)

    @property
    def session_id(self) -> uuid.UUID:
        return self.session.id

    def link(self, marker: Marker, item_id: str) -> None:
        self._links[id(marker)] = item_id

    def linked_item(self, marker: Marker) -> str | None:
        return self._links.get(id(marker))


class MarkerEffect(Protocol):
    """What a marker does to a session; called once per marker of its type, inside the turn's transaction."""

    async def __call__(self, turn: TurnContext, marker: Marker) -> None: ...


async def apply_effects(turn: TurnContext, markers: list[Marker], effects: Mapping[str, MarkerEffect]) -> None:
    """Run each marker's effect in order, each in its own savepoint; a failing one is logged and undone alone."""
    for marker in markers:
        effect = effects.get(marker_type(marker))
        if effect is None:
            continue
        lane_before = msgspec.to_builtins(turn.lane)
        counts, fix_before = (len(turn.items_added), len(turn.facts_added)), turn.suggested_fix
        try:
            async with turn.db.begin_nested():
                await effect(turn, marker)
        except Exception as exc:  # one bad marker must not lose the reply or the other markers
            log.warning("%s marker in session %s not applied: %s", marker_type(marker), turn.session_id, exc)
            turn.lane = msgspec.convert(lane_before, type(turn.lane))
            del turn.items_added[counts[0] :], turn.facts_added[counts[1] :]
            turn.suggested_fix = fix_before
            turn._links.pop(id(marker), None)
