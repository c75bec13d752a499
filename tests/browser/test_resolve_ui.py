"""The suggested fix in the task lane, the note previews behind Resolve / Escalate, and Confirm & post.

Real server, real Chromium, the scripted model (a reply with a ``[SUGGEST_FIX ...]`` marker) and, for the
PSA path, the in-memory PSA (``flowpilot_core.testing.fake_psa``) registered on the scripted server as the
provider ``fakepsa``; ``FakePSA.workflow_sets("2")`` makes the status verification fail.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from flowpilot_embed.host_portal import make_host_portal_server, serve_in_thread
from playwright.sync_api import Page, Request, expect

from flowpilot_core.testing.fake_psa import FakePSA
from tests.browser.conftest import FAKE_PSA_PROVIDER, PageErrors, axe_violations
from tests.browser.scripted_model import ScriptedModel
from tests.browser.test_embed import wait_for_event
from tests.conftest import LiveServer, Tenant

pytestmark = pytest.mark.browser

OpenPilot = Callable[..., Page]

SPOOLER_STOPPED = "The Print Spooler service on WS-ACC-04 is stopped."
OTHERS_PRINT = "Other people can print to the same printer."
FIX_TITLE = "Restart the Print Spooler on WS-ACC-04"
ROOT_CAUSE = "The Print Spooler service stopped and left jobs stuck."
STEPS = "1. Restart the Print Spooler service.\n2. Clear the stuck jobs and print a test page."
RESOLUTION_SECTIONS = ["Problem", "What we confirmed", "Root cause", "Resolution"]
ESCALATION_SECTIONS = [
    "Problem",
    "What we've confirmed",
    "What we've tried",
    "Current hypothesis",
    "Suggested next steps",
]
_refs = itertools.count(1)


@pytest.fixture(scope="session")
def live_server(scripted_server: LiveServer) -> LiveServer:
    """Every test here talks to the server whose model is scripted and whose PSA is the fake one."""
    return scripted_server


def suggest_fix(fact_ids: list[str], title: str = FIX_TITLE) -> str:
    return (
        f"Both facts point at the spooler.\n"
        f'[SUGGEST_FIX title="{title}" root_cause="{ROOT_CAUSE}" facts="{",".join(fact_ids)}"]{STEPS}[/SUGGEST_FIX]'
    )


class Technician:
    """The REST API as the technician (embed token) and the account (API key), to set sessions up."""

    def __init__(self, live_server: LiveServer, tenant: Tenant, model: ScriptedModel, fake_psa: FakePSA) -> None:
        self.root = live_server.url
        self.base = f"{live_server.url}/api/v1/ai-sessions"
        self.tenant = tenant
        self.headers = tenant.headers()
        self.model = model
        self.fake_psa = fake_psa

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.base}{path}", headers=self.headers, timeout=15, **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def session(self, *, ticket: str | None = None) -> str:
        body: dict[str, Any] = {
            "title": "Printing stuck in queue",
            "problem_statement": "Accounting can't print: jobs are stuck in the queue on WS-ACC-04.",
        }
        if ticket:
            body |= {"ticket_ref": ticket, "psa_provider": FAKE_PSA_PROVIDER, "ticket": {"summary": "Printing down"}}
        return str(self.call("POST", "", json=body)["id"])

    def note(self, sid: str, text: str) -> dict[str, Any]:
        fact: dict[str, Any] = self.call("POST", f"/{sid}/facts", json={"text": text})
        return fact

    def ticket(self) -> str:
        """A new ticket in the fake PSA ("In Progress") and the account's connection to it."""
        ref = f"T-{next(_refs):04d}"
        self.fake_psa.add_ticket(ref, "Printing down")
        body = {
            "provider": FAKE_PSA_PROVIDER,
            "name": "Main PSA",
            "config": {"api_key": "very-secret-key"},
            "statuses": {"resolved": "Closed", "escalated": "Waiting on escalation"},
        }
        response = httpx.post(
            f"{self.root}/api/v1/psa-connections", json=body, headers=self.tenant.api_headers, timeout=15
        )
        assert response.status_code == 201, response.text
        return ref

    def with_facts_and_fix(self, *, ticket: str | None = None) -> tuple[str, list[dict[str, Any]]]:
        """A session with two notes and an active fix resting on them (proposed through a chat turn)."""
        sid = self.session(ticket=ticket)
        facts = [self.note(sid, SPOOLER_STOPPED), self.note(sid, OTHERS_PRINT)]
        self.model.say(suggest_fix([f["id"] for f in facts]))
        turn = self.call("POST", f"/{sid}/messages", json={"content": "What now?"})
        assert turn["suggested_fix"]["title"] == FIX_TITLE
        return sid, facts


