"""The HaloPSA provider: tickets, actions (notes) and statuses as FlowPilot's PSA seam needs them.

- A note is an action posted as a one-item JSON array to ``/Actions``: hidden from the end
  user (``hiddenfromuser``) unless asked otherwise, never e-mailed (``sendemail: false``), with
  the connection's outcome (action type). Every posted action is read back by id and compared.
- An action's POST is never repeated blindly: after a timeout or a 5xx the ticket's actions are
  re-read and one with the same text is the one that was posted.
- Statuses are the instance's (``GET /Status``). A status is set by id, only to one the
  instance lists (checked before anything is sent), with the ticket upsert
  ``POST /Tickets [{"id": …, "status_id": …}]``, and read back by the caller (Halo's rules and
  workflows may change it right after).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from flowpilot_core.psa.errors import PSANotFound, PSAPermanent, PSARateLimited, PSATransient
from flowpilot_core.psa.provider import NoteKind, PSANote, PSAStatus, PSATicket
from flowpilot_core.psa.request_budget import RequestBudget
from flowpilot_halopsa.auth import TokenCache
from flowpilot_halopsa.config import Config
from flowpilot_halopsa.http import HaloHttp
from flowpilot_halopsa.notes import action_body, action_text, outcome_for, psa_note, same_text

log = logging.getLogger("flowpilot_halopsa")


def halo_status(raw: dict[str, Any]) -> PSAStatus:
    """``treatasclose`` says whether a status closes a ticket; an instance that does not send it: the name."""
    name = str(raw.get("name") or raw["id"])
    closed = raw.get("treatasclose") is True if "treatasclose" in raw else name.strip().lower() == "closed"
    return PSAStatus(id=str(raw["id"]), name=name, closed=closed)


class HaloPSAProvider:
    """One HaloPSA instance (implements :class:`flowpilot_core.psa.PSAProvider`)."""

    def __init__(
        self,
        config: Config,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        budget: RequestBudget | None = None,
        tokens: TokenCache | None = None,
    ) -> None:
        self.config = config
        self.http = HaloHttp(config, transport=transport, sleep=sleep, budget=budget, tokens=tokens)
        self._statuses: list[PSAStatus] | None = None

    def __repr__(self) -> str:
        return f"HaloPSAProvider(api={self.http.api_url!r}, tenant={self.config.tenant!r})"

    @staticmethod
    def _id(ref: str) -> int:
        digits = ref.strip().removeprefix("#")
        if len(digits) > 18 or not digits.isascii() or not digits.isdigit() or int(digits) == 0:
            raise PSANotFound(f"ticket {ref[:40]!r} is not a HaloPSA ticket number")
        return int(digits)

    # -- tickets --------------------------------------------------------------------------------

    async def _ticket(self, ticket_id: int) -> dict[str, Any]:
        raw = await self.http.get(f"/Tickets/{ticket_id}", what=f"ticket {ticket_id}")
        if not isinstance(raw, dict) or raw.get("status_id") is None:
            raise PSAPermanent(f"HaloPSA answered ticket {ticket_id} without its status")
        return raw

    async def _all_statuses(self) -> list[PSAStatus]:
        if self._statuses is None:
            raw = await self.http.get("/Status", what="the ticket statuses")
            if isinstance(raw, dict):  # some versions wrap the list [U]
                raw = raw.get("statuses", raw.get("records"))
            if not isinstance(raw, list):
                raise PSAPermanent("HaloPSA answered the ticket statuses with something that is not a list")
            self._statuses = [halo_status(s) for s in raw if isinstance(s, dict) and s.get("id") is not None]
        return self._statuses

    async def _status_of(self, raw: dict[str, Any]) -> PSAStatus:
        status_id = str(raw["status_id"])
        for status in await self._all_statuses():
            if status.id == status_id:
                return status
        return PSAStatus(id=status_id, name=str(raw.get("status_name") or status_id))

    async def get_ticket(self, ref: str) -> PSATicket:
        ticket_id = self._id(ref)
        raw = await self._ticket(ticket_id)

        def text(key: str) -> str | None:
            value = raw.get(key)
            return str(value).strip() or None if value is not None else None

        return PSATicket(
            ref=str(raw.get("id", ticket_id)),
            summary=str(raw.get("summary") or ""),
            status=await self._status_of(raw),
            description=text("details"),
            company=text("client_name"),
            contact=text("user_name"),
            board=text("team"),  # Halo's queue is the team the ticket is assigned to
        )

    # -- notes (actions) ------------------------------------------------------------------------

    async def _actions(self, ticket_id: int) -> list[dict[str, Any]]:
        actions = await self.http.get_all(
            "/Actions",
            "actions",
            what=f"the actions of ticket {ticket_id}",
            params={"ticket_id": ticket_id, "excludesys": "true", "includehtmlnote": "true"},
        )
        if not actions:
            await self._ticket(ticket_id)  # Halo lists no actions for a ticket that does not exist, either
        return [a for a in actions if isinstance(a, dict) and a.get("id") is not None]

    async def list_notes(self, ref: str) -> list[PSANote]:
        return [psa_note(a) for a in await self._actions(self._id(ref))]

    async def post_note(self, ref: str, text: str, *, kind: NoteKind, internal: bool) -> PSANote:
        ticket_id = self._id(ref)
        if not text.strip():
            raise PSAPermanent("HaloPSA would store an empty note: nothing was posted")
        await self._ticket(ticket_id)  # a deleted ticket is PSANotFound, never an action posted to nothing
        outcome = outcome_for(kind, self.config.note_outcome, self.config.resolution_outcome)
        body = action_body(ticket_id, text, outcome=outcome, internal=internal)
        try:
            response = await self.http.request(
                "POST", "/Actions", what=f"ticket {ticket_id}", json=[body], repeatable=False
            )
        except PSARateLimited:
            raise  # refused before it was processed: nothing to look for
        except PSATransient:
            # The action may have been stored before the answer was lost: look before anyone posts it again.
            found = next((a for a in await self._actions(ticket_id) if same_text(action_text(a), text)), None)
            if found is None:
                raise
            log.info("HaloPSA: the action on ticket %s was stored although the answer was lost", ticket_id)
            return psa_note(found)
        try:
            created = response.json()
        except ValueError:
            created = None
        if isinstance(created, list) and len(created) == 1:
            created = created[0]
        action_id = created.get("id") if isinstance(created, dict) else None
        if not isinstance(action_id, int):
            # Accepted, but the answer does not name the action: find it the way a lost answer's is found.
            found = next((a for a in await self._actions(ticket_id) if same_text(action_text(a), text)), None)
            if found is None:
                raise PSAPermanent(f"HaloPSA accepted the action on ticket {ticket_id} but it cannot be found")
            action_id = int(found["id"])
        return await self._verify_action(ticket_id, action_id, text, internal=internal)

    async def _verify_action(self, ticket_id: int, action_id: int, text: str, *, internal: bool) -> PSANote:
        stored = await self.http.get(
            f"/Actions/{action_id}",
            what=f"action {action_id}",
            params={"ticket_id": ticket_id, "includehtmlnote": "true"},
        )
        if (
            not isinstance(stored, dict)
            or stored.get("ticket_id") not in (ticket_id, None)
            or not same_text(action_text(stored), text)
            or (stored.get("hiddenfromuser") is True) != internal
        ):
            raise PSAPermanent(f"action {action_id} on ticket {ticket_id} did not read back as posted")
        return psa_note(stored)

    # -- statuses -------------------------------------------------------------------------------

    async def list_statuses(self, ref: str) -> list[PSAStatus]:
        self._id(ref)
        return list(await self._all_statuses())

    async def set_status(self, ref: str, status_id: str) -> None:
        ticket_id = self._id(ref)
        statuses = await self._all_statuses()
        if status_id not in {s.id for s in statuses} or not status_id.isdigit():
            names = ", ".join(f"{s.id} {s.name}" for s in statuses)
            raise PSAPermanent(f"status {status_id!r} is not a HaloPSA ticket status (the statuses: {names})")
        await self._ticket(ticket_id)  # the upsert would create a ticket for an id that is gone [U]
        update = [{"id": ticket_id, "status_id": int(status_id)}]
        # Setting a value twice changes nothing, so the upsert may be repeated after a timeout.
        await self.http.request("POST", "/Tickets", what=f"ticket {ticket_id}", json=update)

    async def get_status(self, ref: str) -> PSAStatus:
        return await self._status_of(await self._ticket(self._id(ref)))

    # -- the connection -------------------------------------------------------------------------

    async def check_connection(self) -> None:
        await self.http.get("/Status", what="the ticket statuses")

    async def aclose(self) -> None:
        await self.http.aclose()
