"""A fake Autotask PSA REST API: a real HTTP server, strict where Autotask is strict.

It runs on a background thread (stdlib ``ThreadingHTTPServer`` via
:class:`flowpilot_core.testing.local_server.LocalServer`), so tests exercise the
provider's real httpx requests, headers, JSON and paging::

    from flowpilot_autotask.testing import FakeAutotask

    with FakeAutotask() as at:
        ticket = at.add_ticket("Printer offline", description="Nobody on floor 2 can print")
        provider = create_provider(at.config())
        ...
        assert at.tickets[ticket.id].notes[-1].publish == 1

What it implements (research brief §2; see this package's README.md):

- ``GET /atservicesrest/v1.0/zoneInformation?user=`` (no credentials) names the zone
  (``url``, ``webUrl``); an unknown user is a 500, as Autotask answers it. The API is at
  ``{url}v1.0``; a request to another zone's path is a 401.
- Every API request needs ``ApiIntegrationCode``, ``UserName`` and ``Secret`` (401 otherwise).
- ``GET /Tickets/{id}`` and ``GET /TicketNotes/{id}`` answer ``{"item": …}``, with
  ``"item": null`` for a missing one. ``PATCH /Tickets`` takes the ticket's fields with its
  ``id`` (not wrapped in ``item``); ``status`` must be an active picklist value.
- ``POST /Tickets/{id}/Notes`` (``POST /TicketNotes`` is a 404): ``ticketID``,
  ``description`` (at most 32,000 characters), ``noteType`` and ``publish`` (active picklist
  values) are required, ``title`` (at most 250) when the ticket requires note titles;
  the answer is ``{"itemId": n}``.
- ``POST /Tickets/query`` and ``POST /TicketNotes/query`` with ``{"filter": [{"op": "eq",
  "field", "value"}], "MaxRecords": 1-500}``; pages end in ``pageDetails.nextPageUrl``,
  which takes the same body.
- ``GET /{Tickets|TicketNotes}/entityInformation/fields`` (the picklists),
  ``GET /Companies/{id}``, ``GET /Contacts/{id}``, ``GET /ThresholdInformation``.
- Errors in Autotask's shape ``{"errors": ["…"]}``; refused values, a missing ticket on a
  write and missing permissions are HTTP 500, as Autotask answers them.
- Thread limiting: a fourth concurrent request to one endpoint is a 429.

Faults, each queued for the next request to a route (route names in :data:`ROUTES`) and
fired once: :meth:`~FakeAutotask.rate_limit` (429 with ``Retry-After``),
:meth:`~FakeAutotask.fail` (a 5xx; a 500 carries an ``errors`` message),
:meth:`~FakeAutotask.timeout_after_write` (the request is applied, then the answer is held
back longer than a client waits), :meth:`~FakeAutotask.workflow_sets` (a workflow rule that
changes the status right after every PATCH), :meth:`~FakeAutotask.revoke` (the API user's
secret stops working), :meth:`~FakeAutotask.delete_ticket` and
:meth:`~FakeAutotask.move_zone` (the database moves to another zone).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from flowpilot_core.testing.local_server import JSONHandler, LocalServer, ServedFake
from flowpilot_core.testing.route_faults import RouteFaults

ROUTES = (
    "zone", "threshold", "ticket_fields", "note_fields", "get_ticket", "patch_ticket", "query_tickets",
    "post_note", "get_note", "query_notes", "get_company", "get_contact",
)  # fmt: skip
PERMISSION_MESSAGE = "The logged in Resource does not have the adequate permissions to create this entity type."
"""What Autotask answers (with HTTP 500) when the API user's security level does not allow a write."""
NOT_FOUND_MESSAGE = "No matching records found."
MAX_DESCRIPTION = 32_000
MAX_TITLE = 250
THREADS_PER_ENDPOINT = 3
NOTE_FIELDS = frozenset({"ticketID", "title", "description", "noteType", "publish", "id"})
TICKET_PATCH_FIELDS = frozenset({"id", "status", "title", "priority", "queueID"})