@pytest.fixture
def tech(live_server: LiveServer, tenant: Tenant, model: ScriptedModel, fake_psa: FakePSA) -> Iterator[Technician]:
    fake_psa.workflow_sets(None)
    yield Technician(live_server, tenant, model, fake_psa)
    fake_psa.workflow_sets(None)


def lane_section(page: Page, name: str) -> Any:
    return page.locator(f"fp-task-lane [data-section={name}]")


def open_preview(page: Page, action: str = "resolve") -> Any:
    page.locator(f"fp-session-view .fp-session__actions [data-action={action}]").click()
    preview = page.locator("fp-note-preview")
    expect(preview).to_be_visible()
    expect(preview).to_have_attribute("data-state", "ready")
    return preview


def section_titles(preview: Any) -> list[str]:
    return [t.strip() for t in preview.locator(".fp-preview__section > h3 .fp-preview__text").all_inner_texts()]


def preview_requests(page: Page) -> list[str]:
    seen: list[str] = []

    def on_request(request: Request) -> None:
        if request.url.endswith("/preview"):
            seen.append(request.url)

    page.on("request", on_request)
    return seen


# ---- The suggested fix in the lane ---------------------------------------------------------------


def test_a_suggested_fix_arrives_with_a_chat_turn_names_its_facts_and_records_a_decision(
    open_pilot: OpenPilot, tech: Technician, model: ScriptedModel, page_errors: PageErrors
) -> None:
    sid = tech.session()
    facts = [tech.note(sid, SPOOLER_STOPPED), tech.note(sid, OTHERS_PRINT)]
    page = open_pilot(sid)
    fix = lane_section(page, "suggested-fix")
    expect(fix.locator(".fp-empty__title")).to_have_text("No suggested fix yet")

    model.say(suggest_fix([f["id"] for f in facts]))
    composer = page.locator(".fp-composer__input")
    composer.fill("What now?")
    composer.press("Control+Enter")
    card = fix.locator(".fp-fix")
    expect(card.locator(".fp-fix__title")).to_have_text(FIX_TITLE)  # from the turn, no reload
    expect(card.locator(".fp-fix__root-cause")).to_have_text(ROOT_CAUSE)
    expect(card.locator(".fp-fix__steps li")).to_have_text(
        ["Restart the Print Spooler service.", "Clear the stuck jobs and print a test page."]
    )
    links = card.locator(".fp-fix__fact")
    expect(links).to_have_text([SPOOLER_STOPPED, OTHERS_PRINT])
    links.first.click()
    fact = lane_section(page, "what-we-know").locator(f"fp-what-we-know-item[data-id='{facts[0]['id']}']")
    expect(fact).to_be_focused()

    # A newer fix supersedes it: the old one is folded away under "Earlier fixes".
    model.say(suggest_fix([facts[0]["id"]], title="Reinstall the printer driver"))
    composer.fill("The restart didn't help.")
    composer.press("Control+Enter")
    expect(card.locator(".fp-fix__title")).to_have_text("Reinstall the printer driver")
    expect(card.locator(".fp-fix__fact")).to_have_text([SPOOLER_STOPPED])
    history = fix.locator(".fp-fix__history")
    expect(history.locator("summary")).to_have_text("Earlier fixes (1)")
    expect(history).not_to_have_attribute("open", "")
    expect(history.locator(".fp-fix__history-title")).to_be_hidden()
    history.locator("summary").click()
    expect(history.locator(".fp-fix__history-title")).to_have_text(FIX_TITLE)
    # A note rebuilds the card (its fact links follow the facts); what the technician opened stays open.
    lane_section(page, "what-we-know").locator("[data-action=add-note]").click()
    page.keyboard.type("Queue holds 14 jobs")
    page.keyboard.press("Enter")
    expect(lane_section(page, "what-we-know").locator("fp-what-we-know-item")).to_have_count(3)
    expect(history.locator(".fp-fix__history-title")).to_be_visible()

    # A script decision is made in the generator (no template fits: the three options), which writes the script.
    card.locator("[data-action=open-script]").click()
    generator = page.locator("dialog[data-dialog=script-generator]")
    model.script("Reinstall-PrinterDriver.ps1", "Get-PrinterDriver\n")
    generator.locator(".fp-option[data-option=one_off]").click()
    expect(generator.locator("pre[data-script]")).to_have_text("Get-PrinterDriver\n")
    generator.locator("[data-action=close-generator]").click()
    expect(card.locator(".fp-fix__decision .fp-badge")).to_have_text("Running as a one-off")
    expect(card.locator("[data-decision-value]")).to_have_count(0)
    page.reload()
    page.wait_for_selector(".fp-app[data-state=ready]")
    expect(card.locator(".fp-fix__title")).to_have_text("Reinstall the printer driver")
    expect(card.locator(".fp-fix__decision .fp-badge")).to_have_text("Running as a one-off")
    expect(fix.locator(".fp-fix__history summary")).to_have_text("Earlier fixes (1)")
    card.locator("[data-action=change-decision]").click()
    card.locator("[data-decision-value=dismissed]").click()
    expect(card.locator(".fp-fix__decision .fp-badge")).to_have_text("Dismissed")
    assert tech.call("GET", f"/{sid}/suggested-fixes")["active"]["user_decision"] == "dismissed"
    assert page_errors.errors == []


