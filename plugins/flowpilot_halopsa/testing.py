"""A fake HaloPSA: its Authorisation Server and its Resource Server, a real HTTP server, strict where Halo is.

It runs on a background thread (the shared :class:`~flowpilot_core.testing.local_server.LocalServer`),
so tests exercise the provider's real httpx requests, OAuth token, headers, JSON and pagination::

    from flowpilot_halopsa.testing import FakeHaloPSA

    with FakeHaloPSA() as halo:
        ticket = halo.add_ticket("Printer offline", details="Nobody on floor 2 can print")
        provider = create_provider(halo.config())
        ...
        assert halo.tickets[ticket.id].actions[-1].hidden

What it implements (research brief §3; see this package's README.md):

- ``POST /auth/token[?tenant=…]`` (form: ``grant_type=client_credentials``, ``client_id``,
  ``client_secret``, ``scope``) answers ``access_token``, ``token_type``, ``expires_in``; a wrong
  client is ``401 {"error": "invalid_client"}``, a wrong or missing tenant (when the fake has one)
  a 400. Tokens expire after :attr:`FakeHaloPSA.token_lifetime` seconds.
- Every ``/api`` request needs ``Authorization: Bearer <token>`` of a live token (401 otherwise).
- ``GET /api/Tickets/{id}``; ``POST /api/Tickets`` with a JSON **array** only (an object is a 400),
  an item with an ``id`` updates that ticket (``status_id`` only to a status ``/Status`` lists).
- ``GET /api/Actions?ticket_id=`` (``excludesys``, ``includehtmlnote``, ``pageinate``,
  ``page_size``, ``page_no``) → ``{"record_count", "actions"}``; ``GET /api/Actions/{id}?ticket_id=``;
  ``POST /api/Actions`` with a JSON **array** only, fields of Halo's ``Actions`` schema only
  (``additionalProperties: false``), a ticket, a note (``note`` or ``note_html``) and a known
  outcome required.
- ``GET /api/Status`` → a bare array of ``{id, name, type, treatasclose, sequence}``.
- The hosted limit: more than :attr:`FakeHaloPSA.requests_per_window` API requests in any
  :attr:`FakeHaloPSA.rate_window` seconds is Halo's 429 "Rate Limit Reached - 300 Requests per
  rolling 5 minute window", without ``Retry-After`` (whether Halo sends one is not known).

Faults, each queued for the next request to a route and fired once: :meth:`~FakeHaloPSA.rate_limit`
(429 with ``Retry-After``), :meth:`~FakeHaloPSA.fail` (a 5xx), :meth:`~FakeHaloPSA.timeout_after_write`
(applied, then the answer is held back longer than a client waits), :meth:`~FakeHaloPSA.workflow_sets`
(a rule that changes the status right after every update), :meth:`~FakeHaloPSA.revoke` (the API
application's secret stops working, its tokens too), :meth:`~FakeHaloPSA.expire_tokens` (every token
issued so far expires, now or after a number of requests) and :meth:`~FakeHaloPSA.delete_ticket`.

Routes: ``token``, ``get_ticket``, ``post_tickets``, ``list_actions``, ``get_action``,
``post_actions``, ``list_statuses``.
"""

from __future__ import annotations

import html
import itertools
import json
import re
import secrets
import threading
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from flowpilot_core.testing.local_server import JSONHandler, LocalServer, ServedFake
from flowpilot_core.testing.route_faults import RouteFaults

