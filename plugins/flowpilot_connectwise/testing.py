"""A fake ConnectWise PSA (Manage) REST API: a real HTTP server, strict where ConnectWise is strict.

It runs on a background thread (stdlib ``ThreadingHTTPServer``), so tests exercise the
provider's real httpx requests, headers, JSON and pagination::

    from flowpilot_connectwise.testing import FakeConnectWise

    with FakeConnectWise() as cw:
        ticket = cw.add_ticket("Printer offline", description="Nobody on floor 2 can print")
        provider = create_provider(cw.config())
        ...
        assert cw.tickets[ticket.id].notes[-1].internal

What it implements (research brief §1; see this package's README.md):

- ``GET /login/companyinfo/{company}`` (no credentials) names the codebase; the API is at
  ``/{codebase}apis/3.0``. Every API request needs ``Authorization: Basic
  base64(company+public:private)`` and the ``clientId`` header (401 otherwise); the
  ``Accept`` header of each request is recorded.
- ``GET /service/tickets/{id}`` (``fields`` trims it), ``PATCH /service/tickets/{id}``
  with a JSON-Patch **array** only (an object is a 400), ``status`` set by
  ``{"id": n}`` only, and only to a status of the ticket's own board.
- ``GET|POST /service/tickets/{id}/notes`` and ``GET .../notes/{noteId}``: a note with
  none of ``detailDescriptionFlag``, ``internalAnalysisFlag``, ``resolutionFlag`` set is
  ConnectWise's 400 "Please choose where to display the notes in order to save this
  record."; an empty text is refused too. ``conditions`` (``field=value and ...``) and
  ``orderBy`` (``id asc|desc``) are read; anything else in them is a 400.
- ``GET /service/boards/{id}/statuses``: per-board statuses (ids differ per board).
- ``GET /system/info``.
- ``GET /system/myAccount`` as a hosted (pod) member: authenticated by the
  ``companyName``/``memberId``/``memberHash`` cookies and the ``clientId`` header instead of
  the API member's keys (:meth:`FakeConnectWise.add_member` issues a member's hash,
  :meth:`FakeConnectWise.end_member_session` ends it). [U] the cookie scheme is this
  package's reading of the Hosted API, see README.md.
- Pagination: ``page`` (1-based) and ``pageSize`` (default 25, capped at
  :attr:`FakeConnectWise.max_page_size`, 1000 like ConnectWise), with ``Link`` headers
  (``rel="next"``, ``rel="last"``).
- Errors in ConnectWise's shape ``{"code", "message", "errors": [{"code", "message"}]}``.

Faults, each queued for the next request to a route (route names below) and fired once:
:meth:`~FakeConnectWise.rate_limit` (429 with ``Retry-After``), :meth:`~FakeConnectWise.fail`
(a 5xx), :meth:`~FakeConnectWise.timeout_after_write` (the request is applied, then the answer
is held back longer than a client waits), :meth:`~FakeConnectWise.workflow_sets` (a board
workflow rule that changes the status right after every PATCH), :meth:`~FakeConnectWise.revoke`
(the API member's keys stop working) and :meth:`~FakeConnectWise.delete_ticket`.

Routes: ``companyinfo``, ``system_info``, ``get_ticket``, ``patch_ticket``, ``list_notes``,
``get_note``, ``post_note``, ``list_statuses``, ``my_account``.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import secrets
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from flowpilot_core.testing.local_server import JSONHandler, LocalServer, ServedFake
from flowpilot_core.testing.route_faults import RouteFaults

DEFAULT_CLIENT_ID = "0f6a1a4e-6c0b-4b8e-9d55-7a2f3c9e1b42"
ROUTES = (
    "companyinfo", "system_info", "get_ticket", "patch_ticket", "list_notes", "get_note", "post_note", "list_statuses",
    "my_account",
)  # fmt: skip
NO_FLAG_MESSAGE = "Please choose where to display the notes in order to save this record."
NOTE_FLAGS = ("detailDescriptionFlag", "internalAnalysisFlag", "resolutionFlag")
_CONDITION = re.compile(r'^\s*([A-Za-z_]+)\s*=\s*(true|false|\d+|"[^"]*")\s*$')


@dataclass
class FakeStatus:
    id: int
    name: str
    closed: bool = False
    inactive: bool = False


@dataclass
class FakeBoard:
    id: int
    name: str
    statuses: list[FakeStatus]


@dataclass
class FakeNote:
    id: int
    ticket_id: int
    text: str
    detail: bool = False
    internal: bool = False
    resolution: bool = False
    process_notifications: bool | None = None
    """What the poster sent (``None``: not sent, which ConnectWise treats as true [U])."""
    created: str = ""

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id, "ticketId": self.ticket_id, "text": self.text,
            "detailDescriptionFlag": self.detail, "internalAnalysisFlag": self.internal,
            "resolutionFlag": self.resolution, "issueFlag": False, "dateCreated": self.created,
            "createdBy": "flowpilot", "internalFlag": self.internal, "externalFlag": self.detail,
            "_info": {"lastUpdated": self.created, "updatedBy": "flowpilot"},
        }  # fmt: skip


@dataclass
class FakeMember:
    identifier: str
    email: str | None
    first: str
    last: str
    member_hash: str


@dataclass
class FakeTicket:
    id: int
    summary: str
    board_id: int
    status_id: int
    company: str = "Contoso"
    contact: str | None = None
    closed: bool = False
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
    kind: str  # "rate_limit" | "fail" | "hang"
    status: int = 0
    retry_after: str | None = None


class _Answer(Exception):
    """An error answer in ConnectWise's shape."""

    def __init__(self, status: int, code: str, message: str, errors: list[str] | None = None,
                 headers: dict[str, str] | None = None) -> None:  # fmt: skip
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.errors = errors or []
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            body["errors"] = [{"code": self.code, "message": m, "resource": "ticket"} for m in self.errors]
        return body