# ---- The preview --------------------------------------------------------------------------------


def test_the_resolution_preview_shows_four_sections_with_each_lines_source(
    open_pilot: OpenPilot, tech: Technician, page_errors: PageErrors
) -> None:
    sid, facts = tech.with_facts_and_fix()
    page = open_pilot(sid)
    expect(page.locator("[data-action=resolve]")).to_be_visible()
    expect(page.locator("[data-action=escalate]")).to_be_visible()
    preview = open_preview(page)
    expect(preview.locator(".fp-preview__title")).to_have_text("Resolution note")
    assert section_titles(preview) == RESOLUTION_SECTIONS
    expect(preview.locator(".fp-preview__line")).not_to_have_count(0)
    # No line without a source.
    for line in preview.locator(".fp-preview__line").all():
        expect(line.locator(".fp-preview__source-label")).not_to_have_count(0)

    fact_line = preview.locator(".fp-preview__line", has_text=SPOOLER_STOPPED)
    source = fact_line.locator(".fp-preview__source")
    expect(source).to_be_hidden()
    fact_line.hover()
    expect(source).to_be_visible()
    expect(source).to_have_text(f"What We Know: {SPOOLER_STOPPED}Show")
    root = preview.locator(".fp-preview__line", has_text=ROOT_CAUSE)
    root.focus()  # focus shows it too, for the keyboard
    expect(root.locator(".fp-preview__source-label")).to_be_visible()
    expect(root.locator(".fp-preview__source-label")).to_have_text(f"Suggested fix (root cause): {FIX_TITLE}")

    # Jump to the source: the fact in What We Know, with the preview still open.
    fact_line.hover()
    fact_line.locator("[data-action=jump]").click()
    fact = lane_section(page, "what-we-know").locator(f"fp-what-we-know-item[data-id='{facts[0]['id']}']")
    expect(fact).to_be_focused()
    expect(preview).to_be_visible()

    preview.locator(".fp-preview__line").first.focus()  # Escape in the preview closes it
    page.keyboard.press("Escape")
    expect(preview).to_be_hidden()
    expect(page.locator("[data-action=resolve]")).to_be_focused()

    escalation = open_preview(page, "escalate")
    expect(escalation.locator(".fp-preview__title")).to_have_text("Escalation package")
    assert section_titles(escalation) == ESCALATION_SECTIONS
    assert page_errors.errors == []


