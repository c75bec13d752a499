"""Facts engine ("What We Know"): fact CRUD and promotion, and the fact-synthesis model call."""

from flowpilot_core.facts.crud import (
    CreateFact,
    FactList,
    FactOrigin,
    FactOut,
    PromoteItem,
    UpdateFact,
    create_manual_fact,
    delete_fact,
    list_facts,
    live_facts,
    promote,
    update_fact,
)
from flowpilot_core.facts.synthesis import build_synthesis_call, parse_synthesis_output

__all__ = [
    "CreateFact",
    "FactList",
    "FactOrigin",
    "FactOut",
    "PromoteItem",
    "UpdateFact",
    "build_synthesis_call",
    "create_manual_fact",
    "delete_fact",
    "list_facts",
    "live_facts",
    "parse_synthesis_output",
    "promote",
    "update_fact",
]
