"""Sessions engine: a session's lifecycle, the chat turn, the task lane and answering it."""

from flowpilot_core.sessions.answers import AnswerService, ItemUpdate
from flowpilot_core.sessions.chat import (
    ChatRequest,
    ChatService,
    ChatTurn,
    MessageList,
    MessageOut,
    build_chat_spec,
)
from flowpilot_core.sessions.lifecycle import (
    CreateSession,
    SessionList,
    SessionOut,
    SessionStatus,
    TicketSnapshot,
    create_session,
    get_session,
    get_session_row,
    list_sessions,
)
from flowpilot_core.sessions.task_lane import AnswerQuestion, RecordOutput, TaskLane, TaskLaneItem

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
    "TicketSnapshot",
    "build_chat_spec",
    "create_session",
    "get_session",
    "get_session_row",
    "list_sessions",
]