def test_editing_a_fact_refreshes_the_open_preview_after_the_debounce(
    open_pilot: OpenPilot, tech: Technician, page_errors: PageErrors
) -> None:
    sid, facts = tech.with_facts_and_fix()
    page = open_pilot(sid)
    requests = preview_requests(page)
    preview = open_preview(page)
    expect(preview.locator(".fp-preview__line", has_text=OTHERS_PRINT)).to_have_count(1)
    assert len(requests) == 1

    # Edit the note in the lane while the preview stays open beside it: typing changes nothing,
    # saving moves the state_version and the preview follows.
    note = lane_section(page, "what-we-know").locator(f"fp-what-we-know-item[data-id='{facts[1]['id']}']")
    note.locator(".fp-fact__text").click()
    edit = note.locator("textarea")
    edit.fill("")
    edit.press_sequentially("Only Accounting is affected")
    assert len(requests) == 1, "no refresh while typing"
    edit.press("Enter")
    expect(preview.locator(".fp-preview__line", has_text="Only Accounting is affected")).to_have_count(1)
    expect(preview.locator(".fp-preview__line", has_text=OTHERS_PRINT)).to_have_count(0)
    expect(preview).to_be_visible()

    # A burst of state_version changes is one refresh, 500 ms after the last.
    before = len(requests)
    page.evaluate(
        """() => {
          const store = document.querySelector("fp-session-view").store;
          for (let i = 1; i <= 5; i++) store.noteStateVersion(store.stateVersion + 1);
        }"""
    )
    page.wait_for_timeout(1200)
    assert len(requests) == before + 1, requests
    expect(preview).to_have_attribute("data-state", "ready")
    assert page_errors.errors == []


def test_an_edited_preview_is_never_overwritten_and_says_when_the_session_changed(
    open_pilot: OpenPilot, tech: Technician, page_errors: PageErrors
) -> None:
    sid, _ = tech.with_facts_and_fix()
    page = open_pilot(sid)
    requests = preview_requests(page)
    preview = open_preview(page)
    preview.locator("[data-action=edit]").click()
    editor = preview.locator("textarea.fp-preview__editor")
    expect(editor).to_be_focused()
    assert "## Root cause" in editor.input_value()
    editor.fill(editor.input_value() + "\n- Spooler set to restart on failure.")
    expect(preview.locator(".fp-preview__hint")).to_have_text("Editing: this note no longer refreshes by itself.")

    lane_section(page, "what-we-know").locator("[data-action=add-note]").click()
    page.keyboard.type("Driver version 3.2 installed")
    page.keyboard.press("Enter")
    notice = preview.locator(".fp-preview__notice")
    expect(notice).to_contain_text("The session changed since this preview.")
    page.wait_for_timeout(800)  # longer than the debounce: still no refresh, the edit stays
    assert len(requests) == 1
    assert editor.input_value().endswith("- Spooler set to restart on failure.")

    notice.locator("[data-action=refresh-preview]").click()
    expect(preview.locator(".fp-preview__line", has_text="Driver version 3.2 installed")).to_have_count(1)
    expect(notice).to_be_hidden()
    assert page_errors.errors == []


# ---- Confirm & post -----------------------------------------------------------------------------