@dataclass
class PicklistValue:
    value: int
    label: str
    active: bool = True
    default: bool = False

    def json(self, order: int) -> dict[str, Any]:
        return {"value": str(self.value), "label": self.label, "isDefaultValue": self.default, "sortOrder": order,
                "parentValue": "", "isActive": self.active, "isSystem": self.value < 100}  # fmt: skip


def default_statuses() -> list[PicklistValue]:
    return [
        PicklistValue(1, "New", default=True), PicklistValue(8, "In Progress"), PicklistValue(7, "Waiting Customer"),
        PicklistValue(11, "Escalate"), PicklistValue(5, "Complete"), PicklistValue(17, "Retired", active=False),
    ]  # fmt: skip


def default_note_types() -> list[PicklistValue]:
    return [PicklistValue(1, "General", default=True), PicklistValue(2, "Task Summary"), PicklistValue(3, "Resolution")]


def default_publish() -> list[PicklistValue]:
    return [PicklistValue(1, "Internal Only"), PicklistValue(2, "All Autotask Users"), PicklistValue(3, "Everyone")]


def default_queues() -> list[PicklistValue]:
    return [PicklistValue(5, "Service Desk", default=True), PicklistValue(6, "Monitoring Alerts")]


@dataclass
class FakeNote:
    id: int
    ticket_id: int
    description: str
    note_type: int
    publish: int
    title: str | None = None
    created: str = ""

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id, "ticketID": self.ticket_id, "title": self.title, "description": self.description,
            "noteType": self.note_type, "publish": self.publish, "createDateTime": self.created,
            "lastActivityDate": self.created, "creatorResourceID": 29682885, "impersonatorCreatorResourceID": None,
        }  # fmt: skip


@dataclass
class FakeTicket:
    id: int
    number: str
    title: str
    status: int
    description: str | None = None
    queue_id: int | None = 5
    company_id: int = 175
    contact_id: int | None = None
    require_note_titles: bool = False
    notes: list[FakeNote] = field(default_factory=list)


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    """Header names in lower case."""
    json: Any
    route: str | None = None
    status: int = 0


@dataclass
class _Fault:
    kind: str  # "rate_limit" | "fail" | "hang" | "pass" (let one request through)
    status: int = 0
    retry_after: str | None = None
    message: str | None = None


