"""The ConnectWise PSA provider: tickets, notes and board statuses as FlowPilot's PSA seam needs them.

- A ticket's description is its first "Discussion" note (``detailDescriptionFlag``):
  ``initialDescription`` is accepted on POST only and never read back.
- Notes are internal unless asked otherwise (``internalAnalysisFlag``); a resolution also
  goes to the Resolution section (``resolutionFlag``), and ``processNotifications`` is always
  false, so posting never e-mails anyone. Every posted note is read back by id and compared.
- A note's POST is never repeated blindly: after a timeout or a 5xx the ticket's notes are
  re-read and a note with the same text is the one that was posted.
- Status ids belong to a board: a status is set by id with a JSON-Patch array, only to an
  active status of the ticket's own board, and read back by the caller (workflow rules on
  the board may change it right after).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from flowpilot_connectwise.config import Config
from flowpilot_connectwise.http import ConnectWiseHttp
from flowpilot_core.psa.errors import PSAAuthFailed, PSANotFound, PSAPermanent, PSARateLimited, PSATransient
from flowpilot_core.psa.provider import HostedMember, NoteKind, PSANote, PSAStatus, PSATicket

log = logging.getLogger("flowpilot_connectwise")

TICKET_FIELDS = "id,summary,status,board,company,contact,closedFlag"
_CLOSED_WORD = re.compile(r"(?<![a-z])closed(?![a-z])", re.IGNORECASE)


def note_body(text: str, *, kind: NoteKind, internal: bool) -> dict[str, Any]:
    """The ``ServiceNote`` FlowPilot posts. ConnectWise refuses a note with no section flag set."""
    return {
        "text": text,
        "detailDescriptionFlag": not internal,
        "internalAnalysisFlag": internal,
        "resolutionFlag": kind == "resolution",
        "processNotifications": False,
    }


def _same_text(a: str, b: str) -> bool:
    def norm(text: str) -> str:
        return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n")).strip()

    return norm(a) == norm(b)


def _note(raw: dict[str, Any]) -> PSANote:
    # Only a note shown in the Internal section and not in the Discussion is known to stay hidden from the customer.
    internal = bool(raw.get("internalAnalysisFlag")) and not raw.get("detailDescriptionFlag")
    return PSANote(id=str(raw["id"]), text=str(raw.get("text") or ""), internal=internal)


def _board_status(raw: dict[str, Any]) -> PSAStatus:
    return PSAStatus(id=str(raw["id"]), name=str(raw.get("name") or raw["id"]), closed=bool(raw.get("closedStatus")))


def closing_status(statuses: list[PSAStatus]) -> PSAStatus:
    """The board's status that closes a ticket, found the safe way: never a guess between two.

    In order: the closing status named exactly "Closed"; else the one closing status whose name has
    the word "closed" (boards write ">Closed" or "Closed - Resolved"); else the board's only closing
    status. More than one candidate at the deciding step is refused, naming them.
    """
    closing = [s for s in statuses if s.closed]
    for candidates in (
        [s for s in closing if s.name.strip().lower() == "closed"],
        [s for s in closing if _CLOSED_WORD.search(s.name)],
        closing,
    ):
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            names = ", ".join(repr(s.name) for s in candidates)
            raise PSAPermanent(
                f"the board has several closing statuses ({names}): name one in the connection's mapping"
            )
    raise PSAPermanent("the ticket's board has no closing status")


class ConnectWiseProvider:
    """One ConnectWise tenant (implements :class:`flowpilot_core.psa.PSAProvider`)."""

    def __init__(
        self,
        config: Config,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config
        self.http = ConnectWiseHttp(config, transport=transport, sleep=sleep)
        self._board_statuses: dict[int, list[PSAStatus]] = {}

    def __repr__(self) -> str:
        return f"ConnectWiseProvider(site={self.http.site!r}, company={self.config.company!r})"

    @staticmethod
    def _id(ref: str) -> int:
        digits = ref.strip().removeprefix("#")
        if len(digits) > 18 or not digits.isascii() or not digits.isdigit() or int(digits) == 0:
            raise PSANotFound(f"ticket {ref[:40]!r} is not a ConnectWise ticket number")
        return int(digits)

    # -- tickets --------------------------------------------------------------------------------

    async def _ticket(self, ticket_id: int) -> dict[str, Any]:
        raw = await self.http.get(
            f"/service/tickets/{ticket_id}", what=f"ticket {ticket_id}", params={"fields": TICKET_FIELDS}
        )
        if (
            not isinstance(raw, dict)
            or not isinstance(raw.get("status"), dict)
            or not isinstance(raw.get("board"), dict)
        ):
            raise PSAPermanent(f"ConnectWise answered ticket {ticket_id} without its status and board")
        return raw

    async def _statuses(self, board_id: int) -> list[PSAStatus]:
        if board_id not in self._board_statuses:
            raw = await self.http.get_all(
                f"/service/boards/{board_id}/statuses",
                what=f"the statuses of board {board_id}",
                params={"orderBy": "sortOrder asc"},
            )
            self._board_statuses[board_id] = [_board_status(s) for s in raw if not s.get("inactive")]
        return self._board_statuses[board_id]

    async def _status_of(self, raw: dict[str, Any]) -> PSAStatus:
        status_id = str(raw["status"].get("id"))
        for status in await self._statuses(int(raw["board"]["id"])):
            if status.id == status_id:
                return status
        # An inactive status (or one the board no longer lists): the ticket's own closedFlag says whether it is closed.
        return PSAStatus(
            id=status_id, name=str(raw["status"].get("name") or status_id), closed=bool(raw.get("closedFlag"))
        )

    async def _description(self, ticket_id: int) -> str | None:
        first = await self.http.get(
            f"/service/tickets/{ticket_id}/notes",
            what=f"the notes of ticket {ticket_id}",
            params={"conditions": "detailDescriptionFlag=true", "orderBy": "id asc", "pageSize": 1},
        )
        if not isinstance(first, list) or not first:
            return None
        return str(first[0].get("text") or "") or None

    async def get_ticket(self, ref: str) -> PSATicket:
        ticket_id = self._id(ref)
        raw = await self._ticket(ticket_id)

        def name(key: str) -> str | None:
            value = raw.get(key)
            return str(value.get("name")) if isinstance(value, dict) and value.get("name") else None

        return PSATicket(
            ref=str(raw.get("id", ticket_id)),
            summary=str(raw.get("summary") or ""),
            status=await self._status_of(raw),
            description=await self._description(ticket_id),
            company=name("company"),
            contact=name("contact"),
            board=name("board"),
        )

    # -- notes ----------------------------------------------------------------------------------

    async def _notes(self, ticket_id: int) -> list[dict[str, Any]]:
        return await self.http.get_all(
            f"/service/tickets/{ticket_id}/notes", what=f"the notes of ticket {ticket_id}", params={"orderBy": "id asc"}
        )

    async def list_notes(self, ref: str) -> list[PSANote]:
        return [_note(n) for n in await self._notes(self._id(ref))]

    async def post_note(self, ref: str, text: str, *, kind: NoteKind, internal: bool) -> PSANote:
        ticket_id = self._id(ref)
        if not text.strip():
            raise PSAPermanent("ConnectWise would store an empty note: nothing was posted")
        body = note_body(text, kind=kind, internal=internal)
        path = f"/service/tickets/{ticket_id}/notes"
        try:
            response = await self.http.request("POST", path, what=f"ticket {ticket_id}", json=body, repeatable=False)
        except PSARateLimited:
            raise  # refused before it was processed: nothing to look for
        except PSATransient:
            # The note may have been stored before the answer was lost: look before anyone posts it again.
            found = next((n for n in await self._notes(ticket_id) if _same_text(str(n.get("text") or ""), text)), None)
            if found is None:
                raise
            log.info("ConnectWise: the note on ticket %s was stored although the answer was lost", ticket_id)
            return _note(found)
        created = response.json()
        note_id = created.get("id") if isinstance(created, dict) else None
        if note_id is None:
            raise PSAPermanent(f"ConnectWise accepted the note on ticket {ticket_id} without naming it")
        return await self._verify_note(ticket_id, int(note_id), body)

    async def _verify_note(self, ticket_id: int, note_id: int, body: dict[str, Any]) -> PSANote:
        stored = await self.http.get(f"/service/tickets/{ticket_id}/notes/{note_id}", what=f"note {note_id}")
        flags = ("detailDescriptionFlag", "internalAnalysisFlag", "resolutionFlag")
        if not _same_text(str(stored.get("text") or ""), body["text"]) or any(
            bool(stored.get(f)) != body[f] for f in flags
        ):
            raise PSAPermanent(f"note {note_id} on ticket {ticket_id} did not read back as posted")
        return _note(stored)

    # -- statuses -------------------------------------------------------------------------------

    async def list_statuses(self, ref: str) -> list[PSAStatus]:
        raw = await self._ticket(self._id(ref))
        return list(await self._statuses(int(raw["board"]["id"])))

    async def closing_status(self, ref: str) -> PSAStatus:
        """The status that closes this ticket on its board (see :func:`closing_status`)."""
        return closing_status(await self.list_statuses(ref))

    async def set_status(self, ref: str, status_id: str) -> None:
        ticket_id = self._id(ref)
        raw = await self._ticket(ticket_id)
        board = raw["board"]
        statuses = await self._statuses(int(board["id"]))
        if status_id not in {s.id for s in statuses}:
            names = ", ".join(f"{s.id} {s.name}" for s in statuses)
            raise PSAPermanent(
                f"status {status_id!r} is not an active status of board {board.get('name') or board['id']!s} "
                f"(ticket {ticket_id}'s board; its statuses: {names})"
            )
        patch = [{"op": "replace", "path": "status", "value": {"id": int(status_id)}}]
        # Replacing a value twice changes nothing, so the PATCH may be retried after a timeout.
        await self.http.request("PATCH", f"/service/tickets/{ticket_id}", what=f"ticket {ticket_id}", json=patch)

    async def get_status(self, ref: str) -> PSAStatus:
        return await self._status_of(await self._ticket(self._id(ref)))

    # -- the connection -------------------------------------------------------------------------

    async def check_connection(self) -> None:
        try:
            await self.http.get("/system/info", what="the system information")
        except PSANotFound:
            # /system/info always exists; ConnectWise cloud answers some authentication failures with a 404.
            raise PSAAuthFailed(
                f"ConnectWise at {self.http.site} answered 404 for /system/info: check the site, company and keys"
            ) from None

    async def verify_member(self, *, company: str, member_id: str, member_hash: str) -> HostedMember:
        """Confirm a pod's member with ConnectWise (``GET /system/myAccount`` as that member).

        The pod's payload is the browser's word; only ConnectWise's answer makes it true. The
        company must be this connection's, and the account ConnectWise returns must be the
        member the pod named.
        """
        if company.strip().lower() != self.http.config.company.lower():
            raise PSAAuthFailed(f"the pod's ConnectWise company {company!r} is not this connection's")
        raw = await self.http.as_member(
            "/system/myAccount", company=company, member_id=member_id, member_hash=member_hash,
            what=f"member {member_id!r}",
        )  # fmt: skip
        identifier = str(raw.get("identifier") or "") if isinstance(raw, dict) else ""
        if identifier.lower() != member_id.strip().lower():
            raise PSAAuthFailed(f"ConnectWise did not confirm member {member_id!r}")
        name = " ".join(str(raw.get(k) or "").strip() for k in ("firstName", "lastName")).strip()
        email = raw.get("officeEmail") or raw.get("primaryEmail")
        return HostedMember(identifier=identifier, email=str(email) if email else None, name=name or None)

    async def aclose(self) -> None:
        await self.http.aclose()