def test_confirm_and_post_puts_the_edited_note_on_the_ticket_and_resolves_the_session(
    open_pilot: OpenPilot, tech: Technician, fake_psa: FakePSA, page_errors: PageErrors
) -> None:
    ref = tech.ticket()
    sid, _ = tech.with_facts_and_fix(ticket=ref)
    page = open_pilot(sid)
    preview = open_preview(page)
    expect(preview.locator(".fp-preview__subtitle")).to_contain_text(f"ticket #{ref}")
    preview.locator("[data-action=edit]").click()
    editor = preview.locator("textarea.fp-preview__editor")
    editor.fill(editor.input_value() + "\n- Checked with the user: printing works again.")
    confirm = preview.locator("[data-action=confirm]")
    expect(confirm).to_have_text("Confirm & post")
    confirm.click()
    status = preview.locator(".fp-preview__status")
    expect(status).to_contain_text(f"Posting the resolution note to fakepsa ticket #{ref} and verifying its status")
    expect(preview).to_have_attribute("data-state", "done")
    (note,) = fake_psa.tickets[ref].notes
    expect(status).to_contain_text(
        f"Resolved. Posted to ticket #{ref} as note #{note.id}; the ticket's status is now Closed."
    )
    expect(status.locator("[data-note-id]")).to_have_text(f"External note id: {note.id}")
    assert note.internal and "- Checked with the user: printing works again." in note.text
    assert fake_psa.tickets[ref].status_id == "4"
    expect(preview.locator(".fp-preview__posted")).to_contain_text("printing works again")

    # The session is resolved and read-only: no Resolve / Escalate, no decisions, no composer.
    header = page.locator("fp-session-view .fp-session__header")
    expect(header.locator(".fp-badge[data-status=resolved]")).to_have_text("Resolved")
    expect(header.locator("[data-action=resolve]")).to_have_count(0)
    expect(header.locator("[data-action=escalate]")).to_have_count(0)
    expect(lane_section(page, "suggested-fix").locator("[data-decision-value]")).to_have_count(0)
    preview.locator("[data-action=close]").click()
    expect(preview).to_be_hidden()
    header.locator("[data-action=posted-note]").click()  # the posted note, shown again
    expect(preview.locator(".fp-preview__posted")).to_contain_text("printing works again")
    stored = tech.call("GET", f"/{sid}")
    assert (stored["status"], stored["resolution_note_external_id"]) == ("resolved", note.id)
    # After a reload the session still shows the note it posted, from what the server stored.
    page.reload()
    page.wait_for_selector(".fp-app[data-state=ready]")
    page.locator(".fp-session__header [data-action=posted-note]").click()
    expect(preview.locator(".fp-preview__posted")).to_contain_text("printing works again")
    expect(preview.locator("[data-note-id]")).to_have_text(f"External note id: {note.id}")
    assert page_errors.errors == []


def test_the_post_shows_verifying_once_the_server_has_the_note_on_the_ticket(
    open_pilot: OpenPilot, tech: Technician, fake_psa: FakePSA, page_errors: PageErrors
) -> None:
    ref = tech.ticket()
    sid, _ = tech.with_facts_and_fix(ticket=ref)
    page = open_pilot(sid)
    reached, release = threading.Event(), threading.Event()
    set_status = fake_psa.set_status

    async def held_set_status(ticket_ref: str, status_id: str) -> None:  # the PSA is slow to change the status
        reached.set()
        await asyncio.to_thread(release.wait, 15)
        await set_status(ticket_ref, status_id)

    fake_psa.set_status = held_set_status  # type: ignore[method-assign]
    try:
        preview = open_preview(page)
        preview.locator("[data-action=confirm]").click()
        status = preview.locator(".fp-preview__status")
        assert reached.wait(15), "the server never got to the status"
        (note,) = fake_psa.tickets[ref].notes
        expect(status).to_have_attribute("data-state", "verifying")
        expect(status).to_have_text(f"Note #{note.id} is on the ticket. Verifying the ticket's status…")
        expect(preview.locator("[data-action=confirm]")).to_be_disabled()
        release.set()
        expect(preview).to_have_attribute("data-state", "done")
        expect(status).to_contain_text("the ticket's status is now Closed")
    finally:
        release.set()
        fake_psa.set_status = set_status  # type: ignore[method-assign]
    assert len(fake_psa.tickets[ref].notes) == 1
    assert page_errors.errors == []


