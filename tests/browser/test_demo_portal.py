"""The demo's example PSA portal on the ConnectWise fake, in Chromium: what `flowpilot demo` sets up (the fake with the
sample tickets, the demo account connected to it, a session on each ticket, the portal reading the fake), then a
newcomer's Confirm & post, and the note and the new status on the portal's ticket."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest
from flowpilot_server.demo import DemoAccount, DemoPsa, prepare_demo, start_host_portal
from playwright.sync_api import Page, expect

from flowpilot_core.config import Settings
from flowpilot_core.db.engine import DatabaseUrls
from tests.browser.conftest import PageErrors, axe_violations
from tests.browser.test_embed import wait_for_event
from tests.conftest import LiveServer, _free_port
from tests.pg import run_sync

pytestmark = pytest.mark.browser


@dataclass
class Demo:
    account: DemoAccount
    psa: DemoPsa
    portal_url: str


@pytest.fixture
def demo(settings: Settings, db_urls: DatabaseUrls, live_server: LiveServer) -> Iterator[Demo]:
    demo_settings = dataclasses.replace(settings, port=urlsplit(live_server.url).port)
    demo_psa = DemoPsa.start()
    portal_port = _free_port()
    account = run_sync(lambda: prepare_demo(demo_settings, db_urls, portal_port=portal_port, psa=demo_psa))
    portal = start_host_portal(demo_settings, account, portal_port, demo_psa)
    assert portal is not None
    try:
        yield Demo(account, demo_psa, f"http://127.0.0.1:{portal_port}/")
    finally:
        portal.shutdown()
        portal.server_close()
        demo_psa.close()


def test_the_demo_portal_shows_the_fakes_tickets_and_each_has_a_session_read_from_it(
    demo: Demo, live_server: LiveServer
) -> None:
    sessions = httpx.get(
        f"{live_server.url}/api/v1/ai-sessions", headers={"Authorization": f"Bearer {demo.account.token}"}
    ).json()["items"]
    by_ref = {s["ticket_ref"]: s for s in sessions}
    assert set(by_ref) == set(demo.psa.samples) == {"5001", "5002", "5003"}
    outlook = httpx.get(  # list items are slim: the ticket snapshot is on the session itself
        f"{live_server.url}/api/v1/ai-sessions/{by_ref['5002']['id']}",
        headers={"Authorization": f"Bearer {demo.account.token}"},
    ).json()
    assert (outlook["psa_provider"], outlook["ticket"]["contact"], outlook["ticket"]["status"]) == (
        "connectwise", "James Chen", "New"
    )  # fmt: skip
    assert outlook["ticket"]["priority"] == "Medium"  # the demo's own field, beside what the PSA holds
    page = httpx.get(demo.portal_url + "tickets/5003").text
    assert "VPN connects but no access to file server" in page and "In Progress" in page
    assert httpx.get(demo.portal_url + "tickets/9999").status_code == 404


def test_confirm_and_post_puts_the_note_and_the_closed_status_on_the_portals_ticket(
    page: Page, demo: Demo, page_errors: PageErrors
) -> None:
    page.goto(demo.portal_url + "tickets/5002")
    expect(page.locator("#psa-status")).to_have_text("New")
    expect(page.locator("#psa-notes")).to_have_text("No notes yet.")
    wait_for_event(page, "ready")

    fp = page.frame_locator("#flowpilot iframe")
    mine = fp.locator("fp-session-list li", has_text="This ticket")
    expect(mine).to_have_count(1)
    expect(mine).to_contain_text("#5002")
    mine.locator("a").click()
    expect(fp.locator(".fp-problem__statement")).to_contain_text("Outlook on LAPTOP-7F3K2")
    fp.locator("fp-session-view .fp-session__actions [data-action=resolve]").click()
    preview = fp.locator("fp-note-preview")
    expect(preview).to_have_attribute("data-state", "ready")
    preview.locator("[data-action=confirm]").click()
    expect(preview).to_have_attribute("data-state", "done", timeout=15_000)
    resolved = wait_for_event(page, "resolved")["detail"]["session"]
    assert resolved["ticket_ref"] == "5002"

    # The portal re-reads its ticket from the PSA when FlowPilot says it is resolved.
    expect(page.locator("#psa-status")).to_have_text("Closed")
    expect(page.locator(".psa-queue a[aria-current=page] .psa-queue__status")).to_have_text("Closed")
    note = page.locator("#psa-notes li")
    expect(note).to_have_count(1)
    expect(note).to_contain_text("Internal · Resolution")
    expect(note).to_contain_text("[FlowPilot resolution ")
    (posted,) = demo.psa.fake.tickets[5002].notes[1:]  # after the description
    assert (posted.internal, posted.resolution, posted.detail) == (True, True, False)
    assert note.get_attribute("data-note-id") == str(posted.id)

    page.reload()  # and the page as the PSA serves it, from scratch
    expect(page.locator("#psa-status")).to_have_text("Closed")
    expect(page.locator("#psa-notes li")).to_have_count(1)
    expect(page.locator(".psa-queue a[aria-current=page]")).to_contain_text("Closed")
    assert axe_violations(page, include=".psa-ticket") == []
    assert page_errors.errors == []
