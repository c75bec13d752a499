"""The demo's PSA: the ConnectWise fake (:mod:`flowpilot_connectwise.testing`) holding the sample tickets.

``flowpilot demo`` starts it in its own process on a free local port (no network), connects
the demo account to it like any ConnectWise tenant, and the example host portal shows its
tickets, notes and statuses by reading it, so a Confirm & post in FlowPilot shows up on the
portal's ticket. It keeps its tickets in memory: every ``flowpilot demo`` starts them afresh,
with the same ticket numbers.
"""

from __future__ import annotations

from typing import Any

from flowpilot_connectwise.testing import FakeConnectWise, FakeNote, FakeStatus

from flowpilot_core.tickets import Ticket

CONNECTION_NAME = "Demo ConnectWise"
STATUSES = {"resolved": "Closed", "escalated": "Waiting on escalation"}


def start_demo_psa(samples: tuple[Ticket, ...]) -> tuple[FakeConnectWise, dict[str, Ticket]]:
    """The fake, started and holding ``samples``; returns it and the samples by their ConnectWise ticket number."""
    fake = FakeConnectWise(hang_seconds=0.0).start()
    boards = {board.name: board.id for board in fake.boards.values()}
    refs: dict[str, Ticket] = {}
    for ticket in samples:
        board = ticket.board or "Service Desk"
        if board not in boards:  # a board of its own, with its own status ids, as ConnectWise boards have
            first = 10 * (max(boards.values()) + 1)
            names = ("New", "In Progress", "Waiting on escalation")
            statuses = [FakeStatus(first + i, name) for i, name in enumerate(names, 1)]
            boards[board] = fake.add_board(board, [*statuses, FakeStatus(first + 4, "Closed", closed=True)]).id
        added = fake.add_ticket(
            ticket.summary or "A ticket", board_id=boards[board], status=ticket.status, description=ticket.description,
            company=ticket.company or "Contoso", contact=ticket.contact,
        )  # fmt: skip
        refs[str(added.id)] = ticket
    return fake, refs


def _note(note: FakeNote) -> dict[str, Any]:
    flags = (("Discussion", note.detail), ("Internal", note.internal), ("Resolution", note.resolution))
    sections = [name for name, on in flags if on]
    # Only FlowPilot posts through the API in the demo: its notes are the API member's.
    return {"id": note.id, "text": note.text, "created": note.created, "by": "flowpilot (API member)",
            "sections": sections}  # fmt: skip


class FakeTickets:
    """The host portal's view of the fake (a :class:`flowpilot_embed.host_portal.TicketSource`).

    It reads the fake's tickets as they are now (copies of its lists: its HTTP threads append to them)."""

    provider = "connectwise"

    def __init__(self, fake: FakeConnectWise) -> None:
        self.fake = fake

    def refs(self) -> list[str]:
        return [str(i) for i in sorted(dict(self.fake.tickets))]

    def ticket(self, ref: str) -> dict[str, Any] | None:
        found = self.fake.tickets.get(int(ref)) if ref.isdigit() else None
        if found is None:
            return None
        notes = list(found.notes)
        # ConnectWise keeps a ticket's description as its first Discussion note.
        first = notes[0] if notes and notes[0].detail else None
        return {
            "ref": str(found.id),
            "summary": found.summary,
            "description": first.text if first else "",
            "company": found.company,
            "contact": found.contact or "",
            "board": self.fake.boards[found.board_id].name,
            "status": self.fake.status_name(found.id),
            "closed": found.closed,
            "notes": [_note(n) for n in notes if n is not first],
        }
