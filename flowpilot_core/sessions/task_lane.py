"""The task lane: questions, diagnostic checks and actions the AI proposed, in ``ai_sessions.pending_task_lane``.

Each item gets a stable UUID when it is first persisted and keeps it for good: the
same question asked again maps to the same item, and ``session_facts.source_ref``
points at item ids. Answers and check outputs are stored on the item; a fact is
synthesised from them conservatively (an unclear answer yields no fact).

What an item's kind means (which lane holds it, what the technician gives it, the
status that records it, the origin of a fact made from it) is decided once, in
:data:`KINDS`; everything else asks that table.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec

from flowpilot_core.db.models import EMPTY_TASK_LANE, AiSession
from flowpilot_core.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge

ItemKind = Literal["question", "check", "action"]
ItemStatus = Literal["open", "answered", "done", "dismissed"]
MAX_ANSWER_CHARS = 4000
MAX_OUTPUT_BYTES = 64 * 1024


@dataclass(frozen=True)
class KindRules:
    """What one kind of lane item is."""

    lane: Literal["questions", "checks", "actions"]
    given: Literal["answer", "output"]
    """What the technician gives it: an answer (questions) or what a command or step showed."""
    done_status: ItemStatus
    fact_origin: Literal["question", "check"]
    """The origin of a fact made from it: what was answered, or what a check or action showed."""
    empty_allowed: bool
    """An action can simply be marked done; a check needs its output."""


KINDS: dict[str, KindRules] = {
    "question": KindRules("questions", "answer", "answered", "question", empty_allowed=False),
    "check": KindRules("checks", "output", "done", "check", empty_allowed=False),
    "action": KindRules("actions", "output", "done", "check", empty_allowed=True),
}


class TaskLaneItem(msgspec.Struct, kw_only=True):
    id: str
    kind: ItemKind
    text: str
    status: ItemStatus = "open"
    command: str | None = None
    shell: str | None = None
    answer: str | None = None
    output: str | None = None
    answered_via: Literal["lane", "chat"] | None = None
    """Where the technician gave the answer or output: in the lane, or explicitly in the chat."""
    answer_message_id: str | None = None
    """The chat message that answered it, when ``answered_via`` is ``"chat"``."""
    revision: int = 0
    """Incremented by every change; fact synthesis promotes only if the item is still at the revision it read."""
    settled_after: str | None = None
    """The last transcript message when the technician settled it in the lane (lane continuation's batch)."""
    source_message_id: str | None = None
    created_at: str
    updated_at: str

    @property
    def rules(self) -> KindRules:
        return KINDS[self.kind]

    @property
    def given(self) -> str | None:
        """What the technician gave: the answer of a question, the output of a check or action."""
        return self.answer if self.rules.given == "answer" else self.output

    @property
    def settled(self) -> bool:
        """Answered, done or dismissed: nothing more is asked of the technician."""
        return self.status != "open"


class TaskLane(msgspec.Struct):
    questions: list[TaskLaneItem] = msgspec.field(default_factory=list)
    checks: list[TaskLaneItem] = msgspec.field(default_factory=list)
    actions: list[TaskLaneItem] = msgspec.field(default_factory=list)

    def items(self) -> Iterator[TaskLaneItem]:
        yield from self.questions
        yield from self.checks
        yield from self.actions

    def find(self, item_id: str) -> TaskLaneItem | None:
        return next((item for item in self.items() if item.id == item_id), None)

    def require(self, item_id: str) -> TaskLaneItem:
        item = self.find(item_id)
        if item is None:
            raise NotFound(f"task-lane item {item_id} not found in this session")
        return item

    def add(
        self, kind: ItemKind, text: str, *, command: str | None, shell: str | None, message_id: str
    ) -> tuple[TaskLaneItem, bool]:
        """The item for this proposal: an existing one when the same thing was proposed before. Returns (item, new)."""
        key = _identity(kind, text, command)
        existing = next((i for i in self.items() if _identity(i.kind, i.text, i.command) == key), None)
        if existing is not None:
            return existing, False
        now = _now()
        item = TaskLaneItem(
            id=str(uuid.uuid4()),
            kind=kind,
            text=text,
            command=command,
            shell=shell,
            source_message_id=message_id,
            created_at=now,
            updated_at=now,
        )
        getattr(self, KINDS[kind].lane).append(item)
        return item, True


class AnswerQuestion(msgspec.Struct, forbid_unknown_fields=True):
    answer: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ANSWER_CHARS)]


class RecordOutput(msgspec.Struct, forbid_unknown_fields=True):
    """Pasted output of a diagnostic check, or what happened when an action was carried out (up to 64 KB)."""

    output: str


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _norm(text: str | None) -> str:
    return " ".join((text or "").lower().split())


def _identity(kind: str, text: str, command: str | None) -> str:
    return f"{kind}|{_norm(text)}|{_norm(command)}"


def lane_of(row: AiSession) -> TaskLane:
    """The session's lane as a private, typed copy (changes reach the row only through :func:`save`)."""
    return msgspec.convert(row.pending_task_lane or EMPTY_TASK_LANE, TaskLane)


def save(row: AiSession, lane: TaskLane) -> None:
    row.pending_task_lane = msgspec.to_builtins(lane)
    row.updated_at = datetime.now(UTC)


def _touch(item: TaskLaneItem, **changes: object) -> TaskLaneItem:
    for name, value in changes.items():
        setattr(item, name, value)
    item.revision += 1
    item.updated_at = _now()
    return item


def record_answer(
    lane: TaskLane,
    item_id: str,
    answer: str,
    *,
    via: Literal["lane", "chat"] = "lane",
    message_id: str | None = None,
    after: str | None = None,
) -> TaskLaneItem:
    item = lane.require(item_id)
    if item.rules.given != "answer":
        raise Conflict(f"item {item_id} is a {item.kind}, not a question: record its output instead")
    if item.status == "dismissed":
        raise Conflict(f"question {item_id} was dismissed")
    answer = answer.strip()
    if not answer:
        raise InvalidInput("answer must not be empty", field="answer")
    if len(answer) > MAX_ANSWER_CHARS:
        raise InvalidInput(f"answer is longer than {MAX_ANSWER_CHARS} characters", field="answer")
    return _touch(
        item,
        answer=answer,
        status=item.rules.done_status,
        answered_via=via,
        answer_message_id=message_id,
        settled_after=after,
    )


def record_output(lane: TaskLane, item_id: str, output: str, *, after: str | None = None) -> TaskLaneItem:
    size = len(output.encode("utf-8"))
    if size > MAX_OUTPUT_BYTES:
        raise PayloadTooLarge(
            f"check output is {size} bytes; the limit is {MAX_OUTPUT_BYTES} (64 KB): paste the relevant part",
            field="output",
        )
    item = lane.require(item_id)
    if item.rules.given != "output":
        raise Conflict(f"item {item_id} is a {item.kind}: answer it instead")
    if item.status == "dismissed":
        raise Conflict(f"item {item_id} was dismissed")
    if not output.strip() and not item.rules.empty_allowed:
        raise InvalidInput("output must not be empty", field="output")
    return _touch(
        item,
        output=output,
        status=item.rules.done_status,
        answered_via="lane",
        answer_message_id=None,
        settled_after=after,
    )


def dismiss(lane: TaskLane, item_id: str, *, after: str | None = None) -> TaskLaneItem:
    return _touch(lane.require(item_id), status="dismissed", settled_after=after)
