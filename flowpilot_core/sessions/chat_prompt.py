"""The chat call: FlowPilot's instructions and how a stored session becomes one cached request.

Stable parts first (system sections, the ticket, the account), then the transcript
echoed verbatim, then the growing facts and task lane; the same stored session gives
byte-identical requests in any process. The model always sees a well-formed,
alternating conversation: consecutive technician messages (one whose turn failed,
then another) are joined into one user turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flowpilot_core.accounts import Principal, get_account
from flowpilot_core.ai.types import CallSpec, ChatMessage, Role
from flowpilot_core.db.models import AiMessage, AiSession
from flowpilot_core.facts import crud as facts_engine
from flowpilot_core.markers import MARKER_GRAMMAR_PROMPT
from flowpilot_core.sessions.task_lane import TaskLane, lane_of

ROLE_PROMPT = """You are FlowPilot, a troubleshooting copilot for technicians at IT managed-service providers.
You help one technician resolve one ticket. Work like a senior engineer: form hypotheses from the ticket,
ask one or two precise questions at a time, and propose diagnostic checks with the exact command to run
(PowerShell unless the platform says otherwise). Be conservative: state as known only what the technician
confirmed or a check showed, and promote such confirmed statements into facts. Never invent ticket details,
outputs or results. Keep replies short and practical; the technician is busy."""

SYSTEM_SECTIONS: tuple[str, ...] = (ROLE_PROMPT, MARKER_GRAMMAR_PROMPT)
TURN_SEPARATOR = "\n\n"


def stable_context(session: AiSession, account_name: str | None = None) -> dict[str, Any]:
    """The parts of the session that do not change turn to turn (cached)."""
    ticket = {k: v for k, v in (session.ticket_snapshot or {}).items() if v}
    ticket["problem_statement"] = session.problem_statement
    if session.ticket_ref:
        ticket["ref"] = session.ticket_ref
    context: dict[str, Any] = {"ticket": ticket}
    if account_name:
        context["account"] = {"name": account_name}
    return context


def lane_context(lane: TaskLane) -> list[dict[str, Any]]:
    """The lane as the model sees it: every item with its id (for ``[PROMOTE ref=…]``) and state."""
    keys = ("id", "kind", "text", "command", "status", "answer", "output")
    return [{k: getattr(item, k) for k in keys if getattr(item, k) is not None} for item in lane.items()]


def transcript_order() -> tuple[Any, ...]:
    """Transcript order: a reply directly after the message it answers, however late it finished."""
    return (AiMessage.turn_seq, AiMessage.seq)


def conversation(messages: Sequence[AiMessage], request: str) -> tuple[tuple[ChatMessage, ...], str]:
    """History and request as an alternating conversation that starts with the technician and ends with FlowPilot.

    Consecutive messages of one role are joined; technician messages after the last
    reply (a turn that failed, then the new message) are joined into the request.
    """
    turns: list[ChatMessage] = []
    for message in messages:
        if message.status != "complete" or not message.content:
            continue
        role: Role = "assistant" if message.role == "assistant" else "user"
        if turns and turns[-1].role == role:
            turns[-1] = ChatMessage(role=role, content=turns[-1].content + TURN_SEPARATOR + message.content)
        else:
            turns.append(ChatMessage(role=role, content=message.content))
    if turns and turns[0].role == "assistant":  # the API's conversation starts with a user turn
        turns.pop(0)
    if turns and turns[-1].role == "user":
        request = turns.pop().content + TURN_SEPARATOR + request
    return tuple(turns), request


async def build_chat_spec(
    db: AsyncSession, principal: Principal, session: AiSession, request: str, *, before_turn: int | None = None
) -> CallSpec:
    """The chat call for ``session`` with ``request`` as the new technician message.

    The history is the transcript before transcript position ``before_turn`` (all of it
    by default).
    """
    query = select(AiMessage).where(AiMessage.session_id == session.id)
    if before_turn is not None:
        query = query.where(AiMessage.turn_seq < before_turn)
    history_rows = (await db.execute(query.order_by(*transcript_order()))).scalars().all()
    history, request = conversation(history_rows, request)
    live = await facts_engine.live_facts(db, session.id)
    account = await get_account(db, principal.account_id)
    context = stable_context(session, account.name)
    context["facts"] = [{"id": str(f.id), "text": f.text} for f in live]
    context["task_lane"] = lane_context(lane_of(session))
    return CallSpec(
        service="chat",
        system=SYSTEM_SECTIONS,
        context=context,
        history=history,
        request=request,
        max_tokens=1500,
        account_id=str(principal.account_id),
        session_id=str(session.id),
    )
