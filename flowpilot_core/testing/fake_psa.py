"""An in-memory PSA for tests and demos, strict where real PSAs are, with fault injection.

It holds tickets with notes and per-board statuses. Faults are queued and each fires
once, on the next call of the operation it names:

- ``rate_limit(op, retry_after)``: a 429 with Retry-After;
- ``fail(op)``: a 5xx;
- ``timeout_after_write(op)``: the write is applied, then the call fails as a timeout
  (the case that makes a blind retry post twice);
- ``workflow_sets(status_id)``: a workflow rule that overwrites the status right after a
  status change (what PSAs do and why a write must be re-read);
- ``revoke()``: the credentials stop working;
- ``delete_ticket(ref)``: the ticket is gone.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field

from flowpilot_core.psa.errors import PSAAuthFailed, PSANotFound, PSAPermanent, PSARateLimited, PSATransient
from flowpilot_core.psa.provider import NoteKind, PSANote, PSAStatus, PSATicket

DEFAULT_STATUSES = (
    PSAStatus("1", "New"),
    PSAStatus("2", "In Progress"),
    PSAStatus("3", "Waiting on escalation"),
    PSAStatus("4", "Closed", closed=True),
)


@dataclass
class FakeTicket:
    ref: str
    summary: str
    status_id: str = "2"
    notes: list[PSANote] = field(default_factory=list)
    statuses: tuple[PSAStatus, ...] = DEFAULT_STATUSES


@dataclass
class FakePSA:
    """One PSA tenant. ``calls`` records every call as ``(operation, ref)``."""

    tickets: dict[str, FakeTicket] = field(default_factory=dict)
    calls: list[tuple[str, str | None]] = field(default_factory=list)
    revoked: bool = False
    _faults: dict[str, list[tuple[str, int | None]]] = field(default_factory=lambda: defaultdict(list))
    _workflow_status: str | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))

    # -- arranging -----------------------------------------------------------------------------

    def add_ticket(self, ref: str, summary: str = "A ticket", status_id: str = "2") -> FakeTicket:
        ticket = FakeTicket(ref=ref, summary=summary, status_id=status_id)
        self.tickets[ref] = ticket
        return ticket

    def rate_limit(self, op: str, retry_after: int = 7) -> None:
        self._faults[op].append(("rate_limit", retry_after))

    def fail(self, op: str) -> None:
        self._faults[op].append(("fail", None))

    def timeout_after_write(self, op: str) -> None:
        self._faults[op].append(("timeout_after_write", None))

    def workflow_sets(self, status_id: str | None) -> None:
        self._workflow_status = status_id

    def revoke(self) -> None:
        self.revoked = True

    def delete_ticket(self, ref: str) -> None:
        self.tickets.pop(ref, None)

    # -- the provider --------------------------------------------------------------------------

    def _enter(self, op: str, ref: str | None) -> str | None:
        self.calls.append((op, ref))
        if self.revoked:
            raise PSAAuthFailed("the PSA rejected FlowPilot's credentials (HTTP 401)")
        queued = self._faults.get(op)
        fault, arg = queued.pop(0) if queued else (None, None)
        if fault == "rate_limit":
            raise PSARateLimited("the PSA is rate-limiting FlowPilot (HTTP 429)", retry_after=arg)
        if fault == "fail":
            raise PSATransient("the PSA failed (HTTP 503)")
        return fault

    def _ticket(self, ref: str) -> FakeTicket:
        ticket = self.tickets.get(ref)
        if ticket is None:
            raise PSANotFound(f"ticket {ref} does not exist in the PSA (HTTP 404)")
        return ticket

    def _status(self, ticket: FakeTicket) -> PSAStatus:
        return next(s for s in ticket.statuses if s.id == ticket.status_id)

    async def get_ticket(self, ref: str) -> PSATicket:
        self._enter("get_ticket", ref)
        ticket = self._ticket(ref)
        return PSATicket(ref=ref, summary=ticket.summary, status=self._status(ticket))

    async def list_notes(self, ref: str) -> list[PSANote]:
        self._enter("list_notes", ref)
        return list(self._ticket(ref).notes)

    async def post_note(self, ref: str, text: str, *, kind: NoteKind, internal: bool) -> PSANote:
        fault = self._enter("post_note", ref)
        ticket = self._ticket(ref)
        if not text.strip():
            raise PSAPermanent("the PSA refused an empty note (HTTP 400)")
        note = PSANote(id=str(next(self._ids)), text=text, internal=internal)
        ticket.notes.append(note)
        if fault == "timeout_after_write":
            raise PSATransient("the PSA did not answer in time (the note may have been added)")
        return note

    async def list_statuses(self, ref: str) -> list[PSAStatus]:
        self._enter("list_statuses", ref)
        return list(self._ticket(ref).statuses)

    async def set_status(self, ref: str, status_id: str) -> None:
        fault = self._enter("set_status", ref)
        ticket = self._ticket(ref)
        if status_id not in {s.id for s in ticket.statuses}:
            raise PSAPermanent(f"status {status_id} is not valid for this ticket's board (HTTP 400)")
        ticket.status_id = self._workflow_status or status_id
        if fault == "timeout_after_write":
            raise PSATransient("the PSA did not answer in time (the status may have changed)")

    async def get_status(self, ref: str) -> PSAStatus:
        self._enter("get_status", ref)
        return self._status(self._ticket(ref))

    async def check_connection(self) -> None:
        self._enter("check_connection", None)

    async def aclose(self) -> None:
        return None
