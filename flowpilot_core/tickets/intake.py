"""Ticket intake (ai-parse): a free-text e-mail or call note becomes a PSA ticket draft.

``build_call`` describes the model call (the static instructions are the cached
system prompt, the account's taxonomy is stable context, the text is the volatile
request); ``parse_model_output`` validates what the model returned. The offline
model's deterministic extractor lives in ``flowpilot_offline.ticket_parse``.

The parse instructions and the account's taxonomy are the cached prefix; the text is
the volatile request. On the default fast tier (Haiku 4.5, whose minimum cacheable
prefix is 4,096 tokens) a typical prefix of about 1,000 tokens is not cached at all, and
that is still cheaper than a cached read on a larger model; accounts with large
taxonomies, or a tier override, get the cache. Nothing is stored but the call's usage: the technician reviews
the draft before anything reaches a PSA.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core.accounts.settings import get_setting
from flowpilot_core.ai.replies import json_reply
from flowpilot_core.ai.types import CallSpec
from flowpilot_core.db.engine import tenant_session
from flowpilot_core.errors import InvalidInput, PayloadTooLarge, UpstreamUnavailable

if TYPE_CHECKING:  # the accounts engine (and the AI layer through it) imports this package's Ticket struct
    from flowpilot_core.accounts.accounts import Principal
    from flowpilot_core.ai.gateway import AIGateway

__all__ = [
    "MAX_TEXT_BYTES",
    "PARSE_INSTRUCTIONS",
    "PRIORITIES",
    "SUMMARY_MAX_CHARS",
    "AIParseError",
    "AIParseRequest",
    "TicketDraft",
    "TicketTaxonomy",
    "TicketTextEmpty",
    "TicketTextError",
    "TicketTextTooLarge",
    "ai_parse",
    "build_call",
    "clamp_summary",
    "normalise_taxonomy",
    "parse_model_output",
]

SUMMARY_MAX_CHARS = 100  # ConnectWise's ticket summary limit, the tightest of the PSAs we post to
MAX_TEXT_BYTES = 32 * 1024
PRIORITIES = ("low", "medium", "high", "critical")

# Words models (and people) use for priorities, mapped onto ours.
_PRIORITY_SYNONYMS = {
    "p1": "critical",
    "priority 1": "critical",
    "urgent": "critical",
    "emergency": "critical",
    "sev1": "critical",
    "p2": "high",
    "priority 2": "high",
    "sev2": "high",
    "p3": "medium",
    "priority 3": "medium",
    "normal": "medium",
    "moderate": "medium",
    "sev3": "medium",
    "p4": "low",
    "priority 4": "low",
    "minor": "low",
    "sev4": "low",
}


class TicketDraft(msgspec.Struct, kw_only=True):
    """A ticket draft for the technician to review before it is created in the PSA.

    ``summary`` is at most 100 characters (the PSA limit). ``priority`` is one of
    ``low``/``medium``/``high``/``critical`` and ``priority_reason`` says why in one
    line. ``error_messages`` are quoted verbatim from the source text.
    ``suggested_board`` is one of the account's boards, or ``None``.
    """

    summary: str
    description: str = ""
    category: str | None = None
    priority: str = "medium"
    priority_reason: str = ""
    affected_user: str | None = None
    affected_device: str | None = None
    symptoms: list[str] = msgspec.field(default_factory=list)
    error_messages: list[str] = msgspec.field(default_factory=list)
    suggested_board: str | None = None


class TicketTextError(ValueError):
    """The text given to ai-parse cannot be parsed (base of the specific errors)."""


class TicketTextEmpty(TicketTextError):
    """The text is empty or whitespace only."""

    def __init__(self) -> None:
        super().__init__("ticket text is empty: paste the e-mail or call notes to parse")


class TicketTextTooLarge(TicketTextError):
    """The text is larger than :data:`MAX_TEXT_BYTES` in UTF-8."""

    def __init__(self, size: int) -> None:
        self.size = size
        super().__init__(
            f"ticket text is {size} bytes (UTF-8); the limit is {MAX_TEXT_BYTES} bytes (32 KB): "
            "trim quoted replies and signatures"
        )


class AIParseError(ValueError):
    """The model's output is not a usable ticket draft."""


