"""Lay out a :class:`CallSpec` as Messages API arguments with prompt-cache breakpoints.

Prefix order is the API's: tools → system → messages. A cache entry covers everything
up to and including a block marked ``cache_control``, and a change anywhere in a
prefix invalidates every entry after it, so the layout puts the parts that change
least first and marks the end of each stable part:

==========  =====================================================  ==================
breakpoint  block marked                                           TTL (policy)
==========  =====================================================  ==================
tools       the last tool (custom tools by name, then MCP toolsets)  ``static_cache_ttl``
system      the last static system section                         ``static_cache_ttl``
context     the stable context, one system block of canonical JSON ``cache_ttl``
history     the last block of the conversation history             ``cache_ttl``
==========  =====================================================  ==================

That is at most four, the API's limit. Nothing after the history is ever marked: the
final user turn carries the *trailing context* (context keys that grow during a
session, ``policy.trailing_context_keys``, default ``facts`` and ``task_lane``) and then the volatile
request.

Why growing context goes after the history: facts are added as a session goes on. In
the system prompt, every new fact would change the prefix of the whole conversation and
turn each turn's history into a full cache write. Placed in the final user turn, the
facts are billed as plain input (a few hundred tokens) while tools, system, stable
context and the whole history keep being read from cache.

Breakpoints below the model's minimum cacheable prefix are kept: the API ignores them
for free (no error, no charge), our token estimate is approximate, and the same
position becomes cacheable as the conversation grows. ``LaidOutCall.breakpoints``
reports the estimated prefix size of each, for diagnostics.

Determinism: tools, MCP servers and contexts are copied through canonical JSON (sorted
keys, sets as sorted lists), tools are sorted, and no set is ever iterated, so the same
spec gives byte-identical arguments in every process, whatever ``PYTHONHASHSEED``.
Stale ``cache_control`` markers on incoming tools are removed before new ones are set.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from flowpilot_core.ai.policy import AIPolicy, Timeouts
from flowpilot_core.ai.tokens import canonical_json, estimate_block_tokens, request_blocks, strip_cache_control
from flowpilot_core.ai.types import CallSpec

MCP_BETA = "mcp-client-2025-11-20"
"""The beta flag the MCP connector needs (``client.beta.messages``)."""

MAX_BREAKPOINTS = 4


class Breakpoint(msgspec.Struct, frozen=True, kw_only=True):
    """Where a ``cache_control`` marker was placed, with its estimated cumulative prefix."""

    label: str
    """``tools``, ``system``, ``context`` or ``history``."""
    ttl: str
    prefix_tokens: int
    """Estimated tokens from the start of the request up to and including the marked block."""
    cacheable: bool
    """Whether ``prefix_tokens`` reaches the model's minimum cacheable prefix (estimate)."""


class LaidOutCall(msgspec.Struct, frozen=True, kw_only=True):
    """A call ready for a provider: the spec it came from and the Messages API arguments.

    ``kwargs`` holds ``model``, ``max_tokens``, optional ``tools`` and ``system``, and
    ``messages`` in that order. MCP servers travel separately because only the beta
    endpoint accepts them: ``mcp_servers`` is empty unless the service's MCP flag is on,
    and then ``betas`` names the beta header to send. ``timeouts`` are the service's
    (:meth:`~flowpilot_core.ai.policy.AIPolicy.timeouts_for`): a provider applies
    ``connect`` and ``first_byte`` to each HTTP attempt.
    """

    spec: CallSpec
    model: str
    kwargs: dict[str, Any]
    mcp_servers: tuple[dict[str, Any], ...] = ()
    betas: tuple[str, ...] = ()
    breakpoints: tuple[Breakpoint, ...] = ()
    estimated_input_tokens: int = 0
    timeouts: Timeouts = Timeouts()


def _canon(obj: Any) -> Any:
    """A fresh, key-sorted, set-free copy of JSON-like data."""
    return json.loads(canonical_json(obj))


def cache_marker(ttl: str) -> dict[str, str]:
    """The ``cache_control`` value for a TTL (always explicit, so mixed TTLs read unambiguously)."""
    return {"type": "ephemeral", "ttl": ttl}


def _tool_sort_key(tool: dict[str, Any]) -> tuple[int, str, str]:
    # Custom tools first, by name; MCP toolsets after, by server. The full canonical JSON
    # breaks ties so even duplicates (which the API rejects) sort deterministically.
    if tool.get("type") == "mcp_toolset":
        return (1, str(tool.get("mcp_server_name", "")), canonical_json(tool))
    return (0, str(tool.get("name", "")), canonical_json(tool))


