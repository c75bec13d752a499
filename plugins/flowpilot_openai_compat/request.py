"""FlowPilot's one layout (:class:`~flowpilot_core.ai.layout.LaidOutCall`) as a Chat Completions body.

The layout is built for the Messages API; this maps it faithfully, without reordering:

- the system blocks (static sections, then the stable context's canonical JSON) become
  **one** system message, their texts joined by a blank line. One message rather than
  one per block because many local chat templates (llama.cpp, Ollama's Llama and Qwen
  templates) accept a single leading system message only;
- history and the final user turn keep their order; a turn's text blocks (the trailing
  context's JSON, then the request) are joined by a blank line into string content;
- ``cache_control`` is never sent: OpenAI-compatible servers cache prefixes
  automatically (vLLM, llama.cpp, OpenAI) and reject or ignore unknown fields;
- custom tools become ``function`` tools; MCP toolsets are dropped (the MCP connector is
  an Anthropic API feature; no OpenAI-compatible server runs MCP servers for us).

The layout's texts are already byte-stable (canonical JSON, sorted tools), and joining
them is deterministic, so the same session gives the same prefix bytes on every turn:
what automatic prefix caching needs.
"""

from __future__ import annotations

from typing import Any

from flowpilot_core.ai.layout import LaidOutCall

BLOCK_SEPARATOR = "\n\n"


def _text(blocks: Any) -> str:
    if isinstance(blocks, str):
        return blocks
    return BLOCK_SEPARATOR.join(b["text"] for b in blocks if b.get("type") == "text" and b.get("text"))


def _function(tool: dict[str, Any]) -> dict[str, Any] | None:
    if tool.get("type") not in (None, "custom") or "name" not in tool:
        return None  # mcp_toolset and server tools (web search ...) have no Chat Completions form
    function: dict[str, Any] = {"name": tool["name"]}
    if tool.get("description"):
        function["description"] = tool["description"]
    function["parameters"] = tool.get("input_schema") or {"type": "object", "properties": {}}
    return {"type": "function", "function": function}


def chat_messages(request: LaidOutCall) -> list[dict[str, Any]]:
    """The ``messages`` array: one system message, then the conversation in the layout's order."""
    kwargs = request.kwargs
    messages: list[dict[str, Any]] = []
    system = _text(kwargs.get("system") or [])
    if system:
        messages.append({"role": "system", "content": system})
    for message in kwargs["messages"]:
        content = _text(message["content"])
        if content:
            messages.append({"role": message["role"], "content": content})
    return messages


def chat_body(request: LaidOutCall, *, stream: bool) -> dict[str, Any]:
    """The request body of ``POST /v1/chat/completions`` for ``request``.

    ``max_tokens`` rather than ``max_completion_tokens``: every server named in the docs
    accepts it (OpenAI's reasoning models are the exception, documented).
    """
    body: dict[str, Any] = {
        "model": request.model,
        "messages": chat_messages(request),
        "max_tokens": request.kwargs["max_tokens"],
    }
    tools = [t for t in (_function(tool) for tool in request.kwargs.get("tools") or ()) if t is not None]
    if tools:
        body["tools"] = tools
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


__all__ = ["BLOCK_SEPARATOR", "chat_body", "chat_messages"]
