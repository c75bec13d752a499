"""The PSA seam: what FlowPilot needs from a PSA, whichever it is.

A PSA plugin registers a factory through ``register_psa_providers``; the factory builds
a :class:`PSAProvider` from a connection's decrypted config. The writeback engine
(:mod:`flowpilot_core.writeback`) is its only caller: it posts a note with an
idempotency marker, sets the status and re-reads it to verify. Providers translate
their API's failures into :mod:`flowpilot_core.psa.errors`, so a credential never
appears in an error and every failure says whether a retry may help.
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

import msgspec

NoteKind = Literal["resolution", "escalation", "internal"]


class PSAStatus(msgspec.Struct, frozen=True):
    id: str
    name: str
    closed: bool = False


class PSANote(msgspec.Struct, frozen=True):
    id: str
    text: str
    internal: bool = True


class PSATicket(msgspec.Struct, frozen=True, kw_only=True):
    ref: str
    summary: str
    status: PSAStatus | None = None
    description: str | None = None
    company: str | None = None
    contact: str | None = None
    board: str | None = None


@runtime_checkable
class PSAProvider(Protocol):
    """One connection to one PSA tenant. Every method may raise a :class:`~flowpilot_core.psa.errors.PSAError`."""

    async def get_ticket(self, ref: str) -> PSATicket:
        """The ticket, or ``PSANotFound``."""
        ...

    async def list_notes(self, ref: str) -> list[PSANote]:
        """Every note of the ticket (the writeback looks for its idempotency marker here)."""
        ...

    async def post_note(self, ref: str, text: str, *, kind: NoteKind, internal: bool) -> PSANote:
        """Add a note; ``internal`` hides it from the end user (the default FlowPilot asks for)."""
        ...

    async def list_statuses(self, ref: str) -> list[PSAStatus]:
        """The statuses this ticket can take (per board in ConnectWise, per tenant elsewhere)."""
        ...

    async def set_status(self, ref: str, status_id: str) -> None:
        """Ask for a status change; the caller verifies it with :meth:`get_status`."""
        ...

    async def get_status(self, ref: str) -> PSAStatus:
        """The ticket's status as the PSA reads it now."""
        ...

    async def check_connection(self) -> None:
        """Reach the PSA with the connection's credentials, or raise."""
        ...

    async def aclose(self) -> None:
        """Release the provider's HTTP client."""
        ...


class HostedMember(msgspec.Struct, frozen=True, kw_only=True):
    """A PSA user whose session the PSA itself confirmed (a ConnectWise pod's member, say)."""

    identifier: str
    email: str | None = None
    name: str | None = None


@runtime_checkable
class HostedMemberVerifier(Protocol):
    """A provider that can confirm, with the PSA, who the user of a widget hosted inside the PSA is.

    A PSA that hosts FlowPilot in its own screens (ConnectWise's pods) hands the frame a
    member's identity and a hash of their session; FlowPilot never trusts that payload until
    the PSA has confirmed it. ``PSAAuthFailed`` when the PSA does not confirm it.
    """

    async def verify_member(self, *, company: str, member_id: str, member_hash: str) -> HostedMember:
        """The member, as the PSA knows them, if ``member_hash`` is a live session of ``member_id``."""
        ...
