"""A fake TinyDesk: a real HTTP server that answers like TinyDesk's API, with fault injection.

Strict where TinyDesk is strict: a request without the right ``Authorization: Token …``
is a 401, a comment needs a non-empty ``body`` and a boolean ``private``, a status must be
one of ``/api/statuses``. Faults fire on the next request of one route:

>>> fake = FakeTinyDesk()
>>> ticket = fake.add_ticket("Printer offline")
>>> fake.rate_limit("post_note", retry_after=2)   # the next comment POST is a 429
>>> fake.close()
"""

from __future__ import annotations

import json
import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from flowpilot_core.testing.local_server import LocalServer

STATUSES = [
    {"id": 1, "name": "New", "closed": False},
    {"id": 2, "name": "In Progress", "closed": False},
    {"id": 3, "name": "Waiting on Vendor", "closed": False},
    {"id": 9, "name": "Solved", "closed": True},
]
ROUTES = {
    ("GET", re.compile(r"^/api/tickets/(\d+)$")): "get_ticket",
    ("GET", re.compile(r"^/api/tickets/(\d+)/comments$")): "list_notes",
    ("POST", re.compile(r"^/api/tickets/(\d+)/comments$")): "post_note",
    ("GET", re.compile(r"^/api/statuses$")): "list_statuses",
    ("PUT", re.compile(r"^/api/tickets/(\d+)/status$")): "set_status",
}


def _route(method: str, path: str) -> tuple[str, tuple[str, ...]] | None:
    """The route a request takes, and the ids in its path."""
    for (verb, pattern), route in ROUTES.items():
        match = pattern.match(path)
        if verb == method and match:
            return route, match.groups()
    return None


@dataclass
class Ticket:
    id: int
    title: str
    body: str = ""
    status_id: int = 1
    customer: str | None = None
    requester: str | None = None
    queue: str | None = None
    comments: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return str(self.id)


class FakeTinyDesk:
    """TinyDesk on ``127.0.0.1`` (a free port); ``url`` is its base URL, ``api_key`` the key it accepts."""

    def __init__(self, api_key: str = "td-key-0123456789") -> None:
        self.api_key = api_key
        self.tickets: dict[int, Ticket] = {}
        self.requests: list[tuple[str, str]] = []
        self._next_ticket, self._next_comment = 1000, 1
        self._lock = threading.Lock()
        self._rate_limited: dict[str, int] = {}
        self._failures: defaultdict[str, int] = defaultdict(int)
        self._slow_after_write: set[str] = set()
        self._workflow: int | None = None
        self._release = threading.Event()
        self._server = LocalServer(self._handler(), host="127.0.0.1", port=0, name="fake-tinydesk")

    @property
    def url(self) -> str:
        return self._server.base_url

    def close(self) -> None:
        self._release.set()
        self._server.close()

    # -- the PSA's data --------------------------------------------------------------------------

    def add_ticket(self, title: str, **fields: Any) -> Ticket:
        with self._lock:
            ticket = Ticket(id=self._next_ticket, title=title, **fields)
            self.tickets[ticket.id] = ticket
            self._next_ticket += 1
            return ticket

    # -- faults (each fires on the next request of the route) ------------------------------------

    def rate_limit(self, route: str, retry_after: int) -> None:
        self._rate_limited[route] = retry_after

    def server_error(self, route: str, times: int = 1) -> None:
        self._failures[route] += times

    def timeout_after_write(self, route: str) -> None:
        """Apply the next ``route`` request, then hold its answer until the fake closes."""
        self._slow_after_write.add(route)

    def workflow_sets(self, status_id: int) -> None:
        """A workflow rule: any status change ends in ``status_id``."""
        self._workflow = status_id

    def revoke(self) -> None:
        self.api_key = "revoked-" + self.api_key

    def delete_ticket(self, ref: str) -> None:
        self.tickets.pop(int(ref), None)

    # -- HTTP ----------------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

            def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                fake.requests.append((method, self.path))
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if self.headers.get("Authorization") != f"Token {fake.api_key}":
                    return self._send(401, {"error": "invalid or missing API token"})
                found = _route(method, self.path)
                if found is None:
                    return self._send(404, {"error": f"no route {method} {self.path}"})
                route, groups = found
                if route in fake._rate_limited:
                    retry_after = fake._rate_limited.pop(route)
                    return self._send(429, {"error": "rate limit"}, {"Retry-After": str(retry_after)})
                if fake._failures[route]:
                    fake._failures[route] -= 1
                    return self._send(503, {"error": "TinyDesk is temporarily unavailable"})
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    return self._send(400, {"error": "the body is not JSON"})
                with fake._lock:
                    status, answer = fake._apply(route, groups, body)
                if route in fake._slow_after_write and status < 400:
                    fake._slow_after_write.discard(route)
                    fake._release.wait(30)  # applied; the answer comes too late for the client
                self._send(status, answer)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PUT(self) -> None:
                self._handle("PUT")

        return Handler

    def _ticket_json(self, ticket: Ticket) -> dict[str, Any]:
        status = next(s for s in STATUSES if s["id"] == ticket.status_id)
        return {
            "id": ticket.id, "title": ticket.title, "body": ticket.body, "status": status,
            "customer": ticket.customer, "requester": ticket.requester, "queue": ticket.queue,
        }  # fmt: skip

    def _apply(self, route: str, groups: tuple[str, ...], body: Any) -> tuple[int, Any]:
        if route == "list_statuses":
            return 200, STATUSES
        ticket = self.tickets.get(int(groups[0]))
        if ticket is None:
            return 404, {"error": f"ticket {groups[0]} not found"}
        if route == "get_ticket":
            return 200, self._ticket_json(ticket)
        if route == "list_notes":
            return 200, ticket.comments
        if route == "post_note":
            if not isinstance(body, dict) or not isinstance(body.get("body"), str) or not body["body"].strip():
                return 422, {"error": "a comment needs a non-empty body"}
            if not isinstance(body.get("private"), bool):
                return 422, {"error": "private must be true or false"}
            comment = {"id": self._next_comment, "body": body["body"], "private": body["private"]}
            self._next_comment += 1
            ticket.comments.append(comment)
            return 201, comment
        # set_status
        status_id = body.get("status_id") if isinstance(body, dict) else None
        if status_id not in {s["id"] for s in STATUSES}:
            return 422, {"error": f"unknown status id {status_id!r}"}
        ticket.status_id = self._workflow if self._workflow is not None else status_id
        return 200, self._ticket_json(ticket)