def test_a_failed_status_verification_offers_retry_status_which_never_posts_twice(
    open_pilot: OpenPilot, tech: Technician, fake_psa: FakePSA, page_errors: PageErrors
) -> None:
    ref = tech.ticket()
    sid, _ = tech.with_facts_and_fix(ticket=ref)
    page = open_pilot(sid)
    posts: list[dict[str, Any]] = []
    page.on("request", lambda r: posts.append(json.loads(r.post_data or "{}")) if r.url.endswith("/post") else None)
    fake_psa.workflow_sets("2")  # a PSA workflow puts the ticket back to In Progress
    preview = open_preview(page)
    preview.locator("[data-action=confirm]").click()
    status = preview.locator(".fp-preview__status")
    expect(status.locator(".fp-preview__status-title")).to_have_text("Ticket status not verified")
    (note,) = fake_psa.tickets[ref].notes
    expect(status).to_contain_text("still shows 'In Progress'")
    expect(status.locator("[data-note-id]")).to_have_text(f"External note id: {note.id}")
    retry = preview.locator("[data-action=retry-status]")
    expect(retry).to_have_text("Retry status")
    expect(page.locator(".fp-session__header .fp-badge[data-status=open]")).to_be_visible()

    fake_psa.workflow_sets(None)
    retry.click()
    expect(preview).to_have_attribute("data-state", "done")
    expect(status).to_contain_text("the ticket's status is now Closed")
    assert len(fake_psa.tickets[ref].notes) == 1, "the retry re-did only the status"
    assert [p["idempotency_key"] for p in posts] == [posts[0]["idempotency_key"]] * 2
    expect(page.locator(".fp-session__header .fp-badge[data-status=resolved]")).to_be_visible()
    assert page_errors.errors == []


def test_a_session_without_a_ticket_resolves_locally(
    open_pilot: OpenPilot, tech: Technician, page_errors: PageErrors
) -> None:
    sid, _ = tech.with_facts_and_fix()
    page = open_pilot(sid)
    preview = open_preview(page, "escalate")
    expect(preview.locator(".fp-preview__subtitle")).to_have_text(
        "This session has no ticket: it is kept in FlowPilot only"
    )
    confirm = preview.locator("[data-action=confirm]")
    expect(confirm).to_have_text("Escalate locally")
    confirm.click()
    expect(preview.locator(".fp-preview__status")).to_contain_text(
        "Escalated locally: the note is kept in FlowPilot, nothing was posted to a PSA."
    )
    expect(page.locator(".fp-session__header .fp-badge[data-status=escalated]")).to_be_visible()
    assert tech.call("GET", f"/{sid}")["status"] == "escalated"
    assert page_errors.errors == []


def test_a_preview_older_than_the_session_is_refused_and_can_be_refreshed(
    open_pilot: OpenPilot, tech: Technician, page_errors: PageErrors
) -> None:
    sid, _ = tech.with_facts_and_fix()
    page = open_pilot(sid)
    preview = open_preview(page)
    tech.note(sid, "Added from another window")  # the widget never sees this write
    preview.locator("[data-action=confirm]").click()
    status = preview.locator(".fp-preview__status")
    expect(status.locator(".fp-preview__status-title")).to_have_text("The session changed since this preview")
    preview.locator("[data-action=refresh-preview]").click()
    expect(preview.locator(".fp-preview__line", has_text="Added from another window")).to_have_count(1)
    preview.locator("[data-action=confirm]").click()
    expect(preview).to_have_attribute("data-state", "done")
    assert tech.call("GET", f"/{sid}")["status"] == "resolved"
    assert page_errors.errors == []