ROUTES = ("token", "get_ticket", "post_tickets", "list_actions", "get_action", "post_actions", "list_statuses")
RATE_LIMIT_MESSAGE = "Rate Limit Reached - 300 Requests per rolling 5 minute window"
ACTION_FIELDS = frozenset({
    "id", "ticket_id", "outcome", "outcome_id", "note", "note_html", "hiddenfromuser", "important", "timetaken",
    "new_status", "new_status_name", "old_status", "emailto", "emailcc", "sendemail", "emailtemplate_id",
    "send_survey", "dont_do_rules", "_dont_fire_automations", "private_note", "who_agentid", "actionby_agent_id",
    "datetime", "actiondatecreated",
})  # fmt: skip
"""Halo's ``Actions`` schema (research brief §3.3); anything else is refused, as ``additionalProperties: false``."""
TICKET_FIELDS = frozenset({"id", "summary", "details", "status_id"})
"""What this fake lets ``POST /Tickets`` change (Halo accepts many more)."""
DEFAULT_OUTCOMES = {"Private Note": 21, "Note Added": 1, "Resolution": 22, "Email User": 16}
MAX_PAGE_SIZE = 100


@dataclass
class FakeStatus:
    id: int
    name: str
    closed: bool = False

    def json(self, sequence: int) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "type": 0, "colour": "#4a90d9", "sequence": sequence,
                "treatasopen": not self.closed, "treatasclose": self.closed, "treatasonhold": False}  # fmt: skip


@dataclass
class FakeAction:
    id: int
    ticket_id: int
    outcome: str
    note_html: str
    note: str
    hidden: bool = False
    sendemail: bool | None = None
    """What the poster sent (``None``: not sent)."""
    sent: dict[str, Any] = field(default_factory=dict)
    """The posted item as it arrived."""
    created: str = ""

    def json(self, *, with_html: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id, "ticket_id": self.ticket_id, "outcome": self.outcome,
            "outcome_id": DEFAULT_OUTCOMES.get(self.outcome, 0), "who": "FlowPilot API", "who_type": 1,
            "datetime": self.created, "note": self.note, "hiddenfromuser": self.hidden, "important": False,
            "timetaken": 0.0, "new_status": 0,
        }  # fmt: skip
        if with_html:
            body["note_html"] = self.note_html
        return body


@dataclass
class FakeTicket:
    id: int
    summary: str
    status_id: int
    details: str | None = None
    client_name: str = "Contoso"
    user_name: str | None = None
    team: str = "Service Desk"
    actions: list[FakeAction] = field(default_factory=list)


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    """Header names in lower case."""
    json: Any
    form: dict[str, str] = field(default_factory=dict)
    route: str | None = None
    status: int = 0


@dataclass
class _Fault:
    kind: str  # "rate_limit" | "fail" | "hang"
    status: int = 0
    retry_after: str | None = None


class _Answer(Exception):
    """An error answer, in one of Halo's shapes."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(str(body))
        self.status, self.body, self.headers = status, body, headers or {}


def _refused(message: str, status: int = 400) -> _Answer:
    return _Answer(status, {"ClassName": "HaloException", "Message": message})


def _default_statuses() -> list[FakeStatus]:
    return [
        FakeStatus(1, "New"), FakeStatus(2, "In Progress"), FakeStatus(3, "Action Required"),
        FakeStatus(4, "With User"), FakeStatus(5, "Waiting on escalation"), FakeStatus(9, "Closed", closed=True),
    ]  # fmt: skip


def html_to_text(note_html: str) -> str:
    """Halo's plain ``note`` of an action posted as HTML."""
    text = re.sub(r"</p>\s*<p[^>]*>", "\n\n", note_html, flags=re.IGNORECASE)
    text = re.sub(r"<br\s*/?>", "\n", text, flags=re.IGNORECASE)
    return html.unescape(re.sub(r"<[^>]+>", "", text)).strip()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


class _Handler(JSONHandler):
    fake: FakeHaloPSA
    server_version = "FakeHaloPSA/1.0"


