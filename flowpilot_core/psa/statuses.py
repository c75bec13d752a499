"""Which of a ticket's statuses a connection's mapping means: the writeback and ``psa test`` ask the same question.

A mapping names a status as the PSA shows it (``"Closed"``) or by id. Status lists differ
per board (ConnectWise) or per tenant, so a name is looked up in the ticket's own list. For
a resolution whose named status is not on the ticket's board, a provider that knows its
PSA's closing statuses (an optional ``closing_status(ref)`` method, as ConnectWise's) picks
the board's closing status the safe way: it refuses rather than guesses between two.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

import msgspec

from flowpilot_core.psa.errors import PSAPermanent
from flowpilot_core.psa.provider import PSAProvider, PSAStatus

How = Literal["mapping", "closing_status"]


class StatusChoice(msgspec.Struct, frozen=True):
    status: PSAStatus
    how: How
    """``mapping``: the mapping names it; ``closing_status``: the named one is not on this ticket's board, so the
    provider picked the board's closing status."""


def named(statuses: list[PSAStatus], wanted: str) -> PSAStatus | None:
    """The status whose id is ``wanted`` or whose name is ``wanted`` (case-insensitive)."""
    for status in statuses:
        if status.id == wanted or status.name.lower() == wanted.lower():
            return status
    return None


async def choose_status(
    provider: PSAProvider, ref: str, wanted: str, statuses: list[PSAStatus], *, resolving: bool
) -> StatusChoice:
    """The status ``wanted`` means for ticket ``ref`` (whose statuses are ``statuses``), or ``PSAPermanent``."""
    found = named(statuses, wanted)
    if found is not None:
        return StatusChoice(found, "mapping")
    names = ", ".join(s.name for s in statuses)
    missing = f"the ticket has no status {wanted!r} (its statuses: {names})"
    closing: Callable[[str], Awaitable[PSAStatus]] | None = getattr(provider, "closing_status", None)
    if resolving and callable(closing):
        try:
            return StatusChoice(await closing(ref), "closing_status")
        except PSAPermanent as exc:
            raise PSAPermanent(f"{missing}, and {exc.detail}") from None
    raise PSAPermanent(f"{missing}; fix the connection's mapping")
