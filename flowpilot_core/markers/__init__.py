"""Markers: the one pipeline that turns assistant output into typed items.

``parse_assistant_output(text, parsers)`` is the entry point; the grammar is in
:mod:`flowpilot_core.markers.grammar` and ``docs/markers.md``; the built-in
QUESTION / CHECK / ACTION / PROMOTE / SUGGEST_FIX parsers are the plugin
:mod:`flowpilot_core.markers.builtin`. Only assistant output is ever parsed.
"""

from flowpilot_core.markers.builtin import (
    ActionMarker,
    CheckMarker,
    PromoteMarker,
    QuestionMarker,
    SuggestFixMarker,
    default_parsers,
)
from flowpilot_core.markers.grammar import (
    MARKER_GRAMMAR_PROMPT,
    Marker,
    MarkerParser,
    ParsedOutput,
    defuse_markers,
    format_attr_value,
    parse_assistant_output,
    render_marker,
)

__all__ = [
    "MARKER_GRAMMAR_PROMPT",
    "ActionMarker",
    "CheckMarker",
    "Marker",
    "MarkerParser",
    "ParsedOutput",
    "PromoteMarker",
    "QuestionMarker",
    "SuggestFixMarker",
    "default_parsers",
    "defuse_markers",
    "format_attr_value",
    "parse_assistant_output",
    "render_marker",
]