class FakeHaloPSA(ServedFake):
    """The fake server. Use as a context manager, or call :meth:`start` and :meth:`close`."""

    handler = _Handler
    thread_name = "fake-halopsa"

    def __init__(
        self,
        *,
        client_id: str | None = None,
        client_secret: str = "haloSECRET-5678-fake",  # noqa: S107 (the fake's own, not a real secret)
        tenant: str | None = "acme",
        token_lifetime: float = 3600.0,
        requests_per_window: int = 300,
        rate_window: float = 300.0,
        hang_seconds: float = 3.0,
        max_page_size: int = MAX_PAGE_SIZE,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        # A fresh client id per fake: FlowPilot's request budget is per instance and client, so fakes never share one.
        self.client_id = client_id or str(uuid.uuid4())
        self.client_secret, self.tenant = client_secret, tenant
        self.token_lifetime = token_lifetime
        self.requests_per_window, self.rate_window = requests_per_window, rate_window
        self.hang_seconds = hang_seconds
        """How long a held-back answer waits (longer than the client's timeout)."""
        self.max_page_size = max_page_size
        self.statuses = _default_statuses()
        self.outcomes = dict(DEFAULT_OUTCOMES)
        self.tickets: dict[int, FakeTicket] = {}
        self.requests: list[RecordedRequest] = []
        self.revoked = False
        self.workflow_status: int | None = None
        self._secrets: list[str] = [self.client_id, self.client_secret]
        self._tokens: dict[str, float] = {}
        self._expire_countdown: int | None = None
        self._api_times: deque[float] = deque()
        self._faults: dict[str, list[_Fault]] = defaultdict(list)
        self._ticket_ids = itertools.count(1001)
        self._action_ids = itertools.count(70001)
        self._lock = threading.RLock()
        self._release = threading.Event()
        self._host, self._port = host, port
        self._http: LocalServer | None = None

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    def config(self, **changes: Any) -> dict[str, Any]:
        """A FlowPilot connection config for this fake (``changes`` override keys)."""
        base: dict[str, Any] = {"site": self.url, "client_id": self.client_id, "client_secret": self.client_secret}
        if self.tenant:
            base["tenant"] = self.tenant
        return {**base, **changes}

    @property
    def secrets(self) -> list[str]:
        """Every credential a request carries: the client id and secret and every token issued so far.

        The same list grows as tokens are issued, so a check that runs later sees them all.
        """
        return self._secrets

    @property
    def tokens_issued(self) -> int:
        return len(self._secrets) - 2

    # -- arranging ------------------------------------------------------------------------------

    def add_ticket(
        self,
        summary: str = "A ticket",
        *,
        status: str = "In Progress",
        details: str | None = None,
        client_name: str = "Contoso",
        user_name: str | None = None,
        team: str = "Service Desk",
    ) -> FakeTicket:
        with self._lock:
            chosen = next(s for s in self.statuses if s.name == status)
            ticket = FakeTicket(next(self._ticket_ids), summary, chosen.id, details, client_name, user_name, team)
            self.tickets[ticket.id] = ticket
            return ticket

    def status_name(self, ticket_id: int) -> str:
        return self._status(self.tickets[ticket_id].status_id).name

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

    def workflow_sets(self, status_id: int | None) -> None:
        """A rule that moves a ticket to ``status_id`` right after every status update (``None``: no rule)."""
        self.workflow_status = status_id

    def revoke(self) -> None:
        """The API application's secret is revoked: its tokens stop working and no new one is issued."""
        with self._lock:
            self.revoked = True
            self._tokens.clear()

    def expire_tokens(self, *, after_requests: int = 0) -> None:
        """Every token issued so far expires now, or after the next ``after_requests`` API requests (mid-way
        through a writeback); new ones are still issued."""
        with self._lock:
            if after_requests > 0:
                self._expire_countdown = after_requests
            else:
                self._tokens.clear()

    def delete_ticket(self, ticket_id: int) -> None:
        with self._lock:
            self.tickets.pop(ticket_id, None)

    # -- serving --------------------------------------------------------------------------------

    def _status(self, status_id: int) -> FakeStatus:
        return next(s for s in self.statuses if s.id == status_id)

    def _authorized(self, headers: dict[str, str]) -> None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        expires = self._tokens.get(token) if scheme.lower() == "bearer" else None
        if expires is None or time.monotonic() >= expires:
            raise _Answer(401, {"Message": "Authorization has been denied for this request."},
                          {"WWW-Authenticate": 'Bearer error="invalid_token"'})  # fmt: skip

    def _count(self) -> None:
        """The hosted limit, counted like Halo counts it: a rolling window of API requests."""
        now = time.monotonic()
        while self._api_times and self._api_times[0] <= now - self.rate_window:
            self._api_times.popleft()
        if len(self._api_times) >= self.requests_per_window:
            raise _Answer(429, {"Message": RATE_LIMIT_MESSAGE})
        self._api_times.append(now)

    def _count_down_to_expiry(self) -> None:
        if self._expire_countdown is not None:
            self._expire_countdown -= 1
            if self._expire_countdown <= 0:
                self._expire_countdown = None
                self._tokens.clear()

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], Any]:
        """One request: ``(status, headers, JSON body)``. Called on the server's threads."""
        parts = urlsplit(raw_path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        form_posted = headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
        payload: Any = None
        form: dict[str, str] = {}
        if body and form_posted:
            form = dict(parse_qsl(body.decode(errors="replace"), keep_blank_values=True))
        elif body:
            try:
                payload = json.loads(body)
            except ValueError:
                payload = _INVALID
        record = RecordedRequest(method, parts.path, query, headers, None if payload is _INVALID else payload, form)
        with self._lock:
            self.requests.append(record)
        hang = False
        try:
            with self._lock:
                route, args = self._route(method, parts.path)
                record.route = route
                if route != "token":
                    self._authorized(headers)
                queued = self._faults.get(route)
                fault = queued.pop(0) if queued else None
                if fault is not None and fault.kind == "rate_limit":
                    raise _Answer(429, {"Message": RATE_LIMIT_MESSAGE}, {"Retry-After": fault.retry_after or ""})
                if fault is not None and fault.kind == "fail":
                    raise _Answer(fault.status, {"ClassName": "Exception", "Message": "An error has occurred."})
                hang = fault is not None and fault.kind == "hang"
                if route == "token":
                    status, extra, answer = self._token(query, form, form_posted)
                else:
                    self._count()
                    if method == "POST":
                        if not headers.get("content-type", "").startswith("application/json"):
                            raise _refused("Content-Type must be application/json", 415)
                        if payload is _INVALID:
                            raise _refused("The request body is not valid JSON")
                    status, extra, answer = getattr(self, f"_{route}")(query, payload, *args)
                    self._count_down_to_expiry()
        except _Answer as error:
            status, extra, answer = error.status, error.headers, error.body
        record.status = status
        if hang:
            self._release.wait(self.hang_seconds)
        return status, extra, answer

    def _route(self, method: str, path: str) -> tuple[str, tuple[int, ...]]:
        table: list[tuple[str, str, str]] = [
            ("POST", r"/auth/token", "token"),
            ("GET", r"/api/Tickets/(\d+)", "get_ticket"),
            ("POST", r"/api/Tickets", "post_tickets"),
            ("GET", r"/api/Actions", "list_actions"),
            ("GET", r"/api/Actions/(\d+)", "get_action"),
            ("POST", r"/api/Actions", "post_actions"),
            ("GET", r"/api/Status", "list_statuses"),
        ]
        known_path = False
        for verb, pattern, route in table:
            match = re.fullmatch(pattern, path, flags=re.IGNORECASE)  # Halo's routes are not case-sensitive
            if match:
                known_path = True
                if verb == method:
                    return route, tuple(int(g) for g in match.groups())
        if known_path:
            raise _Answer(405, {"Message": f"The requested resource does not support http method '{method}'."})
        raise _Answer(404, {"Message": "No HTTP resource was found that matches the request URI."})

    def _ticket(self, ticket_id: int) -> FakeTicket:
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            raise _Answer(404, {"Message": f"Ticket {ticket_id} not found"})
        return ticket

    def _ticket_json(self, ticket: FakeTicket) -> dict[str, Any]:
        status = self._status(ticket.status_id)
        return {
            "id": ticket.id, "summary": ticket.summary, "details": ticket.details or "",
            "details_html": f"<p>{html.escape(ticket.details or '')}</p>", "status_id": status.id,
            "status_name": status.name, "tickettype_id": 1, "priority_id": 3, "client_id": 12,
            "client_name": ticket.client_name, "site_id": 18, "site_name": "Main",
            "user_id": 40 if ticket.user_name else 0, "user_name": ticket.user_name or "", "agent_id": 1,
            "team": ticket.team, "dateoccurred": "2026-12-01T09:00:00", "onhold": False,
        }  # fmt: skip

    # -- routes ---------------------------------------------------------------------------------

    def _token(self, query: dict[str, str], form: dict[str, str], form_posted: bool) -> tuple[int, dict[str, str], Any]:
        if not form_posted:
            raise _Answer(400, {"error": "invalid_request", "error_description": "form-encoded body expected"})
        if form.get("grant_type") != "client_credentials":
            raise _Answer(400, {"error": "unsupported_grant_type"})
        if self.tenant is not None and query.get("tenant", "").lower() != self.tenant.lower():
            raise _Answer(400, {"error": "invalid_request", "error_description": "unknown tenant"})
        if self.revoked or form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            raise _Answer(401, {"error": "invalid_client"})
        if not form.get("scope", "").strip():
            raise _Answer(400, {"error": "invalid_scope"})
        token = secrets.token_urlsafe(32)
        self._tokens[token] = time.monotonic() + self.token_lifetime
        self._secrets.append(token)
        return 200, {}, {"access_token": token, "token_type": "Bearer", "expires_in": int(self.token_lifetime),
                         "scope": form["scope"]}  # fmt: skip

    def _get_ticket(self, query: dict[str, str], payload: Any, ticket_id: int) -> tuple[int, dict[str, str], Any]:
        return 200, {}, self._ticket_json(self._ticket(ticket_id))

    def _post_tickets(self, query: dict[str, str], payload: Any) -> tuple[int, dict[str, str], Any]:
        if not isinstance(payload, list) or not payload:
            raise _refused("The request body must be an array of Faults")
        answers = []
        for item in payload:
            if not isinstance(item, dict):
                raise _refused("Each item must be a Faults object")
            unknown = sorted(set(item) - TICKET_FIELDS)
            if unknown:
                raise _refused(f"this fake does not update {', '.join(unknown)}")
            status_id = item.get("status_id")
            if status_id is not None and (
                not isinstance(status_id, int) or not any(s.id == status_id for s in self.statuses)
            ):
                raise _refused(f"Status {status_id!r} does not exist")
            ticket_id = item.get("id")
            if not isinstance(ticket_id, int) or ticket_id <= 0:
                summary = item.get("summary")
                if not isinstance(summary, str) or not summary.strip():
                    raise _refused("A summary is required for a new ticket")
                ticket = self.add_ticket(summary, details=item.get("details"))
            else:
                ticket = self._ticket(ticket_id)
            if isinstance(item.get("summary"), str):
                ticket.summary = item["summary"]
            if status_id is not None:
                ticket.status_id = status_id
            answers.append(self._ticket_json(ticket))  # the answer shows the update; a rule runs after it
            if status_id is not None and self.workflow_status is not None:
                ticket.status_id = self.workflow_status
        return 201, {}, answers[0] if len(answers) == 1 else answers

    def _list_actions(self, query: dict[str, str], payload: Any) -> tuple[int, dict[str, str], Any]:
        raw_ticket = query.get("ticket_id", "")
        if not raw_ticket.isdigit():
            raise _refused("ticket_id is required")
        ticket = self.tickets.get(int(raw_ticket))
        with_html = query.get("includehtmlnote", "").lower() == "true"
        actions = [a.json(with_html=with_html) for a in (ticket.actions if ticket else [])]  # unknown: empty
        body: dict[str, Any] = {"record_count": len(actions)}
        if query.get("pageinate", "").lower() == "true":
            try:
                size = min(int(query.get("page_size", "50")), self.max_page_size)
                page = int(query.get("page_no", "1"))
            except ValueError:
                raise _refused("page_size and page_no must be numbers") from None
            if size < 1 or page < 1:
                raise _refused("page_size and page_no start at 1")
            body.update(page_no=page, page_size=size, actions=actions[(page - 1) * size : page * size])
        else:
            body["actions"] = actions
        return 200, {}, body

    def _get_action(self, query: dict[str, str], payload: Any, action_id: int) -> tuple[int, dict[str, str], Any]:
        raw_ticket = query.get("ticket_id", "")
        if not raw_ticket.isdigit():
            raise _refused("ticket_id is required")
        ticket = self._ticket(int(raw_ticket))
        action = next((a for a in ticket.actions if a.id == action_id), None)
        if action is None:
            raise _Answer(404, {"Message": f"Action {action_id} not found"})
        body = action.json(with_html=True)
        body.update(sendemail=bool(action.sendemail), emailto="", emailcc="")
        return 200, {}, body

    def _post_actions(self, query: dict[str, str], payload: Any) -> tuple[int, dict[str, str], Any]:
        if not isinstance(payload, list) or not payload:
            raise _refused("The request body must be an array of Actions")
        created: list[FakeAction] = []
        for item in payload:
            if not isinstance(item, dict):
                raise _refused("Each item must be an Actions object")
            unknown = sorted(set(item) - ACTION_FIELDS)
            if unknown:
                raise _refused(f"Could not find member '{unknown[0]}' on object of type 'Actions'")
            ticket_id = item.get("ticket_id")
            if not isinstance(ticket_id, int):
                raise _refused("ticket_id is required")
            ticket = self._ticket(ticket_id)
            note_html, note = item.get("note_html"), item.get("note")
            if isinstance(note_html, str) and note_html.strip():
                text = html_to_text(note_html)
            elif isinstance(note, str) and note.strip():
                text, note_html = note.strip(), f"<p>{html.escape(note)}</p>"
            else:
                raise _refused("A note is required")
            if not text:
                raise _refused("A note is required")
            outcome = item.get("outcome")
            if outcome is None and isinstance(item.get("outcome_id"), int):
                outcome = next((n for n, i in self.outcomes.items() if i == item["outcome_id"]), None)
            if outcome not in self.outcomes:
                raise _refused(f"Outcome {outcome!r} does not exist")
            created.append(FakeAction(
                next(self._action_ids), ticket.id, str(outcome), str(note_html), text,
                hidden=item.get("hiddenfromuser") is True, sendemail=item.get("sendemail"), sent=dict(item),
                created=_now(),
            ))  # fmt: skip
        for action in created:  # all or nothing
            self.tickets[action.ticket_id].actions.append(action)
        answers = [a.json(with_html=True) for a in created]
        return 201, {}, answers[0] if len(answers) == 1 else answers

    def _list_statuses(self, query: dict[str, str], payload: Any) -> tuple[int, dict[str, str], Any]:
        return 200, {}, [s.json(sequence) for sequence, s in enumerate(self.statuses, start=1)]


_INVALID = object()


class HaloFaults(RouteFaults):
    """The conformance kit's fault adapter (:class:`flowpilot_core.testing.psa_conformance.PSAFaults`) for the fake."""

    ROUTE_OF = {
        "get_ticket": "get_ticket", "get_status": "get_ticket", "list_statuses": "list_statuses",
        "list_notes": "list_actions", "post_note": "post_actions", "set_status": "post_tickets",
    }  # fmt: skip
    """The provider method's request a fault hits (reading a status is reading its ticket)."""
