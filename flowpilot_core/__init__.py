"""FlowPilot core library: sessions, facts, fixes, previews, AI layer and plugin hooks.

The names below are the library API the README and the examples use. They load on
first use, so a plugin that only needs ``hookimpl`` does not import the database layer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("flowpilot")

_LAZY = {
    "FlowPilot": "flowpilot_core.library",
    "Settings": "flowpilot_core.config",
    "load_settings": "flowpilot_core.config",
    "FlowPilotError": "flowpilot_core.errors",
    "Principal": "flowpilot_core.accounts",
    "mint_embed_token": "flowpilot_core.accounts",
    "CreateSession": "flowpilot_core.sessions",
    "Ticket": "flowpilot_core.tickets",
    "ChatRequest": "flowpilot_core.sessions",
    "ChatTurn": "flowpilot_core.sessions",
    "ItemUpdate": "flowpilot_core.sessions",
    "create_session": "flowpilot_core.sessions",
    "list_facts": "flowpilot_core.facts",
}

if TYPE_CHECKING:
    from flowpilot_core.accounts import Principal, mint_embed_token
    from flowpilot_core.config import Settings, load_settings
    from flowpilot_core.errors import FlowPilotError
    from flowpilot_core.facts import list_facts
    from flowpilot_core.library import FlowPilot
    from flowpilot_core.sessions import ChatRequest, ChatTurn, CreateSession, ItemUpdate, create_session
    from flowpilot_core.tickets import Ticket


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flowpilot_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "ChatRequest",
    "ChatTurn",
    "CreateSession",
    "FlowPilot",
    "FlowPilotError",
    "ItemUpdate",
    "Principal",
    "Settings",
    "Ticket",
    "__version__",
    "create_session",
    "hookimpl",
    "list_facts",
    "load_settings",
    "mint_embed_token",
]
