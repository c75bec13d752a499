"""Fixes engine: suggested fixes with supersession (one active per session) and the technician's decision."""

from flowpilot_core.fixes.suggested import (
    DecideFix,
    FixDecision,
    SuggestedFixes,
    SuggestedFixOut,
    active_fix,
    decide_fix,
    list_fixes,
    propose_fix,
)

__all__ = [
    "DecideFix",
    "FixDecision",
    "SuggestedFixOut",
    "SuggestedFixes",
    "active_fix",
    "decide_fix",
    "list_fixes",
    "propose_fix",
]
