"""Lane continuation: when the technician has answered what the assistant asked, the conversation moves on.

A continuation is due when the transcript ends with an assistant turn, the technician
has since answered or completed at least one lane item (each item remembers the last
message when it was settled: ``settled_after``), and every item that last turn proposed
is settled (answered, done or dismissed). FlowPilot then writes a short technician-side
message (``origin = "lane"``) summarising that batch of answers, and the next assistant
turn is built on it and on the new facts. One continuation per assistant turn (its
``client_message_id`` names the turn it continues, and a continuation's reply has no
answers after it yet), so it can never loop; the account setting
``auto_continue_enabled`` turns it off.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flowpilot_core.db.models import AiMessage, AiSession
from flowpilot_core.sessions.chat_prompt import transcript_order
from flowpilot_core.sessions.task_lane import TaskLane, TaskLaneItem

CONTINUATION_PREFIX = "lane:"
MAX_GIVEN_CHARS = 500


async def last_message(db: AsyncSession, session_id: object) -> AiMessage | None:
    query = (
        select(AiMessage)
        .where(AiMessage.session_id == session_id)
        .order_by(*(column.desc() for column in transcript_order()))
        .limit(1)
    )
    return (await db.execute(query)).scalar_one_or_none()


async def last_message_id(db: AsyncSession, session_id: object) -> str | None:
    last = await last_message(db, session_id)
    return str(last.id) if last is not None else None


def batch(lane: TaskLane, message: AiMessage) -> list[TaskLaneItem]:
    """The items the technician settled in the lane since ``message``, in lane order."""
    return [item for item in lane.items() if item.settled and item.settled_after == str(message.id)]


def asked_by(lane: TaskLane, message: AiMessage) -> list[TaskLaneItem]:
    """The lane items the assistant message proposed."""
    return [item for item in lane.items() if item.source_message_id == str(message.id)]


def is_due(lane: TaskLane, last: AiMessage | None) -> bool:
    """True when the last turn is the assistant's, it is answered in the lane, and nothing it asked is open."""
    if last is None or last.role != "assistant":
        return False
    answered = any(i.status in ("answered", "done") for i in batch(lane, last))
    return answered and all(i.settled for i in asked_by(lane, last))


async def continuation_due(db: AsyncSession, session: AiSession, lane: TaskLane) -> AiMessage | None:
    """The assistant message a continuation would continue, or ``None`` when none is due."""
    last = await last_message(db, session.id)
    return last if is_due(lane, last) else None


def client_message_id(assistant_message: AiMessage) -> str:
    return f"{CONTINUATION_PREFIX}{assistant_message.id}"


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_GIVEN_CHARS else text[: MAX_GIVEN_CHARS - 1].rstrip() + "…"


def summary(lane: TaskLane, assistant_message: AiMessage) -> str:
    """The continuation message: what the technician answered in the lane since that reply, in lane order."""
    lines = ["I answered in the task lane:"]
    for item in batch(lane, assistant_message):
        if item.status == "dismissed":
            lines.append(f"- {item.text} (skipped)")
        elif item.kind == "question":
            lines.append(f"- {item.text} {_clip(item.answer or '')}")
        elif item.given and item.given.strip():
            lines.append(f"- {item.text}: {_clip(item.given)}")
        else:
            lines.append(f"- {item.text}: done")
    return "\n".join(lines)
