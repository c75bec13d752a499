"""The example host portal: a fake PSA ticket page that embeds FlowPilot, and the tiny backend minting its embed tokens.

It shows what a portal vendor does: their *backend* signs a short-lived embed token with the
account's embed secret (the secret never reaches a browser), their page loads ``embed.js`` from
the FlowPilot server and mounts the surface with a ``getToken`` callback that asks that backend.

Run it on its own with ``python -m flowpilot_embed.host_portal`` (reads FLOWPILOT_URL,
FLOWPILOT_ACCOUNT_ID, FLOWPILOT_EMBED_SECRET, and optionally HOST_PORTAL_HOST / HOST_PORTAL_PORT);
``flowpilot demo`` starts it through :func:`make_host_portal_server`. The portal's origin must be
one of the account's allowed embedding origins, or the browser refuses to frame FlowPilot.

On its own it shows one fixed ticket. Given a :class:`TicketSource` (``flowpilot demo`` gives it
the ConnectWise fake), it is that PSA's ticket pages: every ticket at ``/tickets/{ref}`` with its
status and notes as the PSA has them now, the embed token signed for the ticket on screen, and
the page re-reading the ticket when FlowPilot reports it resolved or escalated.
"""

from __future__ import annotations

import html
import json
import os
import sys
import threading
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from flowpilot_embed import STATIC_DIR

PORTAL_DIR: Path = STATIC_DIR / "host-portal"

DEMO_TICKET: dict[str, str] = {
    # The same ticket as one of `flowpilot demo`'s sample sessions, so the portal's page and FlowPilot agree.
    "provider": "local",
    "ref": "48220",
    "summary": "Outlook keeps asking for password",
    "description": (
        "Since the weekend Outlook on LAPTOP-7F3K2 prompts for the password every few minutes and the "
        "mailbox shows 'Disconnected'. Webmail works fine."
    ),
    "company": "Northwind Legal",
    "contact": "James Chen",
    "board": "Service Desk",
    "status": "New",
    "priority": "Medium",
}

DEMO_USER: dict[str, str] = {"user_id": "demo-tech", "name": "Dana Tech", "email": "dana.tech@demo-msp.example"}

DEMO_NOTES: list[dict[str, Any]] = [
    # The fixed ticket's notes (without a TicketSource).
    {"id": 1, "text": "It keeps asking for my password. I typed it in again but it comes back after a few minutes.",
     "created": "08:42", "sections": ["Discussion"], "by": "James Chen"},
    {"id": 2, "text": "Assigned to Dana Tech.", "created": "08:55", "sections": ["Internal"], "by": "Service Desk"},
]  # fmt: skip


class TicketSource(Protocol):
    """The PSA behind the portal's pages: its tickets as they are now."""

    provider: str
    """The FlowPilot PSA provider the tickets live in (signed into the embed token's ticket claim)."""

    def refs(self) -> list[str]:
        """Every ticket's number, in queue order."""
        ...

    def ticket(self, ref: str) -> dict[str, Any] | None:
        """``ref``, ``summary``, ``description``, ``company``, ``contact``, ``board``, ``status`` and ``notes``
        (each ``id``, ``text``, ``created``, ``sections``), or ``None`` for a ticket that does not exist."""
        ...


_ASSETS = {"/portal.css": "text/css; charset=utf-8", "/portal.js": "text/javascript; charset=utf-8"}


def make_host_portal_server(
    host: str,
    port: int,
    flowpilot_url: str,
    account_id: str,
    secret: str,
    *,
    ticket: Mapping[str, str] | None = None,
    user: Mapping[str, str] | None = None,
    ttl_seconds: int = 900,
    tickets: TicketSource | None = None,
) -> ThreadingHTTPServer:
    """A ready-to-serve portal (call ``serve_forever()``); ``port=0`` picks a free port (see ``server_address``).

    With ``tickets``, the pages show that PSA's tickets and ``ticket`` is not used."""
    flowpilot_origin = _origin(flowpilot_url)
    config = _PortalConfig(
        flowpilot_url=flowpilot_url.rstrip("/"),
        flowpilot_origin=flowpilot_origin,
        account_id=account_id,
        secret=secret,
        ticket=dict(DEMO_TICKET if ticket is None else ticket),
        user=dict(DEMO_USER if user is None else user),
        ttl_seconds=ttl_seconds,
        tickets=tickets,
    )
    handler = type("HostPortalHandler", (_HostPortalHandler,), {"config": config})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    """Run ``server`` on a daemon thread (for tests and ``flowpilot demo``); stop it with ``server.shutdown()``."""
    thread = threading.Thread(target=server.serve_forever, name="flowpilot-host-portal", daemon=True)
    thread.start()
    return thread


