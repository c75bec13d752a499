"""A ticket read from the PSA: what a session snapshots, and the errors a technician can act on.

A missing ticket is a 404 in the PSA's own words (not a PSA outage); any other PSA failure
keeps its place in the PSA error tree (:mod:`flowpilot_core.psa.errors`), with a
``Retry-After`` on a transient one, and says how to go on without the PSA when the caller
can (``hint``).
"""

from __future__ import annotations

from typing import Any

from flowpilot_core.errors import NotFound
from flowpilot_core.psa.errors import PSAError, PSANotFound, PSATransient
from flowpilot_core.psa.provider import PSAProvider, PSATicket
from flowpilot_core.tickets.ticket import MAX_DESCRIPTION_CHARS

TRANSIENT_RETRY_AFTER_SECONDS = 30
"""Retry-After for a PSA that is down and did not say when to come back."""
PSA_FIELDS = ("summary", "description", "company", "contact", "board", "status")
"""The snapshot fields the PSA is the source of: a re-read replaces them (and drops the ones the PSA no longer has)."""
_LIMITS = {"description": MAX_DESCRIPTION_CHARS}


class PsaTicketNotFound(NotFound):
    title = "PSA ticket not found"


async def read_ticket(provider: PSAProvider, ref: str, *, where: str, hint: str | None = None) -> PSATicket:
    """The ticket ``ref`` from ``provider`` (``where`` names the connection in messages).

    With ``hint`` (how to go on without the PSA), a PSA failure's problem says it after the PSA's reason and
    carries ``psa_detail`` (the reason alone) and ``can_open_unlinked: true``, for a client that offers the
    technician a button rather than the API's advice."""
    try:
        return await provider.get_ticket(ref)
    except PSANotFound as exc:
        raise PsaTicketNotFound(f"{where} has no ticket {ref!r}: {exc.detail}", field="ticket_ref") from None
    except PSAError as exc:
        reason = f"{where} could not be read: {exc.detail}"
        exc.detail = reason + (f". {hint}" if hint else "")
        exc.args = (exc.detail,)
        if hint:
            exc.extra = {**(exc.extra or {}), "can_open_unlinked": True, "psa_detail": reason}
        if isinstance(exc, PSATransient) and not exc.retry_after:
            exc.retry_after = TRANSIENT_RETRY_AFTER_SECONDS
        raise


def _text(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    clean = value.replace("\x00", "").strip()  # PostgreSQL's jsonb cannot hold NUL; a PSA may send one
    return clean[:limit] or None


def snapshot(ticket: PSATicket) -> dict[str, Any]:
    """The session's ``ticket_snapshot`` fields from the PSA's ticket, cut to what a session stores."""
    values = {
        "summary": ticket.summary,
        "description": ticket.description,
        "company": ticket.company,
        "contact": ticket.contact,
        "board": ticket.board,
        "status": ticket.status.name if ticket.status else None,
    }
    out: dict[str, Any] = {}
    for key, value in values.items():
        text = _text(value, _LIMITS.get(key, 500))
        if text is not None:
            out[key] = text
    return out


def merged(previous: dict[str, Any], fresh: dict[str, Any]) -> dict[str, Any]:
    """``previous`` with the PSA's fields replaced by ``fresh`` (fields only a host or a body gave are kept)."""
    kept = {k: v for k, v in previous.items() if k not in PSA_FIELDS}
    return {**kept, **fresh}
