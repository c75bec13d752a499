"""Tickets engine: intake (ai-parse), a free-text e-mail or call note becomes a ticket draft."""

from flowpilot_core.tickets.ticket import Ticket  # noqa: I001 (first: accounts imports it, intake imports accounts)
from flowpilot_core.tickets.intake import AIParseRequest, TicketDraft, TicketTaxonomy, ai_parse

__all__ = ["AIParseRequest", "Ticket", "TicketDraft", "TicketTaxonomy", "ai_parse"]