def _default_boards() -> dict[int, FakeBoard]:
    return {
        1: FakeBoard(1, "Service Desk", [
            FakeStatus(1, "New"), FakeStatus(2, "In Progress"), FakeStatus(3, "Waiting on escalation"),
            FakeStatus(4, "Closed", closed=True), FakeStatus(5, "Retired", inactive=True),
        ]),
        2: FakeBoard(2, "Projects", [
            FakeStatus(21, "New"), FakeStatus(22, "Working"), FakeStatus(23, ">Closed", closed=True),
            FakeStatus(24, "Cancelled", closed=True),
        ]),
    }  # fmt: skip


class _Handler(JSONHandler):
    fake: FakeConnectWise
    server_version = "FakeConnectWise/1.0"
    extra_headers = {"api-current-version": "2025.1"}


class FakeConnectWise(ServedFake):
    """The fake server. Use as a context manager, or call :meth:`start` and :meth:`close`."""

    handler = _Handler
    thread_name = "fake-connectwise"

    def __init__(
        self,
        *,
        company: str = "acme",
        public_key: str = "pubKEY1234fake",
        private_key: str = "privKEY5678fake",
        client_id: str = DEFAULT_CLIENT_ID,
        codebase: str = "v2025_1/",
        hang_seconds: float = 3.0,
        max_page_size: int = 1000,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.company, self.public_key, self.private_key, self.client_id = company, public_key, private_key, client_id
        self.codebase = codebase
        self.hang_seconds = hang_seconds
        """How long a held-back answer waits (longer than the client's timeout)."""
        self.max_page_size = max_page_size
        self.boards = _default_boards()
        self.tickets: dict[int, FakeTicket] = {}
        self.requests: list[RecordedRequest] = []
        self.revoked = False
        self.workflow_status: int | None = None
        self.members: dict[str, FakeMember] = {}
        self._current_member: FakeMember | None = None
        self._faults: dict[str, list[_Fault]] = defaultdict(list)
        self._ticket_ids = itertools.count(5001)
        self._note_ids = itertools.count(90001)
        self._lock = threading.RLock()
        self._release = threading.Event()
        self._applied: dict[str, threading.Event] = {}
        self._host, self._port = host, port
        self._http: LocalServer | None = None

    @property
    def api_url(self) -> str:
        return f"{self.url}/{self.codebase.rstrip('/')}/apis/3.0"

    def config(self, **changes: Any) -> dict[str, Any]:
        """A FlowPilot connection config for this fake (``changes`` override keys)."""
        return {
            "site": self.url, "company": self.company, "public_key": self.public_key,
            "private_key": self.private_key, "client_id": self.client_id, **changes,
        }  # fmt: skip

    @property
    def secrets(self) -> list[str]:
        """Every credential string a request carries: none may appear in an error or a log line."""
        token = base64.b64encode(f"{self.company}+{self.public_key}:{self.private_key}".encode()).decode()
        return [self.public_key, self.private_key, self.client_id, token]

    # -- arranging ------------------------------------------------------------------------------

    def add_board(self, name: str, statuses: list[FakeStatus]) -> FakeBoard:
        with self._lock:
            board = FakeBoard(max(self.boards) + 1, name, statuses)
            self.boards[board.id] = board
            return board

    def add_ticket(
        self,
        summary: str = "A ticket",
        *,
        board_id: int = 1,
        status: str | None = None,
        description: str | None = None,
        company: str = "Contoso",
        contact: str | None = None,
    ) -> FakeTicket:
        """A ticket on ``board_id`` in the status named ``status`` (default the board's second one, or its first).

        ``description`` becomes the first Discussion note, as ConnectWise stores ``initialDescription``.
        """
        with self._lock:
            board = self.boards[board_id]
            active = [s for s in board.statuses if not s.inactive]
            chosen = next(s for s in board.statuses if s.name == status) if status else active[min(1, len(active) - 1)]
            ticket = FakeTicket(next(self._ticket_ids), summary[:100], board_id, chosen.id, company, contact,
                                closed=chosen.closed)  # fmt: skip
            if description:
                ticket.notes.append(FakeNote(next(self._note_ids), ticket.id, description, detail=True,
                                             created=_now()))  # fmt: skip
            self.tickets[ticket.id] = ticket
            return ticket

    def status_name(self, ticket_id: int) -> str:
        ticket = self.tickets[ticket_id]
        return self._status(ticket.board_id, ticket.status_id).name

    def add_member(self, identifier: str, *, email: str | None = None, first: str = "", last: str = "") -> str:
        """A member signed in to ConnectWise; returns the ``memberHash`` their pods are handed."""
        with self._lock:
            member = FakeMember(identifier, email, first, last, secrets.token_urlsafe(24))
            self.members[identifier.lower()] = member
            return member.member_hash

    def end_member_session(self, identifier: str) -> None:
        """The member signs out: their hash stops working."""
        with self._lock:
            self.members.pop(identifier.lower(), None)

    # -- faults ---------------------------------------------------------------------------------

    def _queue(self, route: str, fault: _Fault, times: int) -> None:
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r} (routes: {', '.join(ROUTES)})")
        with self._lock:
            self._faults[route].extend([fault] * times)

    def rate_limit(self, route: str, retry_after: int | str = 7, *, times: int = 1) -> None:
        """The next ``times`` requests to ``route`` get a 429 with ``Retry-After: retry_after``."""
        self._queue(route, _Fault("rate_limit", 429, str(retry_after)), times)

    def fail(self, route: str, status: int = 500, *, times: int = 1) -> None:
        """The next ``times`` requests to ``route`` get ``status`` (a 5xx) and change nothing."""
        self._queue(route, _Fault("fail", status), times)

    def timeout_after_write(self, route: str) -> None:
        """The next request to ``route`` is applied, then its answer is held back for :attr:`hang_seconds`."""
        self._queue(route, _Fault("hang"), 1)

    def signal_when_applied(self, route: str) -> threading.Event:
        """An event set the moment the next request to ``route`` has been applied, before its answer is sent
        (with :meth:`timeout_after_write` queued too, the answer is then held back): the instant a crash loses it."""
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r} (routes: {', '.join(ROUTES)})")
        with self._lock:
            return self._applied.setdefault(route, threading.Event())

    def release(self) -> None:
        """Send every held-back answer now (to a client that may be gone)."""
        self._release.set()

    def workflow_sets(self, status_id: int | None) -> None:
        """A workflow rule that moves a ticket to ``status_id`` right after every status PATCH (``None``: no rule)."""
        self.workflow_status = status_id

    def revoke(self) -> None:
        """The API member's keys stop working (every API request is a 401)."""
        self.revoked = True

    def delete_ticket(self, ticket_id: int) -> None:
        with self._lock:
            self.tickets.pop(ticket_id, None)

    # -- serving --------------------------------------------------------------------------------

    def _status(self, board_id: int, status_id: int) -> FakeStatus:
        return next(s for s in self.boards[board_id].statuses if s.id == status_id)

    def _authorized(self, headers: dict[str, str]) -> None:
        expected = base64.b64encode(f"{self.company}+{self.public_key}:{self.private_key}".encode()).decode()
        if self.revoked or headers.get("authorization") != f"Basic {expected}":
            raise _Answer(401, "Unauthorized", "Authentication failed: the API member's keys were not accepted")
        if headers.get("clientid") != self.client_id:
            raise _Answer(401, "Unauthorized", "A valid clientId header is required")

    def _member_authorized(self, headers: dict[str, str]) -> FakeMember:
        cookies = dict(
            part.strip().split("=", 1) for part in headers.get("cookie", "").split(";") if "=" in part
        )
        member = self.members.get(cookies.get("memberId", "").lower())
        if (
            member is None
            or cookies.get("companyName", "").lower() != self.company.lower()
            or not secrets.compare_digest(cookies.get("memberHash", ""), member.member_hash)
        ):
            raise _Answer(401, "Unauthorized", "The member's session is not valid")
        if headers.get("clientid") != self.client_id:
            raise _Answer(401, "Unauthorized", "A valid clientId header is required")
        return member

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
        member: FakeMember | None = None
        try:
            route, args = self._route(method, parts.path)
            record.route = route
            if route == "my_account":
                member = self._member_authorized(headers)
            elif route != "companyinfo":
                self._authorized(headers)
            with self._lock:
                queued = self._faults.get(route)
                fault = queued.pop(0) if queued else None
            if fault is not None and fault.kind == "rate_limit":
                raise _Answer(
                    429, "TooManyRequests", "Too many requests", headers={"Retry-After": fault.retry_after or ""}
                )
            if fault is not None and fault.kind == "fail":
                raise _Answer(fault.status, "ServerError", "An unexpected error occurred")
            hang = fault is not None and fault.kind == "hang"
            if method in ("POST", "PATCH"):
                if not headers.get("content-type", "").startswith("application/json"):
                    raise _Answer(415, "UnsupportedMediaType", "Content-Type must be application/json")
                if payload is _INVALID:
                    raise _Answer(400, "InvalidObject", "The request body is not valid JSON")
            with self._lock:
                self._current_member = member if route == "my_account" else None
                status, extra, answer = getattr(self, f"_{route}")(query, payload, *args)
                applied = self._applied.pop(route, None) if status < 400 else None
            if applied is not None:
                applied.set()
        except _Answer as error:
            status, extra, answer = error.status, error.headers, error.body()
        record.status = status
        if hang:
            self._release.wait(self.hang_seconds)
        return status, extra, answer

    def _route(self, method: str, path: str) -> tuple[str, tuple[int, ...]]:
        login = re.fullmatch(r"/login/companyinfo/([^/]+)", path)
        if login and method == "GET":
            if login.group(1).lower() != self.company.lower():
                raise _Answer(404, "NotFound", "Company not found")
            return "companyinfo", ()
        prefix = f"/{self.codebase.rstrip('/')}/apis/3.0"
        if not path.startswith(prefix + "/"):
            raise _Answer(404, "NotFound", "Not found")
        rest = path[len(prefix) :]
        table: list[tuple[str, str, str]] = [
            ("GET", r"/system/info", "system_info"),
            ("GET", r"/system/myAccount", "my_account"),
            ("GET", r"/service/tickets/(\d+)", "get_ticket"),
            ("PATCH", r"/service/tickets/(\d+)", "patch_ticket"),
            ("GET", r"/service/tickets/(\d+)/notes", "list_notes"),
            ("POST", r"/service/tickets/(\d+)/notes", "post_note"),
            ("GET", r"/service/tickets/(\d+)/notes/(\d+)", "get_note"),
            ("GET", r"/service/boards/(\d+)/statuses", "list_statuses"),
        ]
        known_path = False
        for verb, pattern, route in table:
            match = re.fullmatch(pattern, rest)
            if match:
                known_path = True
                if verb == method:
                    return route, tuple(int(g) for g in match.groups())
        if known_path:
            raise _Answer(405, "MethodNotAllowed", f"{method} is not allowed here")
        raise _Answer(404, "NotFound", "Not found")

    def _ticket(self, ticket_id: int) -> FakeTicket:
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            raise _Answer(404, "NotFound", f"Ticket ID {ticket_id} not found")
        return ticket

    def _ticket_json(self, ticket: FakeTicket) -> dict[str, Any]:
        board = self.boards[ticket.board_id]
        status = self._status(ticket.board_id, ticket.status_id)
        body: dict[str, Any] = {
            "id": ticket.id, "summary": ticket.summary, "recordType": "ServiceTicket",
            "board": {"id": board.id, "name": board.name}, "status": {"id": status.id, "name": status.name},
            "company": {"id": 250, "identifier": ticket.company.replace(" ", ""), "name": ticket.company},
            "closedFlag": ticket.closed, "severity": "Medium", "impact": "Medium",
            "_info": {"lastUpdated": _now(), "updatedBy": "flowpilot"},
        }  # fmt: skip
        if ticket.contact:
            body["contact"] = {"id": 77, "name": ticket.contact}
        return body

    # -- routes ---------------------------------------------------------------------------------

    def _companyinfo(self, query: dict[str, str], payload: Any) -> tuple[int, dict[str, str], Any]:
        return 200, {}, {"CompanyName": self.company, "Codebase": self.codebase, "VersionCode": "v2025.1",
                         "CompanyID": self.company, "IsCloud": False, "SiteUrl": self.url}  # fmt: skip

    def _my_account(self, query: dict[str, str], payload: Any) -> tuple[int, dict[str, str], Any]:
        member = self._current_member
        assert member is not None
        return 200, {}, {
            "id": 178, "identifier": member.identifier, "firstName": member.first, "lastName": member.last,
            "officeEmail": member.email, "inactiveFlag": False,
        }  # fmt: skip

    def _system_info(self, query: dict[str, str], payload: Any) -> tuple[int, dict[str, str], Any]:
        return 200, {}, {"version": "v2025.1.99999", "isCloud": False, "serverTimeZone": "UTC"}

    def _get_ticket(self, query: dict[str, str], payload: Any, ticket_id: int) -> tuple[int, dict[str, str], Any]:
        body = self._ticket_json(self._ticket(ticket_id))
        if query.get("fields"):
            wanted = {f.strip().split("/")[0] for f in query["fields"].split(",")}
            body = {k: v for k, v in body.items() if k in wanted}
        return 200, {}, body

    def _patch_ticket(self, query: dict[str, str], payload: Any, ticket_id: int) -> tuple[int, dict[str, str], Any]:
        ticket = self._ticket(ticket_id)
        if not isinstance(payload, list) or not payload:
            raise _Answer(400, "InvalidObject", "The request body must be an array of patch operations",
                          ["PatchOperation[] expected"])  # fmt: skip
        for op in payload:
            if not isinstance(op, dict) or op.get("op") not in ("add", "replace", "remove") or "path" not in op:
                raise _Answer(400, "InvalidObject", "Each patch operation needs op (add, replace, remove) and path")
        changes: dict[str, Any] = {}
        for op in payload:
            path, value = op["path"], op.get("value")
            if path == "status":
                if not isinstance(value, dict) or not isinstance(value.get("id"), int):
                    raise _Answer(400, "InvalidObject", "status must be a reference with an id", ["status/id"])
                if not any(s.id == value["id"] and not s.inactive for s in self.boards[ticket.board_id].statuses):
                    raise _Answer(400, "InvalidObject", "ticket object is invalid",
                                  [f"Status ID {value['id']} is not valid for board {ticket.board_id}"])  # fmt: skip
                changes["status"] = value["id"]
            elif path == "summary" and isinstance(value, str) and 0 < len(value) <= 100:
                changes["summary"] = value
            else:
                raise _Answer(400, "InvalidObject", "ticket object is invalid", [f"cannot patch {path!r} this way"])
        if "summary" in changes:
            ticket.summary = changes["summary"]
        if "status" in changes:
            ticket.status_id = changes["status"]
            ticket.closed = self._status(ticket.board_id, ticket.status_id).closed
        answer = self._ticket_json(ticket)  # the answer shows the PATCH; a workflow rule runs after it
        if "status" in changes and self.workflow_status is not None:
            ticket.status_id = self.workflow_status
            ticket.closed = self._status(ticket.board_id, ticket.status_id).closed
        return 200, {}, answer

    def _page(self, path: str, query: dict[str, str], items: list[Any]) -> tuple[int, dict[str, str], Any]:
        try:
            page = int(query.get("page", "1"))
            size = min(int(query.get("pageSize", "25")), self.max_page_size)
        except ValueError:
            raise _Answer(400, "InvalidObject", "page and pageSize must be numbers") from None
        if page < 1 or size < 1:
            raise _Answer(400, "InvalidObject", "page and pageSize start at 1")
        last = max(1, -(-len(items) // size))
        links = []
        if page < last:
            links.append(f'<{self.url}{path}?{urlencode({**query, "page": page + 1, "pageSize": size})}>; rel="next"')
        links.append(f'<{self.url}{path}?{urlencode({**query, "page": last, "pageSize": size})}>; rel="last"')
        return 200, {"Link": ", ".join(links)}, items[(page - 1) * size : page * size]

    def _ordered(
        self, query: dict[str, str], items: list[dict[str, Any]], keys: tuple[str, ...]
    ) -> list[dict[str, Any]]:
        order = query.get("orderBy", "").strip()
        if not order:
            return items
        match = re.fullmatch(r"(\w+)(?:\s+(asc|desc))?", order, re.IGNORECASE)
        if not match or match.group(1) not in keys:
            raise _Answer(400, "InvalidObject", f"orderBy {order!r} is not supported")
        key = match.group(1)
        return sorted(items, key=lambda i: i[key], reverse=(match.group(2) or "asc").lower() == "desc")

    def _list_notes(self, query: dict[str, str], payload: Any, ticket_id: int) -> tuple[int, dict[str, str], Any]:
        notes = [n.json() for n in self._ticket(ticket_id).notes]
        for clause in re.split(r"\s+and\s+", query.get("conditions", "").strip(), flags=re.IGNORECASE):
            if not clause:
                continue
            match = _CONDITION.fullmatch(clause)
            if not match or match.group(1) not in notes_fields():
                raise _Answer(400, "InvalidObject", f"conditions: cannot read {clause!r}")
            name, raw = match.groups()
            value: Any = raw == "true" if raw in ("true", "false") else int(raw) if raw.isdigit() else raw.strip('"')
            notes = [n for n in notes if n[name] == value]
        notes = self._ordered(query, notes, ("id",))
        return self._page(f"/{self.codebase.rstrip('/')}/apis/3.0/service/tickets/{ticket_id}/notes", query, notes)

    def _get_note(
        self, query: dict[str, str], payload: Any, ticket_id: int, note_id: int
    ) -> tuple[int, dict[str, str], Any]:
        note = next((n for n in self._ticket(ticket_id).notes if n.id == note_id), None)
        if note is None:
            raise _Answer(404, "NotFound", f"Note ID {note_id} not found")
        return 200, {}, note.json()

    def _post_note(self, query: dict[str, str], payload: Any, ticket_id: int) -> tuple[int, dict[str, str], Any]:
        ticket = self._ticket(ticket_id)
        if not isinstance(payload, dict):
            raise _Answer(400, "InvalidObject", "serviceNote object is invalid", ["a ServiceNote object is expected"])
        text = payload.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _Answer(400, "InvalidObject", "serviceNote object is invalid", ["text is required"])
        if not any(payload.get(flag) is True for flag in NOTE_FLAGS):
            raise _Answer(400, "InvalidObject", "serviceNote object is invalid", [NO_FLAG_MESSAGE])
        note = FakeNote(
            next(self._note_ids), ticket.id, text,
            detail=payload.get("detailDescriptionFlag") is True, internal=payload.get("internalAnalysisFlag") is True,
            resolution=payload.get("resolutionFlag") is True, process_notifications=payload.get("processNotifications"),
            created=_now(),
        )  # fmt: skip
        ticket.notes.append(note)
        return 201, {}, note.json()

    def _list_statuses(self, query: dict[str, str], payload: Any, board_id: int) -> tuple[int, dict[str, str], Any]:
        board = self.boards.get(board_id)
        if board is None:
            raise _Answer(404, "NotFound", f"Board ID {board_id} not found")
        statuses = [
            {"id": s.id, "name": s.name, "board": {"id": board.id, "name": board.name}, "sortOrder": position,
             "closedStatus": s.closed, "inactive": s.inactive, "defaultFlag": position == 0,
             "escalationStatus": "NotResponded", "timeEntryNotAllowed": False, "customerPortalFlag": False}
            for position, s in enumerate(board.statuses)
        ]  # fmt: skip
        statuses = self._ordered(query, statuses, ("id", "sortOrder"))
        return self._page(f"/{self.codebase.rstrip('/')}/apis/3.0/service/boards/{board_id}/statuses", query, statuses)


_INVALID = object()


def notes_fields() -> frozenset[str]:
    return frozenset(FakeNote(0, 0, "").json())


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ConnectWiseFaults(RouteFaults):
    """The conformance kit's fault adapter (:class:`flowpilot_core.testing.psa_conformance.PSAFaults`) for the fake."""

    ROUTE_OF = {
        "get_ticket": "get_ticket", "get_status": "get_ticket", "list_statuses": "get_ticket",
        "list_notes": "list_notes", "post_note": "post_note", "set_status": "patch_ticket",
    }  # fmt: skip
    """The provider method's request a fault hits (reading a status starts with reading its ticket)."""
