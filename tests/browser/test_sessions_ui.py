"""The session list and switching sessions: stale responses, the endless list, and two layouts.

Real server with the scripted model (each session's transcript says whose it is), real Chromium. A slow
network is a route that holds one session's responses back.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import PageErrors
from tests.browser.scripted_model import ScriptedModel
from tests.conftest import LiveServer, Tenant

pytestmark = pytest.mark.browser

OpenPilot = Callable[..., Page]
SLOW_MS = 1500
LONG_REF = "CW-48213-" + "ACCOUNTING-PRINTQUEUE-" * 4 + "7"

# Every visible trace of a session, each time the DOM changes: the URL, the header, the transcript, the lane.
RECORD_FRAMES = """() => {
  window.__frames = [];
  const view = document.querySelector('fp-session-view');
  const texts = (selector) => [...view.querySelectorAll(selector)].map((el) => el.textContent);
  const snap = () => window.__frames.push({
    path: location.pathname,
    title: view.querySelector('.fp-session__title')?.textContent ?? null,
    messages: texts('.fp-message__body'),
    lane: texts('fp-task-lane .fp-task__text, fp-task-lane .fp-fact__text'),
  });
  new MutationObserver(snap).observe(document.body, { subtree: true, childList: true, characterData: true });
  snap();
}"""


@pytest.fixture(scope="session")
def live_server(scripted_server: LiveServer) -> LiveServer:
    return scripted_server


class Sessions:
    """Sessions made through the REST API as the technician."""

    def __init__(self, live_server: LiveServer, tenant: Tenant, model: ScriptedModel) -> None:
        self.base = f"{live_server.url}/api/v1/ai-sessions"
        self.headers = tenant.headers()
        self.model = model

    def call(self, method: str, path: str = "", **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.base}{path}", headers=self.headers, timeout=15, **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def create(self, title: str, **fields: Any) -> str:
        return str(
            self.call("POST", json={"problem_statement": f"{title}: users can't print", "title": title, **fields})["id"]
        )

    def worked(self, name: str) -> str:
        """A session named `name` whose transcript, question and note all carry its name."""
        sid = self.create(name)
        self.model.say(f"{name} reply: start with the printer.\n[QUESTION]Is the {name} printer online?[/QUESTION]")
        self.call("POST", f"/{sid}/messages", json={"content": f"{name} message"})
        self.call("POST", f"/{sid}/facts", json={"text": f"{name} note"})
        return sid


@pytest.fixture
def sessions(live_server: LiveServer, tenant: Tenant, model: ScriptedModel) -> Sessions:
    return Sessions(live_server, tenant, model)


def hold_back(page: Page, session_id: str) -> None:
    """Delay every GET of session `session_id` (the session, its transcript, lane and facts) by SLOW_MS."""

    def slow(route: Route) -> None:
        if route.request.method != "GET":
            route.continue_()
            return
        page.wait_for_timeout(SLOW_MS)
        route.continue_()

    page.route(re.compile(rf"/api/v1/ai-sessions/{session_id}(/|$|\?)"), slow)


def frames(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate("window.__frames")
    return found


def leaks(recorded: list[dict[str, Any]], shown: str, other: str) -> list[dict[str, Any]]:
    """Frames on session `shown`'s URL that show anything of session `other`."""
    return [
        f
        for f in recorded
        if f["path"].endswith(shown) and any(other in text for text in [f["title"] or "", *f["messages"], *f["lane"]])
    ]


def test_switching_to_a_slow_session_never_shows_the_previous_transcript(
    open_pilot: OpenPilot, sessions: Sessions, page_errors: PageErrors
) -> None:
    alpha, bravo = sessions.worked("Alpha"), sessions.worked("Bravo")
    page = open_pilot(alpha)
    expect(page.locator(".fp-message__body").first).to_contain_text("Alpha message")
    hold_back(page, bravo)
    page.evaluate(RECORD_FRAMES)

    page.locator(f"fp-session-list a[data-id='{bravo}']").click()
    expect(page).to_have_url(re.compile(rf"/pilot/{bravo}"))
    expect(page.locator(".fp-message")).to_have_count(0)  # Alpha's transcript is gone at once
    expect(page.locator(".fp-session__title")).to_have_text("Bravo", timeout=SLOW_MS * 4)
    expect(page.locator(".fp-message__body")).to_have_text(["Bravo message", re.compile("Bravo reply")])
    expect(page.locator("fp-task-lane .fp-fact__text")).to_have_text(["Bravo note"])

    recorded = frames(page)
    assert any(f["title"] == "Bravo" for f in recorded)
    assert leaks(recorded, bravo, "Alpha") == []
    assert page_errors.errors == []


