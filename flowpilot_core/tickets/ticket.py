"""The ticket as a PSA or a host portal gives it: one struct for sessions, embed-token claims and minting."""

from __future__ import annotations

from typing import Annotated

import msgspec

Short = Annotated[str, msgspec.Meta(max_length=500)]
MAX_DESCRIPTION_CHARS = 20_000


class Ticket(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Every field optional; the lengths are what a session stores (its columns and snapshot)."""

    provider: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    """The PSA the ticket lives in (``connectwise``, ``autotask``, ``halopsa``, ...)."""
    ref: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    """The ticket's id or number in that PSA."""
    summary: Short | None = None
    description: Annotated[str, msgspec.Meta(max_length=MAX_DESCRIPTION_CHARS)] | None = None
    company: Short | None = None
    contact: Short | None = None
    board: Short | None = None
    status: Short | None = None
    priority: Short | None = None
