"""The task lane: questions, diagnostic checks and actions the AI proposed, in ``ai_sessions.pending_task_lane``.

Each item gets a stable UUID when it is first persisted and keeps it for good: the
same question asked again maps to the same item, and ``session_facts.source_ref``
points at item ids. Answers and check outputs are stored on the item; a fact is
synthesised from them conservatively (an unclear answer yields no fact).
"""

from __future__ import annotations

import copy
import logging
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec

from flowpilot_core.db.models import EMPTY_TASK_LANE, AiSession
from flowpilot_core.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from flowpilot_core.markers import ActionMarker, CheckMarker, Marker, QuestionMarker

log = logging.getLogger("flowpilot.task_lane")

ItemKind = Literal["question", "check", "action"]
LANES: dict[str, str] = {"question": "questions", "check": "checks", "action": "actions"}
MAX_ANSWER_CHARS = 4000
MAX_OUTPUT_BYTES = 64 * 1024


class TaskLaneItem(msgspec.Struct, kw_only=True):
    id: str
    kind: ItemKind
    text: str
    status: Literal["open", "answered", "done", "dismissed"] = "open"
    command: str | None = None
    shell: str | None = None
    answer: str | None = None
    output: str | None = None
    source_message_id: str | None = None
    created_at: str
    updated_at: str


class TaskLane(msgspec.Struct):
    questions: list[TaskLaneItem]
    checks: list[TaskLaneItem]
    actions: list[TaskLaneItem]


class AnswerQuestion(msgspec.Struct, forbid_unknown_fields=True):
    answer: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ANSWER_CHARS)]


class RecordOutput(msgspec.Struct, forbid_unknown_fields=True):
    """Pasted output of a diagnostic check (up to 64 KB)."""

    output: str


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _norm(text: str | None) -> str:
    return " ".join((text or "").lower().split())


def lane_of(row: AiSession) -> dict[str, list[dict[str, Any]]]:
    """A private, mutable copy of the session's lane (always with all three lists)."""
    lane = copy.deepcopy(row.pending_task_lane or {})
    for name in EMPTY_TASK_LANE:
        lane.setdefault(name, [])
    return lane


def to_struct(lane: dict[str, list[dict[str, Any]]]) -> TaskLane:
    return msgspec.convert(lane, TaskLane)


def find_item(lane: dict[str, list[dict[str, Any]]], item_id: str) -> dict[str, Any] | None:
    for items in lane.values():
        for item in items:
            if item.get("id") == item_id:
                return item
    return None


def _identity(kind: str, text: str, command: str | None) -> str:
    return f"{kind}|{_norm(text)}|{_norm(command)}"


def apply_markers(
    lane: dict[str, list[dict[str, Any]]], markers: list[Marker], message_id: str
) -> tuple[list[dict[str, Any]], list[str | None]]:
    """Add the lane items that QUESTION/CHECK/ACTION markers propose.

    Returns the items added and, per marker, the id of the lane item it maps to (an
    existing item when the same question or check was proposed before).
    """
    known = {
        _identity(item["kind"], item["text"], item.get("command")): item["id"]
        for items in lane.values()
        for item in items
    }
    added: list[dict[str, Any]] = []
    mapping: list[str | None] = []
    for marker in markers:
        kind: ItemKind
        if isinstance(marker, QuestionMarker):
            kind, text, command, shell = "question", marker.text, None, None
        elif isinstance(marker, CheckMarker):
            kind, text, command, shell = "check", marker.title, marker.command, marker.shell
        elif isinstance(marker, ActionMarker):
            kind, text, command, shell = "action", marker.text, None, None
        else:
            mapping.append(None)
            continue
        key = _identity(kind, text, command)
        if key in known:
            mapping.append(known[key])
            continue
        now = _now()
        item = msgspec.to_builtins(
            TaskLaneItem(
                id=str(uuid.uuid4()),
                kind=kind,
                text=text,
                command=command,
                shell=shell,
                source_message_id=message_id,
                created_at=now,
                updated_at=now,
            )
        )
        lane[LANES[kind]].append(item)
        known[key] = item["id"]
        added.append(item)
        mapping.append(item["id"])
    return added, mapping


def record_answer(lane: dict[str, list[dict[str, Any]]], item_id: str, answer: str) -> dict[str, Any]:
    item = _require(lane, item_id)
    if item["kind"] != "question":
        raise Conflict(f"item {item_id} is a {item['kind']}, not a question: record its output instead")
    if item["status"] == "dismissed":
        raise Conflict(f"question {item_id} was dismissed")
    answer = answer.strip()
    if not answer:
        raise InvalidInput("answer must not be empty", field="answer")
    item.update(answer=answer, status="answered", updated_at=_now())
    return item


def record_output(lane: dict[str, list[dict[str, Any]]], item_id: str, output: str) -> dict[str, Any]:
    size = len(output.encode("utf-8"))
    if size > MAX_OUTPUT_BYTES:
        raise PayloadTooLarge(
            f"check output is {size} bytes; the limit is {MAX_OUTPUT_BYTES} (64 KB): paste the relevant part",
            field="output",
        )
    item = _require(lane, item_id)
    if item["kind"] not in ("check", "action"):
        raise Conflict(f"item {item_id} is a {item['kind']}: answer it instead")
    if item["status"] == "dismissed":
        raise Conflict(f"item {item_id} was dismissed")
    if not output.strip() and item["kind"] == "check":  # an action can simply be done
        raise InvalidInput("output must not be empty", field="output")
    item.update(output=output, status="done", updated_at=_now())
    return item


def dismiss(lane: dict[str, list[dict[str, Any]]], item_id: str) -> dict[str, Any]:
    item = _require(lane, item_id)
    item.update(status="dismissed", updated_at=_now())
    return item


def _require(lane: dict[str, list[dict[str, Any]]], item_id: str) -> dict[str, Any]:
    item = find_item(lane, item_id)
    if item is None:
        raise NotFound(f"task-lane item {item_id} not found in this session")
    return item


def fact_origin(item: dict[str, Any]) -> Literal["question", "check"]:
    """The origin of a fact promoted from ``item``: what was answered, or what a check or action showed."""
    return "question" if item["kind"] == "question" else "check"


def save(row: AiSession, lane: dict[str, list[dict[str, Any]]]) -> None:
    row.pending_task_lane = lane
    row.updated_at = datetime.now(UTC)
