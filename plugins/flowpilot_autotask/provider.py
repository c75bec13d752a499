"""The Autotask provider: tickets, ticket notes and the status picklist as FlowPilot's PSA seam needs them.

- A ref is the ticket's id (``"7001"``) or its number (``"T20240101.0001"``, looked up once
  with ``POST /Tickets/query``). An empty ``item`` is Autotask's "not found" (or "not
  visible to this API user"), so it is :class:`~flowpilot_core.psa.errors.PSANotFound` saying both.
- Notes are TicketNotes, created under their ticket (``POST /Tickets/{id}/Notes``; the
  top-level ``POST /TicketNotes`` does not exist). They are internal unless asked otherwise:
  ``publish`` is the picklist value labelled "Internal Only" (``internal_publish``). Every
  posted note is read back (``GET /TicketNotes/{id}``) and compared.
- A resolution is an internal note too (with ``resolution_note_type`` when configured): the
  ticket's ``resolution`` field is not written (see README.md, "Unverified points").
- A note's POST is never repeated blindly: after a timeout or a 502/503/504 the ticket's notes
  are re-read and a note with the same text is the one that was posted.
- Status ids are the tenant's ``status`` picklist (``Tickets/entityInformation/fields``); a
  status is set by ``PATCH /Tickets`` with ``{"id", "status"}``, only to an active value, and
  read back by the caller (workflow rules may change it right after).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from flowpilot_autotask import shared
from flowpilot_autotask.config import Config
from flowpilot_autotask.http import AutotaskHttp
from flowpilot_core.psa.errors import (
    PSAError,
    PSANotFound,
    PSAPermanent,
    PSAPermissionDenied,
    PSARateLimited,
    PSATransient,
)
from flowpilot_core.psa.provider import NoteKind, PSANote, PSAStatus, PSATicket

log = logging.getLogger("flowpilot_autotask")

MAX_NOTE_CHARS = 32_000
"""Autotask's limit on a TicketNote's ``description``."""
NOTE_TITLES: dict[str, str] = {
    "resolution": "FlowPilot: resolution",
    "escalation": "FlowPilot: escalation",
    "internal": "FlowPilot: note",
}
"""Sent on every note: a ticket category may require titles on ticket notes, and the API enforces it."""
CLOSED_LABELS = frozenset({"complete", "completed"})
_TICKET_NUMBER = re.compile(r"^T\d{8}\.\d{1,6}$", re.IGNORECASE)


def _same_text(a: str, b: str) -> bool:
    def norm(text: str) -> str:
        return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n")).strip()

    return norm(a) == norm(b)


def _integer(value: Any) -> bool:
    """Picklist values are integers written as strings (``"5"``); anything else is not one FlowPilot can send."""
    return isinstance(value, int | str) and str(value).isascii() and str(value).isdigit()


def _status(value: dict[str, Any]) -> PSAStatus:
    label = str(value.get("label") or value["value"])
    return PSAStatus(id=str(value["value"]), name=label, closed=label.strip().lower() in CLOSED_LABELS)


def _active(values: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted((v for v in values if v.get("isActive", True)), key=lambda v: int(v.get("sortOrder") or 0))


class AutotaskProvider:
    """One Autotask database (implements :class:`flowpilot_core.psa.PSAProvider`)."""

    def __init__(
        self,
        config: Config,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config
        self.http = AutotaskHttp(config, transport=transport, sleep=sleep)
        self._numbers: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"AutotaskProvider({self.http!r})"

    # -- refs and tickets -----------------------------------------------------------------------

    async def _id(self, ref: str) -> int:
        raw = ref.strip()
        if raw.isascii() and raw.isdigit() and len(raw) <= 18 and int(raw) > 0:
            return int(raw)
        if not _TICKET_NUMBER.fullmatch(raw):
            raise PSANotFound(f"ticket {ref[:40]!r} is not an Autotask ticket id or ticket number")
        number = raw.upper()
        if number not in self._numbers:
            found = await self.http.query(
                "Tickets", [{"op": "eq", "field": "ticketNumber", "value": number}], what=f"ticket {number}"
            )
            if not found or not isinstance(found[0].get("id"), int):
                raise PSANotFound(f"ticket {number} does not exist in Autotask, or FlowPilot's API user cannot see it")
            self._numbers[number] = found[0]["id"]
        return self._numbers[number]

    async def _ticket(self, ticket_id: int) -> dict[str, Any]:
        item = await self.http.get_item(f"/Tickets/{ticket_id}", what=f"ticket {ticket_id}")
        if item is None:
            raise PSANotFound(f"ticket {ticket_id} does not exist in Autotask, or FlowPilot's API user cannot see it")
        if "status" not in item:
            raise PSAPermanent(f"Autotask answered ticket {ticket_id} without its status")
        return item

    async def _exists_or_not_found(self, ticket_id: int, error: PSAError) -> PSAError:
        """Autotask answers a write to a deleted ticket with a 500: say which it was."""
        try:
            await self._ticket(ticket_id)
        except PSANotFound as missing:
            return missing
        except PSAError:
            pass
        return error

    async def _name(self, entity: str, entity_id: Any, *keys: str) -> str | None:
        """A company's or contact's name; ``None`` when the API user may not read it (the ticket still maps)."""
        if not isinstance(entity_id, int):
            return None
        try:
            item = await self.http.get_item(f"/{entity}/{entity_id}", what=f"{entity} {entity_id}")
        except (PSAPermanent, PSAPermissionDenied, PSANotFound) as exc:
            log.info("Autotask: %s %s could not be read for the ticket (%s)", entity, entity_id, exc.title)
            return None
        if item is None:
            return None
        name = " ".join(str(item[k]).strip() for k in keys if item.get(k))
        return name or None

    async def get_ticket(self, ref: str) -> PSATicket:
        ticket_id = await self._id(ref)
        raw = await self._ticket(ticket_id)
        queues = {str(v["value"]): str(v.get("label")) for v in (await self._picklists("Tickets")).get("queueID", [])}
        return PSATicket(
            ref=str(raw.get("id", ticket_id)),
            summary=str(raw.get("title") or ""),
            status=await self._status_of(raw),
            description=str(raw.get("description") or "") or None,
            company=await self._name("Companies", raw.get("companyID"), "companyName"),
            contact=await self._name("Contacts", raw.get("contactID"), "firstName", "lastName"),
            board=queues.get(str(raw.get("queueID"))) if raw.get("queueID") is not None else None,
        )

    # -- picklists ------------------------------------------------------------------------------

    async def _picklists(self, entity: str, *, fresh: bool = False) -> dict[str, list[dict[str, Any]]]:
        """The picklist fields of ``entity`` (``{field name: picklistValues}``), cached per database."""
        await self.http.api_url()
        state = self.http.state
        now = shared.clock()
        cached = None if fresh else state.picklist(entity, self.config.picklist_ttl, now)
        if cached is not None:
            return dict(cached)
        body = self.http.decode(
            await self.http.request("GET", f"/{entity}/entityInformation/fields", what=f"the {entity} fields")
        )
        fields = body.get("fields") if isinstance(body, dict) else None
        if not isinstance(fields, list):
            raise PSAPermanent(f"Autotask answered the {entity} fields without a list of fields")
        picklists = {
            str(f["name"]): [
                v for v in f.get("picklistValues") or [] if isinstance(v, dict) and _integer(v.get("value"))
            ]
            for f in fields
            if isinstance(f, dict) and f.get("isPickList") and f.get("name")
        }
        state.keep_picklist(entity, picklists, now)
        return picklists

    async def _values(self, entity: str, field: str) -> list[dict[str, Any]]:
        values = (await self._picklists(entity)).get(field)
        if not values:
            raise PSAPermanent(f"Autotask's {entity} fields have no {field} picklist")
        return values

    def _pick(self, values: list[dict[str, Any]], wanted: str, setting: str) -> int:
        """The active value named ``wanted`` (by value or label): never a guess between labels."""
        for value in _active(values):
            if str(value["value"]) == wanted or str(value.get("label", "")).strip().lower() == wanted.strip().lower():
                return int(value["value"])
        labels = ", ".join(f"{v['value']} {v.get('label')}" for v in _active(values))
        raise PSAPermanent(f"Autotask has no active {setting} value {wanted!r} (its values: {labels}); "
                           f"set {setting} on the connection")  # fmt: skip

    async def _note_fields(self, *, kind: NoteKind, internal: bool) -> tuple[int, int]:
        """``(noteType, publish)`` for a note."""
        publish = self._pick(
            await self._values("TicketNotes", "publish"),
            self.config.internal_publish if internal else self.config.visible_publish,
            "internal_publish" if internal else "visible_publish",
        )
        note_types = await self._values("TicketNotes", "noteType")
        wanted = (self.config.resolution_note_type if kind == "resolution" else None) or self.config.note_type
        if wanted is not None:
            setting = (
                "resolution_note_type" if kind == "resolution" and self.config.resolution_note_type else "note_type"
            )
            return self._pick(note_types, wanted, setting), publish
        active = _active(note_types)
        if not active:
            raise PSAPermanent("Autotask's noteType picklist has no active value")
        default = next((v for v in active if v.get("isDefaultValue")), active[0])
        return int(default["value"]), publish

    async def _internal_publish(self) -> int:
        return self._pick(await self._values("TicketNotes", "publish"), self.config.internal_publish,
                          "internal_publish")  # fmt: skip

    # -- notes ----------------------------------------------------------------------------------

    @staticmethod
    def _note(raw: dict[str, Any], internal_publish: int) -> PSANote:
        # Only the "Internal Only" publish value is known to keep a note from the end user.
        return PSANote(
            id=str(raw["id"]), text=str(raw.get("description") or ""), internal=raw.get("publish") == internal_publish
        )

    async def _notes(self, ticket_id: int) -> list[dict[str, Any]]:
        notes = await self.http.query(
            "TicketNotes",
            [{"op": "eq", "field": "ticketID", "value": ticket_id}],
            what=f"the notes of ticket {ticket_id}",
        )
        if not notes:
            await self._ticket(ticket_id)  # no notes, or no ticket: only the ticket can say which
        return sorted(notes, key=lambda n: int(n.get("id") or 0))

    async def list_notes(self, ref: str) -> list[PSANote]:
        ticket_id = await self._id(ref)
        internal = await self._internal_publish()
        return [self._note(n, internal) for n in await self._notes(ticket_id)]

    async def post_note(self, ref: str, text: str, *, kind: NoteKind, internal: bool) -> PSANote:
        ticket_id = await self._id(ref)
        if not text.strip():
            raise PSAPermanent("Autotask would store an empty note: nothing was posted")
        if len(text) > MAX_NOTE_CHARS:
            raise PSAPermanent(
                f"Autotask notes hold at most {MAX_NOTE_CHARS} characters and this one has {len(text)}: "
                "shorten it; nothing was posted"
            )
        note_type, publish = await self._note_fields(kind=kind, internal=internal)
        body = {"ticketID": ticket_id, "title": NOTE_TITLES[kind], "description": text, "noteType": note_type,
                "publish": publish}  # fmt: skip
        try:
            response = await self.http.request(
                "POST", f"/Tickets/{ticket_id}/Notes", what=f"ticket {ticket_id}", json=body, repeatable=False
            )
        except PSARateLimited:
            raise  # refused before it was processed: nothing to look for
        except PSATransient as lost:
            # The note may have been stored before the answer was lost: look before anyone posts it again.
            try:
                notes = await self._notes(ticket_id)
            except PSAError:
                raise lost from None  # what the technician needs to know: the note may be on the ticket
            found = next((n for n in notes if _same_text(str(n.get("description") or ""), text)), None)
            if found is None:
                raise
            log.info("Autotask: the note on ticket %s was stored although the answer was lost", ticket_id)
            return self._note(found, await self._internal_publish())
        except (PSAPermanent, PSAPermissionDenied) as refused:
            raise await self._exists_or_not_found(ticket_id, refused) from None
        created = self.http.decode(response)
        note_id = created.get("itemId") if isinstance(created, dict) else None
        if not isinstance(note_id, int):
            raise PSAPermanent(f"Autotask accepted the note on ticket {ticket_id} without naming it")
        return await self._verify_note(ticket_id, note_id, body, await self._internal_publish())

    async def _verify_note(self, ticket_id: int, note_id: int, body: dict[str, Any], internal: int) -> PSANote:
        stored = await self.http.get_item(f"/TicketNotes/{note_id}", what=f"note {note_id}")
        if (
            stored is None
            or stored.get("ticketID") != ticket_id
            or not _same_text(str(stored.get("description") or ""), body["description"])
            or stored.get("publish") != body["publish"]
            or stored.get("noteType") != body["noteType"]
        ):
            raise PSAPermanent(f"note {note_id} on ticket {ticket_id} did not read back as posted")
        return self._note(stored, internal)

    # -- statuses -------------------------------------------------------------------------------

    async def list_statuses(self, ref: str) -> list[PSAStatus]:
        """The tenant's active statuses (Autotask's are per database, not per ticket)."""
        await self._id(ref)
        return [_status(v) for v in _active(await self._values("Tickets", "status"))]

    async def _status_of(self, raw: dict[str, Any]) -> PSAStatus:
        wanted = str(raw["status"])
        for fresh in (False, True):  # a value the cached picklist lacks may have been added since
            values = (await self._picklists("Tickets", fresh=fresh)).get("status") or []
            found = next((v for v in values if str(v["value"]) == wanted), None)
            if found is not None:
                return _status(found)
        return PSAStatus(id=wanted, name=f"status {wanted}")

    async def set_status(self, ref: str, status_id: str) -> None:
        ticket_id = await self._id(ref)
        for fresh in (False, True):
            values = _active((await self._picklists("Tickets", fresh=fresh)).get("status") or [])
            if status_id in {str(v["value"]) for v in values}:
                break
        else:
            names = ", ".join(f"{v['value']} {v.get('label')}" for v in values)
            raise PSAPermanent(f"status {status_id!r} is not an active Autotask ticket status (its statuses: {names})")
        # Setting the same value twice changes nothing, so the PATCH may be repeated after a timeout.
        try:
            await self.http.request("PATCH", "/Tickets", what=f"ticket {ticket_id}",
                                    json={"id": ticket_id, "status": int(status_id)})  # fmt: skip
        except (PSAPermanent, PSAPermissionDenied) as refused:
            raise await self._exists_or_not_found(ticket_id, refused) from None

    async def get_status(self, ref: str) -> PSAStatus:
        return await self._status_of(await self._ticket(await self._id(ref)))

    # -- the connection -------------------------------------------------------------------------

    async def check_connection(self) -> None:
        """Reads the ticket statuses afresh: valid credentials, and the read permission every writeback needs."""
        if not (await self._picklists("Tickets", fresh=True)).get("status"):
            raise PSAPermanent("Autotask's Tickets fields have no status picklist")

    async def aclose(self) -> None:
        await self.http.aclose()