PARSE_INSTRUCTIONS = f"""\
You turn an IT support request (an e-mail, a call transcript or notes, possibly messy)
into a ticket draft for a managed-service provider's PSA.

Reply with ONE JSON object and nothing else: no prose, no markdown fences. Keys:

- "summary": string, at most {SUMMARY_MAX_CHARS} characters: what is broken, for whom or on what,
  written like a good ticket title ("Outlook keeps asking for password - Jane Doe").
- "description": string: the request restated clearly for the technician, keeping every
  concrete detail (names, devices, times, what was tried). Do not invent details.
- "category": string or null: one of the account's categories from the context when
  they are given; otherwise a short generic category (for example "Printing", "Email",
  "Network", "Account / Access", "Hardware", "Remote Access", "Security", "Software",
  "Performance", "Storage").
- "priority": one of "low", "medium", "high", "critical".
  critical: many users or the whole site cannot work, a server or line-of-business
  system is down, or a security incident. high: one user fully blocked, a VIP or an
  urgent deadline. low: a question, a request, or "no rush". Otherwise medium.
- "priority_reason": one line naming the words in the text that justify the priority.
- "affected_user": string or null: the person with the problem (name, and e-mail when
  given, as "Name <email>"); not the person reporting it on their behalf.
- "affected_device": string or null: the device or host name exactly as written
  (LAPTOP-7F3K2, WS-ACC-04, srv01.contoso.local).
- "symptoms": list of short strings, each one observable symptom from the text.
- "error_messages": list of strings copied VERBATIM from the text (error codes such as
  0x80070005 or AADSTS50076, event IDs, quoted dialog text). Never paraphrase; if there
  is none, an empty list.
- "suggested_board": string or null: one of the account's boards from the context that
  fits best; null when no boards are given or none fits.

Use only what the text says. Unknown values are null (or an empty list).
"""


