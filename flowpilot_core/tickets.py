"""Ticket intake: free text from an e-mail or a call becomes a structured ticket draft (``ai-parse``).

The parse instructions and the account's taxonomy are the cached prefix; the text is
the volatile request. On the default fast tier (Haiku 4.5, whose minimum cacheable
prefix is 4,096 tokens) a typical prefix of about 1,000 tokens is not cached at all, and
that is still cheaper than a cached read on a larger model; accounts with large
taxonomies, or a tier override, get the cache. Nothing is stored but the call's usage: the technician reviews
the draft before anything reaches a PSA.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core.account_settings import get_setting
from flowpilot_core.accounts import Principal
from flowpilot_core.ai.gateway import AIGateway
from flowpilot_core.ai_parse import (
    AIParseError,
    TicketDraft,
    TicketTextEmpty,
    TicketTextTooLarge,
    build_call,
    parse_model_output,
)
from flowpilot_core.db.engine import tenant_session
from flowpilot_core.errors import InvalidInput, PayloadTooLarge, UpstreamUnavailable

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
