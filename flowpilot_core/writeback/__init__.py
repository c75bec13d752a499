"""Writeback engine: confirm and post a resolution note or escalation package, verified, never twice."""

from flowpilot_core.writeback.engine import (
    PostNote,
    StatusNotVerified,
    WritebackKind,
    WritebackResult,
    WritebackService,
    get_writeback,
    line_edit_distance,
)

__all__ = [
    "PostNote",
    "StatusNotVerified",
    "WritebackKind",
    "WritebackResult",
    "WritebackService",
    "get_writeback",
    "line_edit_distance",
]