def normalise_taxonomy(taxonomy: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """The account taxonomy as ``{"boards": [...], "categories": [...], "priorities": [...]}``.

    Keeps the account's order (it can carry meaning) and drops blanks and duplicates, so
    the cached context is identical for identical taxonomies.
    """
    result: dict[str, list[str]] = {}
    for key in ("boards", "categories", "priorities"):
        values = (taxonomy or {}).get(key) or []
        seen: list[str] = []
        for value in values if isinstance(values, Sequence) and not isinstance(values, str) else []:
            text = str(value).strip()
            if text and text not in seen:
                seen.append(text)
        if seen:
            result[key] = seen
    return result


def build_call(text: str, taxonomy: Mapping[str, Any] | None, account_id: str | None = None) -> CallSpec:
    """Describe the ai-parse model call for ``text``.

    Raises :class:`TicketTextEmpty` for empty text and :class:`TicketTextTooLarge` for
    text over 32 KB of UTF-8.
    """
    if not text or not text.strip():
        raise TicketTextEmpty()
    size = len(text.encode("utf-8"))
    if size > MAX_TEXT_BYTES:
        raise TicketTextTooLarge(size)
    return CallSpec(
        service="ai_parse",
        system=(PARSE_INSTRUCTIONS,),
        context={"taxonomy": normalise_taxonomy(taxonomy)},
        request=text,
        max_tokens=1024,
        account_id=account_id,
    )


def clamp_summary(summary: str, limit: int = SUMMARY_MAX_CHARS) -> str:
    """Collapse whitespace and cut ``summary`` to ``limit`` characters on a word boundary.

    A cut summary ends with "…" (counted in the limit) so the reader sees it was cut.
    """
    text = re.sub(r"\s+", " ", summary).strip()
    if len(text) <= limit:
        return text
    room = text[: limit - 1]
    cut = room.rfind(" ")
    if cut >= limit // 2:  # a word boundary not too far back; otherwise cut mid-word
        room = room[:cut]
    return room.rstrip(" ,;:-\u2013\u2014") + "\u2026"


def _extract_json(raw: str) -> Any:
    try:
        return json_reply(raw)
    except ValueError:
        preview = raw.strip().replace("\n", " ")[:80]
        raise AIParseError(f"the model did not return JSON (got: {preview!r})") from None


def _str_or_none(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _str_list(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise AIParseError(f"{field!r} must be a list of strings")
    out: list[str] = []
    for item in value:
        text = str(item).strip()
        if text and text not in out:
            out.append(text)
    return out


def _priority(value: Any) -> str:
    text = str(value or "").strip().lower()
    if text in PRIORITIES:
        return text
    if text in _PRIORITY_SYNONYMS:
        return _PRIORITY_SYNONYMS[text]
    raise AIParseError(f"priority {value!r} is not one of {', '.join(PRIORITIES)}")


def parse_model_output(
    raw: str,
    *,
    source_text: str | None = None,
    taxonomy: Mapping[str, Any] | None = None,
) -> TicketDraft:
    """Validate the model's JSON into a :class:`TicketDraft`.

    Tolerates a Markdown code fence around the JSON. The summary is clamped to 100
    characters on a word boundary; the priority must be one of the four levels (common
    synonyms such as ``P1`` or ``normal`` are mapped). With ``source_text``, error
    messages that do not occur verbatim in it are dropped (the model must quote, not
    paraphrase); with ``taxonomy``, a suggested board that is not one of its boards
    becomes ``None``. Raises :class:`AIParseError` on anything unusable.
    """
    data = _extract_json(raw)
    if not isinstance(data, dict):
        raise AIParseError("the model's JSON is not an object")
    summary = _str_or_none(data.get("summary"))
    if summary is None:
        raise AIParseError("the draft has no summary")
    errors = _str_list(data.get("error_messages"), "error_messages")
    if source_text is not None:
        errors = [e for e in errors if e in source_text]
    board = _str_or_none(data.get("suggested_board"))
    if taxonomy is not None and board is not None:
        boards = normalise_taxonomy(taxonomy).get("boards", [])
        board = next((b for b in boards if b.lower() == board.lower()), None)
    reason = re.sub(r"\s+", " ", str(data.get("priority_reason") or "")).strip()
    return TicketDraft(
        summary=clamp_summary(summary),
        description=str(data.get("description") or "").strip(),
        category=_str_or_none(data.get("category")),
        priority=_priority(data.get("priority")),
        priority_reason=reason,
        affected_user=_str_or_none(data.get("affected_user")),
        affected_device=_str_or_none(data.get("affected_device")),
        symptoms=_str_list(data.get("symptoms"), "symptoms"),
        error_messages=errors,
        suggested_board=board,
    )


Names = Annotated[list[Annotated[str, msgspec.Meta(min_length=1, max_length=100)]], msgspec.Meta(max_length=200)]


class TicketTaxonomy(msgspec.Struct, forbid_unknown_fields=True):
    """How the account sorts tickets (setting ``ticket_taxonomy``); ai-parse suggests a board from it."""

    boards: Names = msgspec.field(default_factory=list)
    categories: Names = msgspec.field(default_factory=list)
    priorities: Names = msgspec.field(default_factory=list)


class AIParseRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``POST /api/v1/tickets/ai-parse``: up to 32 KB of text."""

    text: str
    taxonomy: TicketTaxonomy | None = None
    """Override the account's ticket taxonomy (boards, categories, priorities) for this call."""


async def ai_parse(
    sessionmaker: async_sessionmaker[AsyncSession], ai: AIGateway, principal: Principal, request: AIParseRequest
) -> TicketDraft:
    async with tenant_session(sessionmaker, principal.account_id) as db:
        taxonomy: Any = msgspec.to_builtins(request.taxonomy) if request.taxonomy is not None else None
        if taxonomy is None:
            taxonomy = await get_setting(db, principal.account_id, "ticket_taxonomy", {})
        bound = await ai.bind(db, principal.account_id)
    try:
        spec = build_call(request.text, taxonomy, account_id=str(principal.account_id))
    except TicketTextEmpty as exc:
        raise InvalidInput(str(exc), field="text") from None
    except TicketTextTooLarge as exc:
        raise PayloadTooLarge(str(exc), field="text") from None
    completion = await bound.call(spec)
    try:
        return parse_model_output(completion.text, source_text=request.text, taxonomy=taxonomy)
    except AIParseError as exc:
        raise UpstreamUnavailable(f"the model returned an unusable ticket draft ({exc}); try again") from None
