"""embed.js: mounting in a host page on another origin, the postMessage trust checks, token refresh."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Frame, Page, expect

from flowpilot_core.accounts.embed_tokens import mint_embed_token
from tests.browser.conftest import HostPortal, PageErrors
from tests.conftest import LiveServer, Tenant

pytestmark = pytest.mark.browser

HOST_EVENTS = ["ready", "session-created", "resolved", "escalated", "resize", "error"]


def events(page: Page, kind: str | None = None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate("window.portalEvents || window.events || []")
    return [e for e in found if kind is None or e["type"] == kind]


def wait_for_event(page: Page, kind: str, timeout: float = 10.0) -> dict[str, Any]:
    """Poll the host's event log (wait_for_function would need eval, which the portal's CSP forbids)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = events(page, kind)
        if found:
            return found[0]
        page.wait_for_timeout(50)
    raise AssertionError(f"no {kind!r} event from FlowPilot within {timeout}s; got {events(page)}")


def flowpilot_frame(page: Page) -> Frame:
    frame = page.frame(url=re.compile(r"/pilot\?"))
    assert frame is not None, "FlowPilot's iframe is missing"
    return frame


def test_loader_mounts_flowpilot_in_the_example_portal(
    page: Page, host_portal: HostPortal, live_server: LiveServer, tenant: Tenant, page_errors: PageErrors
) -> None:
    page.set_viewport_size({"width": 1400, "height": 860})
    page.goto(host_portal.url)
    ready = wait_for_event(page, "ready")["detail"]
    assert ready["account"]["id"] == str(tenant.account_id)
    assert ready["user"]["display_name"] == "Dana Tech"

    iframe = page.locator("#flowpilot iframe")
    src = iframe.get_attribute("src") or ""
    assert src == f"{live_server.url}/pilot?account={tenant.account_id}&embed=1"
    assert iframe.evaluate("(el) => getComputedStyle(el).borderTopWidth") == "0px", "host CSS must not reach the iframe"
    fp = page.frame_locator("#flowpilot iframe")
    expect(fp.locator(".fp-brand")).to_have_text("FlowPilot")
    expect(fp.locator("#fp-user-initials")).to_have_text("DT")
    assert "token" not in flowpilot_frame(page).url

    # The signed ticket claim puts the session on the portal's ticket.
    fp.locator("fp-session-list [data-action=new-session]").click()
    dialog = fp.locator("dialog[data-dialog=new-session]")
    expect(dialog.locator(".fp-linked-ticket")).to_contain_text("ticket #48220")
    expect(dialog.locator("#fp-new-summary")).to_have_value("Outlook keeps asking for password")
    dialog.locator("#fp-new-problem").fill("Outlook on LAPTOP-7F3K2 prompts for the M365 password")
    dialog.locator("button[type=submit]").click()
    expect(fp.locator(".fp-problem__statement")).to_have_text("Outlook on LAPTOP-7F3K2 prompts for the M365 password")
    created = wait_for_event(page, "session-created")["detail"]["session"]
    assert created["ticket_ref"] == "48220"
    expect(page.locator("#fp-events")).to_contain_text("session-created")

    page.select_option("#fp-theme", "dark")
    expect(fp.locator("html")).to_have_attribute("data-theme", "dark")
    assert page_errors.errors == []


# ---- Custom host pages, served from 127.0.0.1 on their own port (an allowed origin) ---------------------------------
# (Not page.route: Chromium treats a fulfilled response as a public page, and Local Network Access then blocks
# its requests to the loopback FlowPilot server.)

HostPage = Callable[..., Page]