def _mcp_servers(servers: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for index, server in enumerate(servers):
        copy = _canon(strip_cache_control(server))
        if not isinstance(copy, dict) or not copy.get("name") or not copy.get("url"):
            raise ValueError(f"mcp_servers[{index}]: an MCP server needs a 'name' and a 'url'")
        if copy["name"] in seen:
            raise ValueError(f"mcp_servers[{index}]: duplicate MCP server name {copy['name']!r}")
        seen[copy["name"]] = index
        copy.setdefault("type", "url")
        out.append(copy)
    return sorted(out, key=lambda s: (str(s["name"]), canonical_json(s)))


def lay_out(
    spec: CallSpec,
    *,
    model: str,
    policy: AIPolicy,
    mcp_servers: Any = (),
) -> LaidOutCall:
    """Turn ``spec`` into Messages API arguments for ``model`` under ``policy``.

    ``mcp_servers`` are included only as given: the caller (``chat_call_cached``) passes
    none when the service's MCP flag is off. Without MCP servers every ``mcp_toolset``
    entry is removed from the tools, so the request carries no MCP tools at all.

    Raises ``ValueError`` when the spec has neither history nor a request (the API needs
    at least one message) or an MCP server lacks a name or URL.
    """
    servers = _mcp_servers(mcp_servers)
    server_names = [s["name"] for s in servers]

    tools: list[dict[str, Any]] = []
    toolset_for: list[str] = []
    for tool in spec.tools:
        copy = _canon(strip_cache_control(tool))
        if copy.get("type") == "mcp_toolset":
            # Only toolsets of servers actually sent; an orphan toolset is a 400 from the API.
            if copy.get("mcp_server_name") not in server_names or copy["mcp_server_name"] in toolset_for:
                continue
            toolset_for.append(copy["mcp_server_name"])
        tools.append(copy)
    for name in server_names:
        if name not in toolset_for:
            tools.append({"type": "mcp_toolset", "mcp_server_name": name})
    tools.sort(key=_tool_sort_key)

    system: list[dict[str, Any]] = [{"type": "text", "text": text} for text in spec.system if text]
    static_end = len(system) - 1 if system else None

    trailing_keys = [k for k in policy.trailing_context_keys if k in spec.context]
    stable_context = {k: v for k, v in spec.context.items() if k not in trailing_keys}
    trailing_context = {k: spec.context[k] for k in trailing_keys}
    context_index = None
    if stable_context:
        system.append({"type": "text", "text": canonical_json(stable_context)})
        context_index = len(system) - 1

    messages: list[dict[str, Any]] = []
    for message in spec.history:
        if not message.content:
            continue  # the API rejects empty text blocks; an empty turn carries nothing
        messages.append({"role": message.role, "content": [{"type": "text", "text": message.content}]})
    history_end = len(messages) - 1 if messages else None

    final: list[dict[str, Any]] = []
    if trailing_context:
        final.append({"type": "text", "text": canonical_json(trailing_context)})
    if spec.request:
        final.append({"type": "text", "text": spec.request})
    if final:
        messages.append({"role": "user", "content": final})
    if not messages:
        raise ValueError(f"CallSpec for service {spec.service!r} has no history and no request")

    marks: list[tuple[str, str, dict[str, Any]]] = []
    if policy.caching:
        if tools:
            marks.append(("tools", policy.static_cache_ttl, tools[-1]))
        if static_end is not None:
            marks.append(("system", policy.static_cache_ttl, system[static_end]))
        if context_index is not None:
            marks.append(("context", policy.cache_ttl, system[context_index]))
        if history_end is not None:
            marks.append(("history", policy.cache_ttl, messages[history_end]["content"][-1]))
    assert len(marks) <= MAX_BREAKPOINTS  # four labelled positions, each used at most once
    for _, ttl, block in marks:
        block["cache_control"] = cache_marker(ttl)

    kwargs: dict[str, Any] = {"model": model, "max_tokens": spec.max_tokens}
    if tools:
        kwargs["tools"] = tools
    if system:
        kwargs["system"] = system
    kwargs["messages"] = messages

    # Diagnostics: estimated cumulative prefix at each marked block.
    minimum = policy.min_cacheable_for(model)
    running = 0
    sizes: dict[int, int] = {}
    for _, block in request_blocks(kwargs):
        running += estimate_block_tokens(block)
        sizes[id(block)] = running
    breakpoints = tuple(
        Breakpoint(label=label, ttl=ttl, prefix_tokens=sizes[id(block)], cacheable=sizes[id(block)] >= minimum)
        for label, ttl, block in marks
    )

    return LaidOutCall(
        spec=spec,
        model=model,
        kwargs=kwargs,
        mcp_servers=tuple(servers),
        betas=(MCP_BETA,) if servers else (),
        breakpoints=breakpoints,
        estimated_input_tokens=running,
        timeouts=policy.timeouts_for(spec.service),
    )


__all__ = ["MAX_BREAKPOINTS", "MCP_BETA", "Breakpoint", "LaidOutCall", "cache_marker", "lay_out"]