def test_a_slow_session_left_behind_never_shows_under_the_next_one(
    open_pilot: OpenPilot, sessions: Sessions, page_errors: PageErrors
) -> None:
    alpha, bravo = sessions.worked("Alpha"), sessions.worked("Bravo")
    page = open_pilot()
    hold_back(page, alpha)
    page.evaluate(RECORD_FRAMES)

    page.locator(f"fp-session-list a[data-id='{alpha}']").click()
    page.wait_for_timeout(300)  # Alpha's responses are on their way...
    page.locator(f"fp-session-list a[data-id='{bravo}']").click()  # ...when the technician moves on
    expect(page.locator(".fp-session__title")).to_have_text("Bravo")
    expect(page.locator("fp-task-lane .fp-fact__text")).to_have_text(["Bravo note"])
    page.wait_for_timeout(SLOW_MS + 700)  # Alpha's held-back responses have arrived by now

    expect(page.locator(".fp-session__title")).to_have_text("Bravo")
    expect(page.locator(".fp-message__body")).to_have_text(["Bravo message", re.compile("Bravo reply")])
    expect(page.locator("fp-question-item .fp-task__text")).to_have_text(["Is the Bravo printer online?"])
    recorded = frames(page)
    assert leaks(recorded, bravo, "Alpha") == []
    assert page.title() == "Bravo · FlowPilot"
    assert page_errors.errors == []


def test_the_session_list_pages_past_50_as_it_scrolls(
    open_pilot: OpenPilot, live_server: LiveServer, tenant: Tenant, page_errors: PageErrors
) -> None:
    for n in range(57):
        response = httpx.post(
            f"{live_server.url}/api/v1/ai-sessions",
            json={"problem_statement": f"Sample ticket {n:02d}", "title": f"Sample ticket {n:02d}"},
            headers=tenant.api_headers,
            timeout=10,
        )
        assert response.status_code == 201, response.text
    page = open_pilot()
    cursors: list[str] = []
    page.on("request", lambda r: cursors.append(r.url) if "cursor=" in r.url else None)
    items = page.locator("fp-session-list .fp-session-item")
    expect(items).to_have_count(50)
    expect(items.first).to_have_text(re.compile("Sample ticket 56"))

    page.locator(".fp-session-list__items").evaluate("el => { el.scrollTop = el.scrollHeight; }")
    expect(items).to_have_count(57)
    titles = page.locator("fp-session-list .fp-session-item__title").all_inner_texts()
    assert titles == [f"Sample ticket {n:02d}" for n in range(56, -1, -1)]  # every one, once, newest first
    assert len(cursors) == 1
    expect(page.locator("fp-session-list [data-more]")).to_be_hidden()  # nothing more to load
    assert page_errors.errors == []


def test_fact_actions_on_hover_never_cover_the_fact(
    open_pilot: OpenPilot, sessions: Sessions, page_errors: PageErrors
) -> None:
    sid = sessions.create("Printer")
    long_note = "User restarted WS-ACC-04 twice and the queue still holds the same three jobs from this morning"
    sessions.call("POST", f"/{sid}/facts", json={"text": long_note})
    page = open_pilot(sid)
    fact = page.locator("fp-what-we-know-item[data-origin=manual]")
    actions = fact.locator(".fp-fact__actions")
    expect(actions).to_have_css("opacity", "0")

    fact.hover()
    expect(actions).to_have_css("opacity", "1")
    text, buttons = fact.locator(".fp-fact__text").bounding_box(), actions.bounding_box()
    assert text and buttons
    assert text["x"] + text["width"] <= buttons["x"], f"the buttons {buttons} overlap the text {text}"
    box = fact.bounding_box()
    assert box and buttons["x"] + buttons["width"] <= box["x"] + box["width"] + 0.5
    assert page_errors.errors == []