class _TestHostHandler(BaseHTTPRequestHandler):
    pages: dict[str, str]
    mint: Callable[[], str]

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = self.pages.get(self.path)
        self._send(200 if body else 404, body or "not found", "text/html; charset=utf-8")

    def do_POST(self) -> None:  # /fresh-token: the host backend minting a token for getToken()
        self._send(200, json.dumps({"token": self.mint()}), "application/json")

    def _send(self, status: int, body: str, content_type: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def host_page(page: Page, live_server: LiveServer, tenant: Tenant) -> Iterator[HostPage]:
    """Open a minimal host page that mounts FlowPilot with the given options (at http://127.0.0.1:<port>).

    ``getToken`` (when asked for) POSTs to ``/fresh-token``, which mints a valid token per call; the page counts
    calls in ``window.tokenCalls``. The same server answers on ``localhost`` too: that is the "evil" origin.
    """
    pages: dict[str, str] = {"/evil.html": EVIL_PAGE}
    handler = type("Handler", (_TestHostHandler,), {"pages": pages, "mint": staticmethod(lambda: tenant.token())})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    tenant.allow_origin(origin)

    def open_(*, token: str | None, get_token: bool) -> Page:
        options = {"token": token} if token else {}
        pages["/test-host.html"] = (
            HOST_PAGE.replace("__FP__", live_server.url)
            .replace("__OPTIONS__", json.dumps(options))
            .replace("__GET_TOKEN__", "true" if get_token else "false")
        )
        page.goto(f"{origin}/test-host.html")
        return page

    yield open_
    server.shutdown()
    server.server_close()


HOST_PAGE = """<!doctype html><html><head><title>host</title></head><body>
<div id="fp" style="height: 640px"></div>
<script src="__FP__/embed.js"></script>
<script>
  window.events = []; window.tokenCalls = 0;
  const options = __OPTIONS__;
  if (__GET_TOKEN__) options.getToken = async () => {
    window.tokenCalls += 1;
    const response = await fetch('/fresh-token', { method: 'POST' });
    return (await response.json()).token;
  };
  window.handle = FlowPilot.mount('#fp', options);
  for (const type of ['ready', 'session-created', 'resolved', 'escalated', 'resize', 'error'])
    window.handle.on(type, (detail) => window.events.push({ type, detail }));
</script></body></html>"""

EVIL_PAGE = """<!doctype html><html><body><script>
  const lie = (target, message) => target.postMessage(Object.assign({ protocol: 'flowpilot' }, message), '*');
  // Pretend to be FlowPilot talking to the host…
  lie(parent, { type: 'session-created', session: { id: 'evil' } });
  lie(parent, { type: 'error', code: 'evil' });
  // …and pretend to be the host talking to FlowPilot (its iframe is the host's first frame).
  lie(parent.frames[0], { type: 'theme', theme: 'dark' });
  lie(parent.frames[0], { type: 'token', token: 'evil-token' });
  document.title = 'sent';
</script></body></html>"""


def test_messages_from_a_wrong_origin_are_ignored(host_page: HostPage, tenant: Tenant) -> None:
    page = host_page(token=tenant.token(), get_token=False)
    wait_for_event(page, "ready")
    authorizations: list[str] = []
    page.on(
        "request", lambda r: authorizations.append(r.headers.get("authorization", "")) if "/api/" in r.url else None
    )

    evil_url = page.url.replace("127.0.0.1", "localhost").replace("/test-host.html", "/evil.html")
    page.evaluate(
        "(src) => { const f = document.createElement('iframe'); f.id = 'evil'; f.src = src; document.body.append(f); }",
        evil_url,
    )
    page.wait_for_load_state()
    page.frame_locator("#evil").locator("body").wait_for(state="attached")
    evil = page.frame(url=evil_url)
    assert evil is not None
    evil.wait_for_function("document.title === 'sent'")
    page.wait_for_timeout(300)

    assert [e["type"] for e in events(page) if e["type"] not in ("ready", "resize")] == [], (
        "host relayed a forged event"
    )
    fp = flowpilot_frame(page)
    assert fp.evaluate("document.documentElement.dataset.theme") is None, "the surface obeyed a stranger"
    fp.locator("[data-filter=resolved]").click()
    expect(fp.locator("fp-session-list .fp-empty__title")).to_have_text("No resolved sessions yet")
    assert authorizations and all(a != "Bearer evil-token" for a in authorizations)

    # Positive control: the real host, through the handle, is obeyed.
    page.evaluate("window.handle.setTheme('dark')")
    expect(page.frame_locator("#fp iframe").locator("html")).to_have_attribute("data-theme", "dark")


def test_an_expired_token_is_replaced_through_get_token(host_page: HostPage, tenant: Tenant) -> None:
    expired = tenant.token(now=int(time.time()) - 3600, ttl_seconds=600)
    page = host_page(token=expired, get_token=True)
    wait_for_event(page, "ready")
    assert page.evaluate("window.tokenCalls") >= 1
    expect(page.frame_locator("#fp iframe").locator("#fp-user-initials")).to_have_text("DT")


def test_a_token_the_server_rejects_makes_the_surface_ask_for_a_new_one(host_page: HostPage, tenant: Tenant) -> None:
    # Unexpired, so the loader hands it over; signed with the wrong secret, so the server answers 401.
    forged = mint_embed_token(
        account_id=tenant.account_id, secret="not-the-embed-secret", user_id="tech-1", name="Dana Tech"
    )
    page = host_page(token=forged, get_token=True)
    wait_for_event(page, "ready")
    assert page.evaluate("window.tokenCalls") == 1
    expect(page.frame_locator("#fp iframe").locator("#fp-user-initials")).to_have_text("DT")


def test_an_expired_token_without_get_token_is_reported_to_the_host(host_page: HostPage, tenant: Tenant) -> None:
    expired = tenant.token(now=int(time.time()) - 3600, ttl_seconds=600)
    page = host_page(token=expired, get_token=False)
    assert wait_for_event(page, "error")["detail"]["code"] == "token_expired"
    assert page.locator("#fp iframe").get_attribute("src") is None
