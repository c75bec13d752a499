"""Writeback engine: confirm and post a resolution note or escalation package, verified, never twice."""

from flowpilot_core.writeback.engine import (
    PostNote,
    StatusNotVerified,
    WritebackKind,
    WritebackResult,
    WritebackService,
    line_edit_distance,
)

__all__ = [
    "PostNote",
    "StatusNotVerified",
    "WritebackKind",
    "WritebackResult",
    "WritebackService",
    "line_edit_distance",
]
