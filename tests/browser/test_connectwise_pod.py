"""FlowPilot in a ConnectWise pod, in Chromium: a host page that speaks the Hosted API handshake frames
/connectwise-pod; the pod signs its member in through FlowPilot's server, which asks the ConnectWise fake."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from flowpilot_connectwise.testing import FakeConnectWise
from playwright.sync_api import Page, expect

from tests.browser.conftest import PageErrors
from tests.conftest import LiveServer, Tenant

pytestmark = pytest.mark.browser

# The parent ConnectWise window, as the Hosted API describes it: it answers "ready" with a frame id, then
# getMemberAuthentication and getScreenObject, each as a JSON string, to the pod's origin only.
CW_PAGE = """<!doctype html><html><head><title>ConnectWise Manage</title></head><body>
<h1>Service Ticket #__TICKET__</h1>
<iframe id="pod" title="FlowPilot pod" src="__POD__" style="width: 1100px; height: 720px"></iframe>
<script>
  window.requests = [];
  const pod = document.getElementById('pod');
  const podOrigin = new URL(pod.src).origin;
  const member = __MEMBER__;
  window.addEventListener('message', (event) => {
    if (event.source !== pod.contentWindow || event.origin !== podOrigin) return;
    const data = JSON.parse(event.data);
    window.requests.push(data.message || data.request || data.event);
    const reply = (message) => pod.contentWindow.postMessage(JSON.stringify(message), podOrigin);
    if (data.message === 'ready') reply({ MessageFrameID: 'frame-7' });
    else if (data.request === 'getMemberAuthentication' && data.frameID === 'frame-7')
      reply({ response: 'getmemberauthentication', data: member });
    else if (data.request === 'getScreenObject' && data.frameID === 'frame-7')
      reply({ response: 'getscreenobject', data: { id: __TICKET__, screen: 'ticket', hostedAs: 'pod' } });
  });
</script></body></html>"""


class _Handler(BaseHTTPRequestHandler):
    page: str

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        data = self.page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def cw() -> Iterator[FakeConnectWise]:
    with FakeConnectWise() as fake:
        yield fake


@pytest.fixture
def connectwise_screen(page: Page, live_server: LiveServer, tenant: Tenant, cw: FakeConnectWise) -> Iterator[Callable]:
    """Open a ConnectWise ticket screen (its own origin, allowed for the account) with FlowPilot's pod on it."""
    body = {"provider": "connectwise", "name": "ConnectWise", "config": cw.config(), "statuses": {"resolved": "Closed"}}
    created = httpx.post(f"{live_server.url}/api/v1/psa-connections", json=body, headers=tenant.api_headers)
    assert created.status_code == 201, created.text
    servers: list[ThreadingHTTPServer] = []

    def open_(member: dict[str, Any], ticket: int) -> Page:
        pod = f"{live_server.url}/connectwise-pod?account={tenant.account_id}"
        html = CW_PAGE.replace("__POD__", pod).replace("__MEMBER__", json.dumps(member))
        html = html.replace("__TICKET__", str(ticket))
        server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Handler,), {"page": html}))
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        origin = f"http://127.0.0.1:{server.server_address[1]}"
        tenant.allow_origin(origin)
        page.goto(f"{origin}/ticket")
        return page

    yield open_
    for server in servers:
        server.shutdown()
        server.server_close()


def test_the_pod_signs_the_member_in_and_opens_the_ticket_on_screen(
    connectwise_screen: Callable[..., Page], cw: FakeConnectWise, page_errors: PageErrors
) -> None:
    ticket = cw.add_ticket("Outlook keeps asking for a password")
    member_hash = cw.add_member("jdoe", email="jane.doe@acme.example", first="Jane", last="Doe")
    member = {
        "companyid": cw.company, "memberid": "jdoe", "memberHash": member_hash, "memberEmail": "jane.doe@acme.example",
        "memberContext": "ctx", "site": cw.url, "codeBase": "v2025_1",
    }  # fmt: skip
    page = connectwise_screen(member, ticket.id)

    surface = page.frame_locator("#pod").frame_locator("iframe[title=FlowPilot]")
    expect(surface.locator("#fp-user-initials")).to_have_text("JD", timeout=15000)
    expect(surface.locator("#fp-home-view")).to_contain_text(f"Troubleshoot ticket #{ticket.id}")
    assert page.evaluate("window.requests")[:3] == ["ready", "getMemberAuthentication", "getScreenObject"]
    assert [r.route for r in cw.requests if r.route == "my_account"] == ["my_account"]
    assert page_errors.errors == []


def test_a_member_connectwise_does_not_confirm_sees_why_and_no_surface(
    connectwise_screen: Callable[..., Page], cw: FakeConnectWise
) -> None:
    ticket = cw.add_ticket("Printer offline")
    cw.add_member("jdoe")
    forged = {"companyid": cw.company, "memberid": "jdoe", "memberHash": "forged-hash-value"}
    page = connectwise_screen(forged, ticket.id)

    pod = page.frame_locator("#pod")
    expect(pod.locator("[role=alert]")).to_contain_text("could not sign you in with ConnectWise", timeout=15000)
    expect(pod.locator("[role=alert]")).to_contain_text("ConnectWise did not confirm")
    expect(pod.locator("iframe")).to_have_count(0)