def _origin(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"FLOWPILOT_URL must be an http(s) URL, got {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


class _PortalConfig:
    def __init__(self, **values: Any) -> None:
        self.flowpilot_url: str = values["flowpilot_url"]
        self.flowpilot_origin: str = values["flowpilot_origin"]
        self.account_id: str = values["account_id"]
        self.secret: str = values["secret"]
        self.ticket: dict[str, str] = values["ticket"]
        self.user: dict[str, str] = values["user"]
        self.ttl_seconds: int = values["ttl_seconds"]
        self.tickets: TicketSource | None = values["tickets"]


class _HostPortalHandler(BaseHTTPRequestHandler):
    config: _PortalConfig
    server_version = "FlowPilotHostPortal/1"

    def log_message(self, format: str, *args: Any) -> None:
        if os.environ.get("HOST_PORTAL_LOG"):
            super().log_message(format, *args)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        source = self.config.tickets
        if path in ("/", "/index.html") or (source is not None and path.startswith("/tickets/")):
            ticket = self._ticket(unquote(path.removeprefix("/tickets/")) if path.startswith("/tickets/") else None)
            if ticket is None:
                self._send(HTTPStatus.NOT_FOUND, b"no such ticket", "text/plain; charset=utf-8")
            else:
                self._send(HTTPStatus.OK, self._page(ticket), "text/html; charset=utf-8", csp=True)
        elif source is not None and path.startswith("/api/tickets/"):
            found = source.ticket(unquote(path.removeprefix("/api/tickets/")))
            if found is None:
                self._send(HTTPStatus.NOT_FOUND, b'{"error": "no such ticket"}', "application/json")
            else:
                self._send(HTTPStatus.OK, json.dumps(found).encode(), "application/json")
        elif path in ("/favicon.svg", "/favicon.ico"):  # browsers ask for /favicon.ico when a page names none
            self._send(HTTPStatus.OK, (STATIC_DIR / "favicon.svg").read_bytes(), "image/svg+xml")
        elif path in _ASSETS:
            self._send(HTTPStatus.OK, (PORTAL_DIR / path.lstrip("/")).read_bytes(), _ASSETS[path])
        elif path == "/healthz":
            self._send(HTTPStatus.OK, b"ok", "text/plain; charset=utf-8")
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain; charset=utf-8")

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/api/flowpilot-token":
            self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain; charset=utf-8")
            return
        # A real portal authenticates its own user here (session cookie) and mints for *that* user.
        from flowpilot_core.accounts.embed_tokens import mint_embed_token

        cfg = self.config
        claim: dict[str, str] = cfg.ticket
        if cfg.tickets is not None:
            # The ticket on the page the user is looking at; FlowPilot reads the rest of it from the PSA.
            length = int(self.headers.get("Content-Length") or 0)
            try:
                asked = json.loads(self.rfile.read(length) or b"{}").get("ticket")
            except (ValueError, AttributeError):
                asked = None
            found = cfg.tickets.ticket(str(asked)) if asked else None
            if found is None:
                self._send(HTTPStatus.BAD_REQUEST, b'{"error": "name a ticket of this portal"}', "application/json")
                return
            claim = {"provider": cfg.tickets.provider, "ref": found["ref"], "summary": found["summary"]}
        token = mint_embed_token(
            account_id=cfg.account_id,
            secret=cfg.secret,
            user_id=cfg.user["user_id"],
            name=cfg.user.get("name"),
            email=cfg.user.get("email"),
            ticket=claim,
            ttl_seconds=cfg.ttl_seconds,
        )
        body = json.dumps({"token": token, "expires_in": cfg.ttl_seconds}).encode()
        self._send(HTTPStatus.OK, body, "application/json")

    def _ticket(self, ref: str | None) -> dict[str, Any] | None:
        """The ticket a page shows: the source's (its first one for ``/``), or the fixed one."""
        source = self.config.tickets
        if source is None:
            return {**self.config.ticket, "notes": DEMO_NOTES}
        if ref is None:
            refs = source.refs()
            ref = refs[0] if refs else None
        return source.ticket(ref) if ref else None

    def _page(self, ticket: dict[str, Any]) -> bytes:
        cfg = self.config
        values = {
            "FLOWPILOT_URL": cfg.flowpilot_url,
            "TICKET_PROVIDER": cfg.tickets.provider if cfg.tickets else "",
            "TICKET_REF": ticket.get("ref", ""),
            "TICKET_SUMMARY": ticket.get("summary", ""),
            "TICKET_DESCRIPTION": ticket.get("description", ""),
            "TICKET_COMPANY": ticket.get("company", ""),
            "TICKET_CONTACT": ticket.get("contact", ""),
            "TICKET_BOARD": ticket.get("board", ""),
            "TICKET_STATUS": ticket.get("status", ""),
            "TICKET_PRIORITY": ticket.get("priority") or "not set",
            "USER_NAME": cfg.user.get("name", ""),
        }
        page = (PORTAL_DIR / "index.html").read_text(encoding="utf-8")
        for key, value in values.items():
            page = page.replace(f"{{{{{key}}}}}", html.escape(str(value), quote=True))
        page = page.replace("<!--NOTES-->", _notes_html(ticket.get("notes") or []))
        return page.replace("<!--QUEUE-->", self._queue_html(ticket.get("ref", ""))).encode("utf-8")

    def _queue_html(self, current: str) -> str:
        source = self.config.tickets
        if source is None:
            return ""
        items = []
        for ref in source.refs():
            ticket = source.ticket(ref)
            if ticket is None:
                continue
            here = ' aria-current="page"' if ref == current else ""
            items.append(
                f'<li><a href="/tickets/{html.escape(ref)}"{here}><span class="psa-ref">#{html.escape(ref)}</span> '
                f'{html.escape(ticket["summary"])} <span class="psa-queue__status">{html.escape(ticket["status"])}'
                "</span></a></li>"
            )
        return f'<nav class="psa-queue" aria-label="Service Desk queue"><ol>{"".join(items)}</ol></nav>'

    def _send(self, status: HTTPStatus, body: bytes, content_type: str, *, csp: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        if csp:
            # What a host needs for FlowPilot: its script and its frame. No 'unsafe-inline' anywhere:
            # embed.js styles its iframe through the CSSOM, which CSP allows.
            fp = self.config.flowpilot_origin
            self.send_header(
                "Content-Security-Policy",
                f"default-src 'self'; script-src 'self' {fp}; frame-src {fp}; style-src 'self'; img-src 'self' data:; "
                "connect-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'",
            )
        self.end_headers()
        self.wfile.write(body)


def _notes_html(notes: list[dict[str, Any]]) -> str:
    """The notes as the page first shows them (portal.js renders the same markup from ``/api/tickets/{ref}``)."""
    if not notes:
        return '<li class="psa-notes__empty">No notes yet.</li>'
    items = []
    for note in notes:
        where = " · ".join([*note.get("sections", []), str(note.get("created") or "")]).strip(" ·")
        items.append(
            f'<li data-note-id="{html.escape(str(note["id"]))}"><strong>{html.escape(str(note.get("by") or "Note"))}'
            f"</strong> <span>{html.escape(where)}</span><p>{html.escape(str(note['text']))}</p></li>"
        )
    return "".join(items)


def main() -> int:
    """``python -m flowpilot_embed.host_portal``: serve the example portal until Ctrl+C."""
    missing = [k for k in ("FLOWPILOT_ACCOUNT_ID", "FLOWPILOT_EMBED_SECRET") if not os.environ.get(k)]
    if missing:
        print(f"host portal: set {' and '.join(missing)} (and FLOWPILOT_URL)", file=sys.stderr)
        return 2
    host = os.environ.get("HOST_PORTAL_HOST", "127.0.0.1")
    port = int(os.environ.get("HOST_PORTAL_PORT", "8001"))
    server = make_host_portal_server(
        host,
        port,
        os.environ.get("FLOWPILOT_URL", "http://127.0.0.1:8000"),
        os.environ["FLOWPILOT_ACCOUNT_ID"],
        os.environ["FLOWPILOT_EMBED_SECRET"],
    )
    print(f"Example host portal on http://{host}:{server.server_address[1]}/ (Ctrl+C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