def test_a_long_ticket_reference_keeps_the_badge_and_time_in_the_sidebar(
    open_pilot: OpenPilot, sessions: Sessions, page_errors: PageErrors
) -> None:
    sessions.create("Printing stuck in queue", ticket_ref=LONG_REF, psa_provider="connectwise")
    page = open_pilot(ticket={"provider": "connectwise", "ref": LONG_REF})
    item = page.locator("fp-session-list .fp-session-item")
    expect(item).to_have_count(1)
    sidebar = page.locator("#fp-sidebar").bounding_box()
    assert sidebar
    right = sidebar["x"] + sidebar["width"]
    for part in (".fp-badge", "time", ".fp-session-item__ticket"):
        box = item.locator(part).bounding_box()
        assert box and box["width"] > 0, part
        assert box["x"] + box["width"] <= right + 0.5, f"{part} is pushed out of the sidebar: {box} vs {sidebar}"
    expect(item.locator(".fp-badge")).to_have_text("This ticket")
    ticket = item.locator(".fp-session-item__ticket")
    assert ticket.evaluate("el => el.scrollWidth > el.clientWidth"), "the reference is cut, not wrapped or spilled"
    expect(ticket).to_have_attribute("title", f"#{LONG_REF}")  # the whole reference on hover
    assert page.locator(".fp-session-list__items").evaluate("el => el.scrollWidth <= el.clientWidth")

    # Opened, the header keeps the reference in its badge without pushing anything off the page.
    item.click()
    header = page.locator(".fp-session__header")
    expect(header.locator(".fp-session__title")).to_have_text("Printing stuck in queue")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert header.evaluate("el => el.scrollWidth <= el.clientWidth"), "the header does not overflow"
    bounds = header.bounding_box()
    assert bounds
    for part in (".fp-session__title", ".fp-badge--outline", ".fp-session__title-row [data-status]"):
        box = header.locator(part).first.bounding_box()
        assert box and box["width"] > 0 and box["x"] + box["width"] <= bounds["x"] + bounds["width"] + 0.5, part
    title = header.locator(".fp-session__title")
    assert title.evaluate("el => el.scrollWidth <= el.clientWidth"), "the title is shown whole; the reference gives way"
    badge = header.locator(".fp-badge--outline")
    assert badge.locator(".fp-badge__text").evaluate("el => el.scrollWidth > el.clientWidth")
    expect(badge).to_have_attribute("title", f"ConnectWise ticket {LONG_REF}")
    assert page_errors.errors == []


STORE_VERSION = "document.querySelector('fp-session-view').store?.stateVersion ?? null"


def test_the_store_follows_state_version_through_turns_answers_and_notes(
    open_pilot: OpenPilot, sessions: Sessions, model: ScriptedModel, page_errors: PageErrors
) -> None:
    sid = sessions.create("Printer")
    page = open_pilot(sid)

    def server_version() -> int:
        return int(sessions.call("GET", f"/{sid}")["state_version"])

    def expect_version(version: int) -> None:
        assert server_version() == version
        for _ in range(100):
            if page.evaluate(STORE_VERSION) == version:
                return
            page.wait_for_timeout(50)
        raise AssertionError(f"the store's stateVersion is {page.evaluate(STORE_VERSION)}, the server's {version}")

    expect_version(0)  # the session as loaded

    # A chat turn that notes a fact ([PROMOTE]) carries the version it moved to.
    model.say(
        "Noted.\n[PROMOTE]The printer is an HP LaserJet M404.[/PROMOTE]\n"
        "[QUESTION]Can other people print to the same printer?[/QUESTION]"
    )
    page.locator(".fp-composer__input").fill("It's the HP LaserJet M404 by the door")
    page.locator(".fp-composer__input").press("Control+Enter")
    expect(page.locator("fp-what-we-know-item")).to_have_count(1)
    expect_version(1)

    # An answer's ItemUpdate carries it too.
    model.fact("Other people can print to the same printer.")
    page.locator("fp-question-item [data-quick=yes]").click()
    page.locator("fp-question-item [data-action=answer]").click()
    expect(page.locator("fp-what-we-know-item")).to_have_count(2)
    expect_version(2)

    # A note and its deletion answer with the fact alone; the store reads the version it moved to.
    page.locator("[data-action=add-note]").click()
    page.keyboard.type("User restarted the PC twice")
    page.keyboard.press("Enter")
    expect(page.locator("fp-what-we-know-item")).to_have_count(3)
    expect_version(3)
    note = page.locator("fp-what-we-know-item[data-origin=manual]")
    note.hover()
    note.locator("[data-action=delete]").click()
    note.locator("[data-action=confirm-delete]").click()
    expect(page.locator("fp-what-we-know-item")).to_have_count(2)
    expect_version(4)
    assert page_errors.errors == []


