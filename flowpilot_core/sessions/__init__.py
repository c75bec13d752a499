"""Sessions engine: a session's lifecycle, the chat turn, the task lane and answering it.

The chat turn and the answers service build on every other engine (facts, fixes,
markers, the AI layer), which in turn build on a session's lifecycle; they load on first
use so that importing any engine first never finds this package half-initialised.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from flowpilot_core.sessions.lifecycle import (
    CreateSession,
    SessionList,
    SessionOut,
    SessionStatus,
    bump_state_version,
    create_session,
    get_session,
    get_session_row,
    list_sessions,
)
from flowpilot_core.sessions.task_lane import AnswerQuestion, RecordOutput, TaskLane, TaskLaneItem

_LAZY = {
    "AnswerService": "flowpilot_core.sessions.answers",
    "ItemUpdate": "flowpilot_core.sessions.answers",
    "ChatRequest": "flowpilot_core.sessions.chat",
    "ChatService": "flowpilot_core.sessions.chat",
    "ChatTurn": "flowpilot_core.sessions.chat",
    "MessageList": "flowpilot_core.sessions.transcript",
    "MessageOut": "flowpilot_core.sessions.transcript",
    "build_chat_spec": "flowpilot_core.sessions.chat_prompt",
}

if TYPE_CHECKING:
    from flowpilot_core.sessions.answers import AnswerService, ItemUpdate
    from flowpilot_core.sessions.chat import ChatRequest, ChatService, ChatTurn
    from flowpilot_core.sessions.chat_prompt import build_chat_spec
    from flowpilot_core.sessions.transcript import MessageList, MessageOut


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flowpilot_core.sessions' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "AnswerQuestion",
    "AnswerService",
    "ChatRequest",
    "ChatService",
    "ChatTurn",
    "CreateSession",
    "ItemUpdate",
    "MessageList",
    "MessageOut",
    "RecordOutput",
    "SessionList",
    "SessionOut",
    "SessionStatus",
    "TaskLane",
    "TaskLaneItem",
    "build_chat_spec",
    "bump_state_version",
    "create_session",
    "get_session",
    "get_session_row",
    "list_sessions",
]
