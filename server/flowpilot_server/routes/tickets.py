"""``/api/v1/tickets``: ticket intake helpers."""

from __future__ import annotations

from litestar import post
from litestar.params import JSONBody

from flowpilot_core.tickets.intake import AIParseRequest, TicketDraft, ai_parse
from flowpilot_server.deps import CallerDep


@post(
    "/api/v1/tickets/ai-parse",
    operation_id="aiParseTicket",
    status_code=200,
    tags=["tickets"],
    summary="Turn an e-mail or call notes (up to 32 KB) into a structured ticket draft",
)
async def ai_parse_ticket(caller: CallerDep, data: JSONBody[AIParseRequest]) -> TicketDraft:
    return await ai_parse(caller.runtime.sessionmaker, caller.runtime.ai, caller.principal, data)