class _Answer(Exception):
    """An error answer in Autotask's shape."""

    def __init__(self, status: int, *errors: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(" ".join(errors))
        self.status, self.errors, self.headers = status, list(errors), headers or {}

    def body(self) -> dict[str, Any]:
        return {"errors": self.errors}


_INVALID = object()
_instances = itertools.count(1)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class _Handler(JSONHandler):
    fake: FakeAutotask
    server_version = "FakeAutotask/1.0"


class FakeAutotask(ServedFake):
    """The fake server. Use as a context manager, or call :meth:`start` and :meth:`close`."""

    handler = _Handler
    thread_name = "fake-autotask"

    def __init__(
        self,
        *,
        username: str | None = None,
        secret: str = "SECRETabc123fake",  # noqa: S107 (the fake's own test credential)
        integration_code: str = "INTEGRATIONcode9876fake",
        hang_seconds: float = 3.0,
        latency: float = 0.0,
        page_size: int = 500,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        # Each fake is another database: providers share a database's zone, budget and picklists by user name.
        self.username = username or f"flowpilot-api-{next(_instances)}@acme.example"
        self.secret, self.integration_code = secret, integration_code
        self.hang_seconds = hang_seconds
        """How long a held-back answer waits (longer than the client's timeout)."""
        self.latency = latency
        """Seconds every API answer takes (to make concurrency observable)."""
        self.page_size = page_size
        """The largest page this fake answers, however large ``MaxRecords`` is."""
        self.zone_path = "/zone5/atservicesrest"
        self.statuses = default_statuses()
        self.note_types = default_note_types()
        self.publish = default_publish()
        self.queues = default_queues()
        self.companies: dict[int, str] = {175: "Contoso"}
        self.contacts: dict[int, tuple[str, str]] = {}
        self.tickets: dict[int, FakeTicket] = {}
        self.requests: list[RecordedRequest] = []
        self.revoked = False
        self.workflow_status: int | None = None
        self.usage_base = 0
        """Requests other integrations made this hour (``ThresholdInformation`` adds this fake's own)."""
        self.threshold = 10_000
        self.in_flight: dict[str, int] = defaultdict(int)
        self.max_in_flight: dict[str, int] = defaultdict(int)
        self._faults: dict[str, list[_Fault]] = defaultdict(list)
        self._ticket_ids = itertools.count(7001)
        self._note_ids = itertools.count(30_500_001)
        self._contact_ids = itertools.count(30_682_901)
        self._lock = threading.RLock()
        self._release = threading.Event()
        self._host, self._port = host, port
        self._http: LocalServer | None = None

    @property
    def zone_url(self) -> str:
        """The zone's REST root, as the zone lookup names it."""
        return f"{self.url}{self.zone_path}/"

    @property
    def api_url(self) -> str:
        return f"{self.zone_url}v1.0"

    def config(self, **changes: Any) -> dict[str, Any]:
        """A FlowPilot connection config for this fake (``changes`` override keys)."""
        return {
            "username": self.username, "secret": self.secret, "integration_code": self.integration_code,
            "zone_lookup": f"{self.url}/atservicesrest", **changes,
        }  # fmt: skip

    @property
    def secrets(self) -> list[str]:
        """Every credential string a request carries: none may appear in an error or a log line.

        The user name is also listed as a URL writes it (the zone lookup carries it in its query).
        """
        return [self.secret, self.integration_code, self.username, quote(self.username, safe="")]

    @property
    def headers(self) -> dict[str, str]:
        """The headers of an authenticated request (for tests that talk to the fake directly)."""
        return {"ApiIntegrationCode": self.integration_code, "UserName": self.username, "Secret": self.secret}

    # -- arranging ------------------------------------------------------------------------------

    def add_ticket(
        self,
        title: str = "A ticket",
        *,
        status: str = "In Progress",
        description: str | None = None,
        company: str = "Contoso",
        contact: str | None = None,
        queue: str | None = "Service Desk",
        require_note_titles: bool = False,
    ) -> FakeTicket:
        with self._lock:
            ticket_id = next(self._ticket_ids)
            company_id = next((i for i, name in self.companies.items() if name == company), None)
            if company_id is None:
                company_id = max(self.companies) + 1
                self.companies[company_id] = company
            contact_id = None
            if contact:
                contact_id = next(self._contact_ids)
                first, _, last = contact.partition(" ")
                self.contacts[contact_id] = (first, last)
            ticket = FakeTicket(
                id=ticket_id, number=f"T20261201.{ticket_id - 7000:04d}", title=title[:255],
                status=self._value(self.statuses, status).value, description=description,
                queue_id=self._value(self.queues, queue).value if queue else None, company_id=company_id,
                contact_id=contact_id, require_note_titles=require_note_titles,
            )  # fmt: skip
            self.tickets[ticket.id] = ticket
            return ticket

    def add_note(self, ticket_id: int, description: str, *, publish: int = 1, note_type: int = 1) -> FakeNote:
        """A note someone else wrote (not through the API under test)."""
        with self._lock:
            note = FakeNote(next(self._note_ids), ticket_id, description, note_type, publish, created=_now())
            self.tickets[ticket_id].notes.append(note)
            return note

    def status_name(self, ticket_id: int) -> str:
        status = self.tickets[ticket_id].status
        return next(v.label for v in self.statuses if v.value == status)

    @staticmethod
    def _value(values: list[PicklistValue], label: str) -> PicklistValue:
        return next(v for v in values if v.label == label)

    # -- faults ---------------------------------------------------------------------------------

    def _queue(self, route: str, fault: _Fault, times: int, skip: int = 0) -> None:
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r} (routes: {', '.join(ROUTES)})")
        with self._lock:
            self._faults[route].extend([_Fault("pass")] * skip + [fault] * times)

    def rate_limit(self, route: str, retry_after: int | str = 7, *, times: int = 1) -> None:
        """The next ``times`` requests to ``route`` get a 429 with ``Retry-After: retry_after``."""
        self._queue(route, _Fault("rate_limit", 429, str(retry_after)), times)

    def fail(self, route: str, status: int = 503, *, times: int = 1, skip: int = 0, message: str | None = None) -> None:
        """The next ``times`` requests to ``route`` (after ``skip`` more) get ``status`` (a 5xx) and change nothing."""
        self._queue(route, _Fault("fail", status, message=message), times, skip)

    def deny(self, route: str, *, times: int = 1) -> None:
        """The next ``times`` requests to ``route`` get Autotask's permission error: a 500."""
        self.fail(route, 500, times=times, message=PERMISSION_MESSAGE)

    def timeout_after_write(self, route: str) -> None:
        """The next request to ``route`` is applied, then its answer is held back for :attr:`hang_seconds`."""
        self._queue(route, _Fault("hang"), 1)

    def workflow_sets(self, status: int | None) -> None:
        """A workflow rule that moves a ticket to ``status`` right after every status PATCH (``None``: no rule)."""
        self.workflow_status = status

    def revoke(self) -> None:
        """The API user's secret stops working (every API request is a 401)."""
        self.revoked = True

    def delete_ticket(self, ticket_id: int) -> None:
        with self._lock:
            self.tickets.pop(ticket_id, None)

    def move_zone(self) -> None:
        """The database moves to another zone: the old zone's path answers 401, the lookup names the new one."""
        with self._lock:
            self.zone_path = "/zone14/atservicesrest"

    # -- serving --------------------------------------------------------------------------------

    def _authorized(self, headers: dict[str, str]) -> None:
        if not headers.get("apiintegrationcode"):
            raise _Answer(401, "The ApiIntegrationCode header is required.")
        if headers.get("apiintegrationcode") != self.integration_code:
            raise _Answer(401, "The API tracking identifier is not valid.")
        if self.revoked or headers.get("username") != self.username or headers.get("secret") != self.secret:
            raise _Answer(401, "The user name or secret is not valid.")

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], Any]:
        """One request: ``(status, headers, JSON body)``. Called on the server's threads."""
        parts = urlsplit(raw_path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        payload: Any = None
        if body:
            try:
                payload = json.loads(body)
            except ValueError:
                payload = _INVALID
        record = RecordedRequest(method, parts.path, query, headers, None if payload is _INVALID else payload)
        with self._lock:
            self.requests.append(record)
        hang = False
        endpoint = ""
        try:
            route, endpoint, args = self._route(method, parts.path)
            record.route = route
            if route != "zone":
                self._authorized(headers)
                with self._lock:
                    if self.in_flight[endpoint] >= THREADS_PER_ENDPOINT:
                        endpoint = ""  # refused: not in flight
                        raise _Answer(429, "Thread threshold exceeded for this endpoint.")
                    self.in_flight[endpoint] += 1
                    self.max_in_flight[endpoint] = max(self.max_in_flight[endpoint], self.in_flight[endpoint])
                if self.latency:
                    time.sleep(self.latency)
            else:
                endpoint = ""
            with self._lock:
                queued = self._faults.get(route)
                fault = queued.pop(0) if queued else None
            if fault is not None and fault.kind == "rate_limit":
                raise _Answer(429, "Too many requests.", headers={"Retry-After": fault.retry_after or ""})
            if fault is not None and fault.kind == "fail":
                raise _Answer(fault.status, fault.message or "An unexpected error occurred.")
            hang = fault is not None and fault.kind == "hang"
            if method in ("POST", "PATCH"):
                if not headers.get("content-type", "").startswith("application/json"):
                    raise _Answer(415, "Content-Type must be application/json.")
                if payload is _INVALID:
                    raise _Answer(500, "The request body is not valid JSON.")
            with self._lock:
                status, extra, answer = getattr(self, f"_{route}")(query, payload, *args)
        except _Answer as error:
            status, extra, answer = error.status, error.headers, error.body()
        finally:
            if endpoint:
                with self._lock:
                    self.in_flight[endpoint] -= 1
        record.status = status
        if hang:
            self._release.wait(self.hang_seconds)
        return status, extra, answer

    def _route(self, method: str, path: str) -> tuple[str, str, tuple[int, ...]]:
        if path.lower() == "/atservicesrest/v1.0/zoneinformation":
            if method != "GET":
                raise _Answer(405, "The requested resource does not support this method.")
            return "zone", "", ()
        match = re.fullmatch(r"(/zone\d+/atservicesrest)/v1\.0(/.*)", path)
        if not match:
            raise _Answer(404, "Not found.")
        if match.group(1) != self.zone_path:
            raise _Answer(401, "The user name or secret is not valid in this zone.")
        rest = match.group(2)
        table: list[tuple[str, str, str, str]] = [
            ("GET", r"/ThresholdInformation", "threshold", "ThresholdInformation"),
            ("GET", r"/Tickets/entityInformation/fields", "ticket_fields", "Tickets"),
            ("GET", r"/TicketNotes/entityInformation/fields", "note_fields", "TicketNotes"),
            ("GET", r"/Tickets/(\d+)", "get_ticket", "Tickets"),
            ("PATCH", r"/Tickets", "patch_ticket", "Tickets"),
            ("POST", r"/Tickets/query", "query_tickets", "Tickets"),
            ("POST", r"/Tickets/(\d+)/Notes", "post_note", "TicketNotes"),
            ("GET", r"/TicketNotes/(\d+)", "get_note", "TicketNotes"),
            ("POST", r"/TicketNotes/query", "query_notes", "TicketNotes"),
            ("POST", r"/TicketNotes/query/next", "query_notes", "TicketNotes"),
            ("GET", r"/Companies/(\d+)", "get_company", "Companies"),
            ("GET", r"/Contacts/(\d+)", "get_contact", "Contacts"),
        ]
        known_path = False
        for verb, pattern, route, endpoint in table:
            found = re.fullmatch(pattern, rest)
            if found:
                known_path = True
                if verb == method:
                    return route, endpoint, tuple(int(g) for g in found.groups())
        if known_path:
            raise _Answer(405, "The requested resource does not support this method.")
        raise _Answer(404, "Not found.")  # e.g. POST /TicketNotes: notes are created under their ticket

    # -- routes ---------------------------------------------------------------------------------

    def _zone(self, query: dict[str, str], payload: Any) -> tuple[int, dict[str, str], Any]:
        if query.get("user", "").lower() != self.username.lower():
            raise _Answer(500, "Zone information could not be determined.")
        return 200, {}, {"zoneName": "Fake Zone 5", "url": self.zone_url, "webUrl": f"{self.url}/", "ci": 5}

    def _threshold(self, query: dict[str, str], payload: Any) -> tuple[int, dict[str, str], Any]:
        own = sum(1 for r in self.requests if r.route not in (None, "zone"))
        return 200, {}, {"externalRequestThreshold": self.threshold, "requestThresholdTimeframe": 60,
                         "currentTimeframeRequestCount": self.usage_base + own}  # fmt: skip

    @staticmethod
    def _fields(picklists: dict[str, list[PicklistValue]], plain: tuple[str, ...]) -> dict[str, Any]:
        fields: list[dict[str, Any]] = [
            {"name": name, "dataType": "string", "isPickList": False, "picklistValues": None} for name in plain
        ]
        for name, values in picklists.items():
            fields.append({"name": name, "dataType": "integer", "isPickList": True, "isRequired": True,
                           "picklistValues": [v.json(i) for i, v in enumerate(values)]})  # fmt: skip
        return {"fields": fields}

    def _ticket_fields(self, query: dict[str, str], payload: Any) -> tuple[int, dict[str, str], Any]:
        return 200, {}, self._fields({"status": self.statuses, "queueID": self.queues},
                                     ("id", "ticketNumber", "title", "description", "resolution"))  # fmt: skip

    def _note_fields(self, query: dict[str, str], payload: Any) -> tuple[int, dict[str, str], Any]:
        return 200, {}, self._fields({"noteType": self.note_types, "publish": self.publish},
                                     ("id", "ticketID", "title", "description"))  # fmt: skip

    def _ticket_json(self, ticket: FakeTicket) -> dict[str, Any]:
        return {
            "id": ticket.id, "ticketNumber": ticket.number, "title": ticket.title, "description": ticket.description,
            "status": ticket.status, "priority": 2, "queueID": ticket.queue_id, "companyID": ticket.company_id,
            "contactID": ticket.contact_id, "issueType": None, "subIssueType": None, "ticketType": 1,
            "source": 2, "resolution": None, "createDate": "2026-12-01T09:00:00.000Z",
            "lastActivityDate": _now(), "userDefinedFields": [],
        }  # fmt: skip

    def _get_ticket(self, query: dict[str, str], payload: Any, ticket_id: int) -> tuple[int, dict[str, str], Any]:
        ticket = self.tickets.get(ticket_id)
        return 200, {}, {"item": self._ticket_json(ticket) if ticket else None}

    @staticmethod
    def _active(values: list[PicklistValue], value: Any, name: str) -> int:
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or not any(v.value == value and v.active for v in values)
        ):
            raise _Answer(500, f"Value {value!r} is not a valid picklist value for field {name}.")
        return value

    def _entity(self, payload: Any, allowed: frozenset[str]) -> dict[str, Any]:
        if not isinstance(payload, dict):
            raise _Answer(500, "The request body must be a JSON object of the entity's fields.")
        if "item" in payload:
            raise _Answer(500, "The request body must be the entity's fields, not wrapped in 'item'.")
        unknown = sorted(set(payload) - allowed)
        if unknown:
            raise _Answer(500, f"Unknown field(s): {', '.join(unknown)}.")
        return payload

    def _patch_ticket(self, query: dict[str, str], payload: Any) -> tuple[int, dict[str, str], Any]:
        fields = self._entity(payload, TICKET_PATCH_FIELDS)
        ticket_id = fields.get("id")
        if not isinstance(ticket_id, int):
            raise _Answer(500, "An id is required to update a Ticket.")
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            raise _Answer(500, NOT_FOUND_MESSAGE)
        if "status" in fields:
            status = self._active(self.statuses, fields["status"], "status")
        if "title" in fields:
            if not isinstance(fields["title"], str) or not 0 < len(fields["title"]) <= 255:
                raise _Answer(500, "title must be 1 to 255 characters.")
            ticket.title = fields["title"]
        if "status" in fields:
            ticket.status = status
            if self.workflow_status is not None:  # a workflow rule, after the update
                ticket.status = self.workflow_status
        return 200, {}, {"itemId": ticket.id}

    def _filter(self, payload: Any, fields: frozenset[str]) -> tuple[str, Any, int]:
        if not isinstance(payload, dict) or not isinstance(payload.get("filter"), list) or not payload["filter"]:
            raise _Answer(500, "A query needs a filter.")
        unknown = sorted(set(payload) - {"filter", "MaxRecords", "IncludeFields"})
        if unknown:
            raise _Answer(500, f"Unknown query field(s): {', '.join(unknown)}.")
        size = payload.get("MaxRecords", 500)
        if not isinstance(size, int) or not 1 <= size <= 500:
            raise _Answer(500, "MaxRecords must be between 1 and 500.")
        (condition,) = payload["filter"] if len(payload["filter"]) == 1 else (None,)
        if (
            not isinstance(condition, dict)
            or condition.get("op") != "eq"
            or condition.get("field") not in fields
            or "value" not in condition
        ):
            raise _Answer(500, "This fake reads one {op: eq, field, value} condition on " + ", ".join(sorted(fields)))
        return str(condition["field"]), condition["value"], min(size, self.page_size)

    def _page(self, path: str, query: dict[str, str], items: list[Any], size: int) -> tuple[int, dict[str, str], Any]:
        start = int(query.get("paging", "0") or 0)
        batch = items[start : start + size]
        following = f"{self.api_url}{path}/next?paging={start + size}" if start + size < len(items) else None
        return 200, {}, {"items": batch, "pageDetails": {"count": len(batch), "requestCount": size,
                                                         "prevPageUrl": None, "nextPageUrl": following}}  # fmt: skip

    def _query_tickets(self, query: dict[str, str], payload: Any) -> tuple[int, dict[str, str], Any]:
        name, value, size = self._filter(payload, frozenset({"id", "ticketNumber"}))
        key = "id" if name == "id" else "number"
        found = [self._ticket_json(t) for t in self.tickets.values() if getattr(t, key) == value]
        return self._page("/Tickets/query", query, found, size)

    def _query_notes(self, query: dict[str, str], payload: Any) -> tuple[int, dict[str, str], Any]:
        name, value, size = self._filter(payload, frozenset({"ticketID", "id"}))
        notes = [n for t in self.tickets.values() for n in t.notes]
        found = [n.json() for n in notes if (n.ticket_id if name == "ticketID" else n.id) == value]
        return self._page("/TicketNotes/query", query, found, size)

    def _post_note(self, query: dict[str, str], payload: Any, ticket_id: int) -> tuple[int, dict[str, str], Any]:
        fields = self._entity(payload, NOTE_FIELDS)
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            raise _Answer(500, NOT_FOUND_MESSAGE)
        if fields.get("ticketID") != ticket_id:
            raise _Answer(500, "ticketID is required and must be the parent ticket's id.")
        description = fields.get("description")
        if not isinstance(description, str) or not description.strip():
            raise _Answer(500, "description is required.")
        if len(description) > MAX_DESCRIPTION:
            raise _Answer(500, f"description is longer than {MAX_DESCRIPTION} characters.")
        title = fields.get("title")
        if title is not None and (not isinstance(title, str) or len(title) > MAX_TITLE):
            raise _Answer(500, f"title must be a string of at most {MAX_TITLE} characters.")
        if ticket.require_note_titles and not title:
            raise _Answer(500, "This ticket's category requires a title on ticket notes.")
        note = FakeNote(
            next(self._note_ids), ticket_id, description,
            self._active(self.note_types, fields.get("noteType"), "noteType"),
            self._active(self.publish, fields.get("publish"), "publish"), title, _now(),
        )  # fmt: skip
        ticket.notes.append(note)
        return 200, {}, {"itemId": note.id}

    def _get_note(self, query: dict[str, str], payload: Any, note_id: int) -> tuple[int, dict[str, str], Any]:
        note = next((n for t in self.tickets.values() for n in t.notes if n.id == note_id), None)
        return 200, {}, {"item": note.json() if note else None}

    def _get_company(self, query: dict[str, str], payload: Any, company_id: int) -> tuple[int, dict[str, str], Any]:
        name = self.companies.get(company_id)
        return 200, {}, {"item": {"id": company_id, "companyName": name, "isActive": True} if name else None}

    def _get_contact(self, query: dict[str, str], payload: Any, contact_id: int) -> tuple[int, dict[str, str], Any]:
        names = self.contacts.get(contact_id)
        item = {"id": contact_id, "firstName": names[0], "lastName": names[1], "isActive": 1} if names else None
        return 200, {}, {"item": item}


class AutotaskFaults(RouteFaults):
    """The conformance kit's fault adapter (:class:`flowpilot_core.testing.psa_conformance.PSAFaults`) for the fake.

    A server error is a 503: Autotask out of service. (Its 500 means "refused", which is not a transient failure.)
    """

    ROUTE_OF = {
        "get_ticket": "get_ticket", "get_status": "get_ticket", "list_statuses": "ticket_fields",
        "list_notes": "query_notes", "post_note": "post_note", "set_status": "patch_ticket",
    }  # fmt: skip
    """The provider method's request a fault hits."""


__all__ = ["AutotaskFaults", "FakeAutotask", "FakeNote", "FakeTicket", "PicklistValue", "RecordedRequest"]