def test_the_preview_popover_has_no_serious_accessibility_violations(open_pilot: OpenPilot, tech: Technician) -> None:
    sid, _ = tech.with_facts_and_fix()
    page = open_pilot(sid)
    preview = open_preview(page)
    preview.locator(".fp-preview__line").first.focus()
    assert axe_violations(page, include="fp-note-preview") == []
    preview.locator("[data-action=edit]").click()
    assert axe_violations(page, include="fp-note-preview") == []
    page.evaluate("document.documentElement.dataset.theme = 'dark'")
    assert axe_violations(page, include="fp-note-preview") == []


# ---- Embedded: the host hears about it -----------------------------------------------------------


def test_the_host_page_hears_resolved_when_a_post_succeeds(
    page: Page, live_server: LiveServer, tenant: Tenant, tech: Technician, model: ScriptedModel
) -> None:
    ref = tech.ticket()
    server = make_host_portal_server(
        "127.0.0.1",
        0,
        live_server.url,
        str(tenant.account_id),
        tenant.embed_secret,
        ticket={"provider": FAKE_PSA_PROVIDER, "ref": ref, "summary": "Printing down"},
    )
    serve_in_thread(server)
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    tenant.allow_origin(origin)
    try:
        page.goto(origin + "/")
        wait_for_event(page, "ready")
        fp = page.frame_locator("#flowpilot iframe")
        fp.locator("fp-session-list [data-action=new-session]").click()
        dialog = fp.locator("dialog[data-dialog=new-session]")
        dialog.locator("#fp-new-problem").fill("Accounting can't print")
        dialog.locator("button[type=submit]").click()
        wait_for_event(page, "session-created")
        fp.locator("fp-session-view .fp-session__actions [data-action=resolve]").click()
        preview = fp.locator("fp-note-preview")
        expect(preview).to_have_attribute("data-state", "ready")
        preview.locator("[data-action=confirm]").click()
        expect(preview).to_have_attribute("data-state", "done")
        resolved = wait_for_event(page, "resolved")["detail"]["session"]
        assert resolved["status"] == "resolved" and resolved["ticket_ref"] == ref
        expect(page.locator("#fp-events")).to_contain_text("resolved")
    finally:
        server.shutdown()
        server.server_close()


def test_a_psa_that_cannot_read_the_ticket_offers_to_start_without_it(
    open_pilot: OpenPilot, tech: Technician, page_errors: PageErrors
) -> None:
    """Opened on a ticket while the PSA is down: the dialog says so in plain words (not the API's advice) and
    offers to start without the ticket; that session resolves in FlowPilot."""
    ref = tech.ticket()
    tech.fake_psa.fail("get_ticket")
    page = open_pilot(ticket={"provider": FAKE_PSA_PROVIDER, "ref": ref, "summary": "Printing down"})
    page.locator("#fp-home-view [data-action=new-session]").click()
    dialog = page.locator("dialog[data-dialog=new-session]")
    dialog.locator("#fp-new-problem").fill("Accounting can't print: jobs are stuck in the queue.")
    dialog.locator("button[type=submit]").click()
    error = dialog.locator(".fp-form-error")
    expect(error).to_contain_text("could not be read: the PSA failed (HTTP 503)")
    expect(error).not_to_contain_text("unlinked")
    assert axe_violations(page) == []
    start = dialog.locator("[data-action=start-unlinked]")
    expect(start).to_be_focused()
    start.click()
    expect(page.locator("dialog[data-dialog=new-session]")).to_have_count(0)
    expect(page.locator("fp-session-view")).to_be_visible()
    sessions = tech.call("GET", "")["items"]
    assert [(s["ticket_ref"], s["psa_provider"]) for s in sessions] == [(None, None)]
    assert tech.fake_psa.calls.count(("get_ticket", ref)) == 1  # asked once, not again for the unlinked start
    assert page_errors.errors == []