def test_a_store_moves_its_version_forward_only_and_ignores_writes_once_closed(open_pilot: OpenPilot) -> None:
    page = open_pilot()
    result = page.evaluate(
        """async () => {
          const { SessionStore } = await import('/static/js/session-store.js');
          const store = new SessionStore('s1');
          const seen = [];
          store.on('state-version', (s, { stateVersion }) => seen.push(stateVersion));
          store.on('lane', (s, { lane }) => seen.push(`lane:${lane.questions.length}`));
          store.setSession({ id: 's1', status: 'open', state_version: 3 });
          store.applyResponse({ state_version: 2 });  // a late reply: ignored
          store.applyTurn({ task_lane: { questions: [{ id: 'q1', status: 'open' }] }, state_version: 5 });
          store.setSession({ id: 'other', state_version: 9 });  // another session's data: ignored
          store.close();
          store.setLane({ questions: [{ id: 'q2' }, { id: 'q3' }] });
          store.noteStateVersion(7);
          return { seen, version: store.stateVersion, lane: store.lane.questions.map((q) => q.id),
            open: store.openItemCount, session: store.session.id };
        }"""
    )
    assert result == {"seen": [3, "lane:1", 5], "version": 5, "lane": ["q1"], "open": 1, "session": "s1"}


BUSY = {
    "type": "https://flowpilot.dev/problems/database-busy",
    "title": "Service unavailable",
    "status": 503,
    "detail": "FlowPilot is busy: every database connection is in use. Try again in a second.",
    "retryable": True,
    "retry_after": 1,
}


def busy_for(page: Page, pattern: re.Pattern[str], times: int) -> list[str]:
    """The first ``times`` requests matching ``pattern`` are answered as an overloaded server does (503
    database-busy, Retry-After 1); the others reach the server. Returns the methods of every request seen."""
    seen: list[str] = []

    def answer(route: Route) -> None:
        seen.append(route.request.method)
        if len(seen) <= times:
            route.fulfill(status=503, headers={"Retry-After": "1"}, content_type="application/problem+json", json=BUSY)
        else:
            route.continue_()

    page.route(pattern, answer)
    return seen


LIST = re.compile(r"/api/v1/ai-sessions(\?|$)")


def test_a_busy_server_costs_the_list_a_second_not_an_error(
    open_pilot: OpenPilot, sessions: Sessions, page: Page, page_errors: PageErrors
) -> None:
    sessions.create("Busy moment")
    seen = busy_for(page, LIST, times=1)
    page = open_pilot()
    expect(page.locator("fp-session-list")).to_contain_text("Busy moment")
    assert seen == ["GET", "GET"]  # asked again after its Retry-After, not left to the Retry button
    expect(page.locator("fp-session-list")).not_to_contain_text("Couldn't load sessions")
    assert page_errors.errors == []


def test_a_server_that_stays_busy_is_shown_after_two_retries(open_pilot: OpenPilot, page: Page) -> None:
    seen = busy_for(page, LIST, times=10)
    page = open_pilot()
    expect(page.locator("fp-session-list")).to_contain_text("Couldn't load sessions", timeout=8_000)
    expect(page.locator("fp-session-list")).to_contain_text("FlowPilot is busy")
    assert seen == ["GET"] * 3


def test_a_write_refused_as_busy_is_not_repeated(open_pilot: OpenPilot, sessions: Sessions, page: Page) -> None:
    page = open_pilot()
    expect(page.locator("fp-session-list")).to_be_visible()
    writes = busy_for(page, LIST, times=10)
    page.locator("#fp-home-view [data-action=new-session]").click()
    dialog = page.locator("dialog[data-dialog=new-session]")
    dialog.locator("#fp-new-problem").fill("Accounting can't print: jobs are stuck in the queue.")
    dialog.locator("button[type=submit]").click()
    expect(dialog.locator(".fp-form-error")).to_contain_text("FlowPilot is busy")
    page.wait_for_timeout(2500)  # longer than two Retry-Afters
    assert [m for m in writes if m == "POST"] == ["POST"]
