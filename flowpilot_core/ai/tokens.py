"""Deterministic, offline token estimates.

There is no official offline tokenizer for Claude 3+ models (exact counts come only
from ``count_tokens`` or a response's ``usage``). FlowPilot needs estimates in three
places that must agree with each other: the offline provider's usage, the layout's
prefix-size diagnostics and the fake Messages API used in tests. All of them count
with the functions here, so a test can predict exactly what the fake will report.

The rule: ``ceil(utf8_bytes / 3.5)`` of the block's canonical JSON (sorted keys, no
whitespace, ``cache_control`` removed because markers are not content). 3.5
characters per token is the figure of Anthropic's glossary; counting UTF-8 bytes
rather than characters makes non-Latin text (denser in tokens) count higher.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

BYTES_PER_TOKEN = 3.5
"""Average UTF-8 bytes per token of the estimate."""


def _json_default(obj: Any) -> Any:
    # Sets have no stable order across processes (PYTHONHASHSEED); sort them by their
    # own canonical form so the same content always serialises to the same bytes.
    if isinstance(obj, set | frozenset):
        return sorted(obj, key=canonical_json)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def canonical_json(obj: Any) -> str:
    """Serialise ``obj`` the one way FlowPilot caches it: sorted keys, compact, UTF-8 text.

    Sets and frozensets become sorted lists, so the result never depends on hash order.
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def estimate_text_tokens(text: str) -> int:
    """Estimated tokens of a plain string (0 for the empty string)."""
    if not text:
        return 0
    return math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN)


def strip_cache_control(obj: Any) -> Any:
    """A deep copy of ``obj`` without any ``cache_control`` key, at any depth."""
    if isinstance(obj, Mapping):
        return {k: strip_cache_control(v) for k, v in obj.items() if k != "cache_control"}
    if isinstance(obj, list | tuple):
        return [strip_cache_control(v) for v in obj]
    return obj


def estimate_block_tokens(block: Any) -> int:
    """Estimated tokens of one content block, tool definition or system block.

    ``cache_control`` markers are ignored: moving a breakpoint must not change the size
    of the content it marks.
    """
    return estimate_text_tokens(canonical_json(strip_cache_control(block)))


def estimate_blocks_tokens(blocks: Iterable[Any]) -> int:
    """Sum of :func:`estimate_block_tokens` over ``blocks``."""
    return sum(estimate_block_tokens(b) for b in blocks)


def request_blocks(kwargs: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The blocks of a Messages API request in prefix order (tools → system → messages).

    Each item is ``(level, block)`` where ``level`` is ``"tools"``, ``"system"`` or the
    message role. A plain-string ``system`` or message ``content`` counts as one text
    block, as the API treats it.
    """
    out: list[tuple[str, Any]] = []
    for tool in kwargs.get("tools") or ():
        out.append(("tools", tool))
    system = kwargs.get("system")
    if isinstance(system, str):
        if system:
            out.append(("system", {"type": "text", "text": system}))
    elif system:
        out.extend(("system", block) for block in system)
    for message in kwargs.get("messages") or ():
        role = str(message.get("role", "user"))
        content = message.get("content")
        if isinstance(content, str):
            out.append((role, {"type": "text", "text": content}))
        else:
            out.extend((role, block) for block in content or ())
    return out


def estimate_request_tokens(kwargs: Mapping[str, Any]) -> int:
    """Estimated input tokens of a whole Messages API request (what ``count_tokens`` returns in the fake)."""
    return sum(estimate_block_tokens(block) for _, block in request_blocks(kwargs))
