"""Previews engine: the resolution note and the escalation package, every line naming its sources."""

from flowpilot_core.previews.render import PreviewLine, SourceRef
from flowpilot_core.previews.service import (
    KINDS,
    Preview,
    PreviewKind,
    PreviewMetrics,
    PreviewService,
    WordedPreview,
    WordingService,
)

__all__ = [
    "KINDS",
    "Preview",
    "PreviewKind",
    "PreviewLine",
    "PreviewMetrics",
    "PreviewService",
    "SourceRef",
    "WordedPreview",
    "WordingService",
]
