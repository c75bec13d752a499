"""Builders shared by the AI-layer tests: realistic specs and raw request bodies."""

from __future__ import annotations

from typing import Any

from flowpilot_core.ai.types import CallSpec, ChatMessage

SYSTEM = (
    "You are FlowPilot, a troubleshooting copilot for IT technicians at managed-service providers. "
    "Ask one focused question at a time, propose diagnostic checks the technician can run, and never "
    "claim a fact the technician has not confirmed. "
) * 40  # about 2,000 tokens: above Sonnet's 1,024 minimum, below Haiku's 4,096


def tool(name: str, description: str = "Look something up.", **props: Any) -> dict[str, Any]:
    """A custom tool definition."""
    properties = {k: {"type": "string", "description": str(v)} for k, v in props.items()} or {
        "query": {"type": "string"}
    }
    return {
        "name": name,
        "description": description,
        "input_schema": {"type": "object", "properties": properties, "required": sorted(properties)},
    }


TOOLS = (tool("search_kb", "Search the knowledge base."), tool("get_device", "Read RMM device details."))


def history(turns: int) -> tuple[ChatMessage, ...]:
    """``turns`` user/assistant exchanges."""
    out: list[ChatMessage] = []
    for i in range(turns):
        out.append(ChatMessage(role="user", content=f"Turn {i}: the spooler still stops after a reboot."))
        out.append(ChatMessage(role="assistant", content=f"Turn {i}: check event ID 7031 in the System log."))
    return tuple(out)


def chat_spec(**overrides: Any) -> CallSpec:
    """A realistic chat call; override any CallSpec field."""
    fields: dict[str, Any] = {
        "service": "chat",
        "system": (SYSTEM, "Markers: [QUESTION], [CHECK], [PROMOTE], [SUGGEST_FIX]."),
        "tools": TOOLS,
        "context": {
            "ticket": {"id": "T-1001", "summary": "Print spooler keeps stopping", "client": "Acme Dental"},
            "account": {"psa": "connectwise"},
            "facts": ["Spooler stops within 2 minutes of start"],
        },
        "history": history(2),
        "request": "It stopped again. What next?",
        "account_id": "acct-1",
        "session_id": "sess-1",
    }
    fields.update(overrides)
    return CallSpec(**fields)


def text(t: str, ttl: str | None = None) -> dict[str, Any]:
    """A text block, optionally with a cache breakpoint."""
    block: dict[str, Any] = {"type": "text", "text": t}
    if ttl:
        block["cache_control"] = {"type": "ephemeral", "ttl": ttl}
    return block


def turns(n: int, mark_last: str | None = None, offset: int = 0) -> list[dict[str, Any]]:
    """``n`` one-block messages alternating user/assistant, the last optionally marked."""
    out = []
    for i in range(n):
        role = "user" if i % 2 == 0 else "assistant"
        ttl = mark_last if i == n - 1 else None
        out.append({"role": role, "content": [text(f"message {i + offset}: ping result and next step", ttl)]})
    return out
