"""The data that crosses the AI layer: what a service asks for, what a provider returns.

A service never builds a provider request itself. It describes its call as a
:class:`CallSpec`, with the stable parts (tools, static system sections, stable
context) separate from the growing conversation and the volatile request, and
``chat_call_cached`` lays that out for the provider.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

Role = Literal["user", "assistant"]


class ChatMessage(msgspec.Struct, frozen=True):
    """One turn of conversation history, as stored (plain text)."""

    role: Role
    content: str


class CallSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One AI call, described by its parts.

    ``service`` names the FlowPilot service making the call (``chat``,
    ``fact_synthesis``, ``resolution_note``, ``escalation_package``,
    ``template_extraction``, ``script_generation``, ``ai_parse``); it selects the
    model tier and whether MCP tools may be used.

    ``context`` is stable, JSON-serialisable data (ticket, facts, account taxonomy):
    it is serialised deterministically (sorted keys) and cached. ``history`` is the
    conversation so far (append-only). ``request`` is the volatile part: the new user
    message or the text to process; it is never inside a cached prefix.
    """

    service: str
    system: tuple[str, ...] = ()
    tools: tuple[dict[str, Any], ...] = ()
    context: dict[str, Any] = msgspec.field(default_factory=dict)
    history: tuple[ChatMessage, ...] = ()
    request: str = ""
    max_tokens: int = 1024
    account_id: str | None = None
    session_id: str | None = None


class TokenUsage(msgspec.Struct, frozen=True, kw_only=True):
    """Token counts of one response, as the provider reported them.

    ``reported=False`` means the provider said nothing about tokens (some
    OpenAI-compatible servers send no ``usage``): the counts are then unknown, not zero,
    and reports and prices treat them so.
    """

    input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_creation_5m_input_tokens: int = 0
    cache_creation_1h_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    output_tokens: int = 0
    estimated: bool = False  # True when counted locally (offline provider), not billed usage
    reported: bool = True  # False when the provider reported no usage at all (the counts are unknown)


class Completion(msgspec.Struct, frozen=True, kw_only=True):
    """A finished model response."""

    text: str
    model: str
    usage: TokenUsage
    stop_reason: str | None = None
    tool_calls: tuple[dict[str, Any], ...] = ()
