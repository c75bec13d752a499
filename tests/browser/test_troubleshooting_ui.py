"""The troubleshooting loop in /pilot: streamed chat, the task lane (questions, checks) and What We Know.

Real server, real Chromium; the model is scripted (``tests/browser/scripted_model.py``) so that every
test knows the exact reply: a question first, then a spooler check, and the facts the synthesis call
returns. The one test that runs on the offline model's own conversation is in test_offline_demo.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, Request, expect

from flowpilot_core.ai.errors import AIOverloaded
from tests.browser.conftest import PageErrors
from tests.browser.scripted_model import ScriptedModel
from tests.conftest import LiveServer, Tenant

pytestmark = pytest.mark.browser

OpenPilot = Callable[..., Page]

PRINTER = {
    "problem_statement": "Accounting can't print: jobs are stuck in the print queue on WS-ACC-04 and the "
    "print spooler looks stuck.",
    "title": "Printing stuck in queue",
    "ticket_ref": "48213",
    "ticket": {"summary": "Printing stuck in queue - Accounting", "company": "Contoso Dental"},
}
QUESTION = "Can other people print to the same printer?"
ASK = f"Let's narrow it down before touching the PC.\n[QUESTION]{QUESTION}[/QUESTION]"
CHECK_TITLE = "Print Spooler service status"
CHECK_COMMAND = "Get-Service -Name Spooler | Select-Object Status, StartType, Name"
PROPOSE_CHECK = (
    f'Then the spooler on WS-ACC-04.\n[CHECK title="{CHECK_TITLE}" shell="powershell"]{CHECK_COMMAND}[/CHECK]'
)
OTHERS_PRINT = "Other people can print to the same printer."
SPOOLER_STOPPED = "The Print Spooler service on WS-ACC-04 is stopped."
NO_HORIZONTAL_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"
XSS_IMG = "<img src=x onerror=\"window.__pwned='img'\">"
XSS_SCRIPT = "<script>window.__pwned='script'</script>"


@pytest.fixture(scope="session")
def live_server(scripted_server: LiveServer) -> LiveServer:
    """Every test here talks to the server whose model is scripted."""
    return scripted_server


class Technician:
    """The REST API as the technician (embed token), to set a session up quickly."""

    def __init__(self, live_server: LiveServer, tenant: Tenant, model: ScriptedModel) -> None:
        self.base = f"{live_server.url}/api/v1/ai-sessions"
        self.headers = tenant.headers()
        self.model = model

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.base}{path}", headers=self.headers, timeout=15, **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    def printer_session(self, **fields: Any) -> str:
        return str(self.call("POST", "", json={**PRINTER, **fields})["id"])

    def no_auto_continue(self) -> None:
        """For tests about what an answer records: answering the last open item then changes nothing else."""
        url = self.base.removesuffix("/ai-sessions") + "/account/settings"
        response = httpx.patch(url, json={"auto_continue_enabled": False}, headers=self.headers, timeout=15)
        assert response.status_code == 200, response.text

    def say(self, sid: str, content: str, reply: str) -> dict[str, Any]:
        self.model.say(reply)
        turn: dict[str, Any] = self.call("POST", f"/{sid}/messages", json={"content": content})
        return turn

    def asked(self) -> tuple[str, dict[str, Any]]:
        """A session whose first reply asked QUESTION (still open)."""
        sid = self.printer_session()
        question = self.say(sid, "Where do I start?", ASK)["task_lane"]["questions"][0]
        assert question["text"] == QUESTION
        return sid, question

    def answered_and_checked(self) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """A session with the question answered "Yes" (a fact) and the spooler check proposed (still open)."""
        sid, question = self.asked()
        self.model.fact(OTHERS_PRINT)
        update = self.call("POST", f"/{sid}/task-lane/{question['id']}/answer", json={"answer": "Yes"})
        assert update["fact"]["text"] == OTHERS_PRINT
        check = self.say(sid, "Answered. What next?", PROPOSE_CHECK)["task_lane"]["checks"][0]
        assert check["command"] == CHECK_COMMAND
        return sid, question, check


@pytest.fixture
def tech(live_server: LiveServer, tenant: Tenant, model: ScriptedModel) -> Technician:
    return Technician(live_server, tenant, model)


def lane_section(page: Page, name: str) -> Any:
    return page.locator(f"fp-task-lane [data-section={name}]")


def send(page: Page, text: str) -> None:
    expect(page.locator("fp-session-view")).to_have_attribute("data-state", "ready")
    composer = page.locator(".fp-composer__input")
    expect(composer).to_be_enabled()
    composer.fill(text)
    composer.press("Control+Enter")


# ---- What We Know from a question -------------------------------------------------------------


def test_answering_a_question_shows_the_fact_without_reload_and_it_persists(
    open_pilot: OpenPilot, tech: Technician, model: ScriptedModel, page_errors: PageErrors
) -> None:
    tech.no_auto_continue()
    sid = tech.printer_session()
    page = open_pilot(sid)
    facts = lane_section(page, "what-we-know")
    expect(facts.locator(".fp-empty__title")).to_have_text("No facts yet")
    model.say(ASK)
    send(page, "Where do I start?")

    question = lane_section(page, "questions").locator("fp-question-item[data-status=open]")
    expect(question).to_have_count(1)
    expect(question.locator(".fp-task__text")).to_have_text(QUESTION)
    question_text = QUESTION
    expect(lane_section(page, "questions").locator(".fp-lane-section__count")).to_have_text("1")
    # The question in the reply is a chip that leads to the lane item.
    chip = page.locator(".fp-message--assistant .fp-marker--question")
    expect(chip).to_contain_text(question_text)
    expect(chip).to_contain_text("Answer")

    page.evaluate("window.__sameDocument = true")
    # Fact synthesis takes a moment, as a real model does: the lane says it is working meanwhile.
    model.fact(OTHERS_PRINT, delay=0.35)
    question.locator("[data-quick=yes]").click()
    field = question.locator("textarea")
    expect(field).to_have_value("Yes")
    expect(field).to_be_focused()
    question.locator("[data-action=answer]").click()

    pending = facts.locator(".fp-fact--pending")
    expect(pending).to_be_visible()
    expect(pending).to_contain_text("Checking what this tells us…")
    fact = facts.locator("fp-what-we-know-item[data-origin=question]")
    expect(fact).to_have_count(1, timeout=2000)  # the plan: a fact within 2 seconds
    expect(pending).to_have_count(0)
    expect(fact.locator(".fp-fact__source")).to_have_text(f"From question: {question_text}")
    expect(facts.locator(".fp-lane-section__count")).to_have_text("1")
    expect(fact.locator(".fp-fact__text")).to_have_text(OTHERS_PRINT)
    fact_text = OTHERS_PRINT

    answered = lane_section(page, "questions").locator("fp-question-item[data-status=answered]")
    expect(answered.locator(".fp-task__answer")).to_have_text("Yes")
    expect(answered.locator("textarea")).to_have_count(0)
    expect(lane_section(page, "questions").locator(".fp-lane-section__count")).to_be_hidden()
    expect(chip).to_contain_text("Answered")
    assert page.evaluate("window.__sameDocument") is True, "no reload"

    page.reload()
    page.wait_for_selector(".fp-app[data-state=ready]")
    assert page.evaluate("window.__sameDocument") is None
    expect(facts.locator("fp-what-we-know-item[data-origin=question] .fp-fact__text")).to_have_text(fact_text)
    expect(
        lane_section(page, "questions").locator("fp-question-item[data-status=answered] .fp-task__answer")
    ).to_have_text("Yes")
    expect(page.locator(".fp-message")).to_have_count(2)  # the transcript too
    expect(page.locator(".fp-message--assistant .fp-marker--question")).to_contain_text("Answered")
    assert page_errors.errors == []


# ---- Manual notes -------------------------------------------------------------------------------


def test_a_manual_note_is_added_edited_inline_and_survives_reload(
    open_pilot: OpenPilot, tech: Technician, page_errors: PageErrors
) -> None:
    page = open_pilot(tech.printer_session())
    facts = lane_section(page, "what-we-know")
    expect(facts.locator(".fp-empty__title")).to_have_text("No facts yet")

    facts.locator("[data-action=add-note]").click()
    editor = facts.locator("[data-editor=new-note] textarea")
    expect(editor).to_be_focused()
    page.keyboard.type("User restarted WS-ACC-04 twice")
    page.keyboard.press("Enter")
    note = facts.locator("fp-what-we-know-item[data-origin=manual]")
    expect(note.locator(".fp-fact__text")).to_have_text("User restarted WS-ACC-04 twice")
    expect(note.locator(".fp-fact__source")).to_have_text("Your note")
    expect(facts.locator("[data-editor=new-note]")).to_have_count(0)
    expect(facts.locator("[data-action=add-note]")).to_be_focused()

    # Escape cancels an edit.
    note.locator(".fp-fact__text").click()
    edit = note.locator("textarea")
    expect(edit).to_be_focused()
    edit.fill("something else entirely")
    edit.press("Escape")
    expect(note.locator("textarea")).to_have_count(0)
    expect(note.locator(".fp-fact__text")).to_have_text("User restarted WS-ACC-04 twice")
    expect(note.locator(".fp-fact__text")).to_be_focused()

    # Enter on the focused text opens the editor; Enter saves.
    page.keyboard.press("Enter")
    expect(edit).to_be_focused()
    edit.fill("User restarted WS-ACC-04 three times; the queue stays stuck")
    edit.press("Enter")
    expect(note.locator("textarea")).to_have_count(0)
    expect(note.locator(".fp-fact__text")).to_have_text("User restarted WS-ACC-04 three times; the queue stays stuck")

    page.reload()
    page.wait_for_selector(".fp-app[data-state=ready]")
    expect(note.locator(".fp-fact__text")).to_have_text("User restarted WS-ACC-04 three times; the queue stays stuck")

    # Delete asks first; "Keep" keeps it, "Delete" removes it (for good: also after a reload).
    note.locator("[data-action=delete]").click()
    expect(note.locator(".fp-fact__confirm")).to_contain_text("Delete this fact?")
    note.locator("[data-action=cancel-delete]").click()
    expect(note.locator(".fp-fact__text")).to_be_visible()
    note.locator("[data-action=delete]").click()
    note.locator("[data-action=confirm-delete]").click()
    expect(note).to_have_count(0)
    expect(facts.locator(".fp-empty__title")).to_have_text("No facts yet")
    page.reload()
    page.wait_for_selector(".fp-app[data-state=ready]")
    expect(facts.locator(".fp-empty__title")).to_have_text("No facts yet")
    assert page_errors.errors == []


def test_facts_from_questions_and_checks_are_read_only_and_name_their_source(
    open_pilot: OpenPilot, tech: Technician
) -> None:
    sid, question, check = tech.answered_and_checked()
    tech.model.fact(SPOOLER_STOPPED)
    tech.call(
        "POST", f"/{sid}/task-lane/{check['id']}/output", json={"output": "Status  Name\n------  ----\nStopped Spooler"}
    )
    tech.call("POST", f"/{sid}/facts", json={"text": "The printer itself shows Ready"})
    page = open_pilot(sid)
    facts = lane_section(page, "what-we-know")

    from_question = facts.locator("fp-what-we-know-item[data-origin=question]")
    from_check = facts.locator("fp-what-we-know-item[data-origin=check]")
    expect(from_question).to_have_count(1)
    expect(from_check).to_have_count(1)
    expect(from_question.locator(".fp-fact__source")).to_have_text(f"From question: {question['text']}")
    expect(from_check.locator(".fp-fact__source")).to_have_text(f"From check: {check['text']}")
    for fact in (from_question, from_check):
        expect(fact.locator("[data-action=edit], [data-action=delete], [data-action=edit-text]")).to_have_count(0)
        expect(fact.locator("textarea, input, [contenteditable]")).to_have_count(0)
        assert fact.locator(".fp-fact__text").evaluate("el => el.tagName") == "P"
        fact.locator(".fp-fact__text").click()
        page.keyboard.press("Enter")
        expect(fact.locator("textarea")).to_have_count(0)

    # A manual note, by contrast, is editable.
    manual = facts.locator("fp-what-we-know-item[data-origin=manual]")
    expect(manual.locator("[data-action=edit]")).to_have_count(1)
    expect(manual.locator("[data-action=delete]")).to_have_count(1)

    # The source is a way back to the lane item.
    from_check.locator(".fp-fact__source-link").click()
    expect(page.locator(f"#fp-item-{check['id']}")).to_be_focused()


# ---- Streaming chat -----------------------------------------------------------------------------

WATCH_STREAM = """() => {
  window.__lens = []; window.__live = []; window.__doneAfter = null;
  const log = document.querySelector('fp-chat .fp-messages');
  new MutationObserver(() => {
    const live = log.querySelector('.fp-message--streaming .fp-message__live');
    if (live && window.__doneAfter === null) {
      const text = live.textContent;
      if (window.__lens[window.__lens.length - 1] !== text.length) {
        window.__lens.push(text.length);
        window.__live.push(text);
      }
    }
    const done = log.querySelector(
      '.fp-message--assistant:not([data-id=""]):not(.fp-message--streaming):not(.fp-message--pending)');
    if (done && window.__doneAfter === null) window.__doneAfter = window.__lens.length;
  }).observe(log, { subtree: true, childList: true, characterData: true });
}"""


def test_a_chat_reply_streams_in_then_becomes_the_final_message(
    open_pilot: OpenPilot, tech: Technician, model: ScriptedModel, page_errors: PageErrors
) -> None:
    page = open_pilot(tech.printer_session())
    model.say(ASK, chunk_delay=0.03)  # word by word, as a real model streams
    accepts: list[str] = []
    page.on(
        "request",
        lambda r: (
            accepts.append(r.headers.get("accept", "")) if r.method == "POST" and r.url.endswith("/messages") else None
        ),
    )
    page.evaluate(WATCH_STREAM)
    send(page, "Where do I start?")
    streaming = page.locator(".fp-message--streaming .fp-message__live")
    expect(streaming).to_be_visible()
    final = page.locator(".fp-message--assistant:not([data-id='']):not(.fp-message--streaming)")
    expect(final).to_have_count(1, timeout=15_000)

    lens: list[int] = page.evaluate("window.__lens")
    done_after: int = page.evaluate("window.__doneAfter")
    live: list[str] = page.evaluate("window.__live")
    assert accepts == ["text/event-stream"]
    assert done_after is not None and done_after >= 3, f"the reply grew only {lens} before it was done"
    assert lens[:done_after] == sorted(lens[:done_after]), "the streamed text only grows"
    assert live and not any("[QUESTION" in text or "[/" in text for text in live), (
        "marker syntax is hidden while streaming"
    )
    # The final message replaces the live text: markers become chips, the lane and the facts update.
    expect(final.locator(".fp-marker--question")).to_have_count(1)
    expect(final.locator(".fp-message__live")).to_have_count(0)
    expect(lane_section(page, "questions").locator("fp-question-item")).to_have_count(1)
    expect(page.locator(".fp-message--user .fp-message__text")).to_have_text("Where do I start?")
    assert page_errors.errors == []


def test_a_failed_stream_keeps_the_message_and_retries_with_the_same_client_id(
    open_pilot: OpenPilot, tech: Technician, model: ScriptedModel, page_errors: PageErrors
) -> None:
    # The first two attempts break mid-stream (the model is overloaded); the third answers.
    model.fail(AIOverloaded(), partial="Let me look ", chunk_delay=0.05)
    model.fail(AIOverloaded(), partial="Let me look ", chunk_delay=0.05)
    model.say(ASK)
    sid = tech.printer_session()
    page = open_pilot(sid)
    bodies: list[dict[str, Any]] = []

    def record(request: Request) -> None:
        if request.method == "POST" and request.url.endswith("/messages"):
            bodies.append(json.loads(request.post_data or "{}"))

    page.on("request", record)
    send(page, "Where do I start?")
    failed = page.locator(".fp-message--user .fp-message__failed")
    expect(failed).to_contain_text("FlowPilot didn't answer.")
    expect(page.locator(".fp-message--user .fp-message__text")).to_have_text("Where do I start?")
    expect(page.locator(".fp-message--assistant")).to_have_count(0)
    expect(page.locator("fp-toaster .fp-toast--danger")).to_contain_text("Nothing you sent was lost")

    # Retry in place: it fails again, and the message is still kept once.
    failed.locator("[data-action=retry]").click()
    expect(page.locator("fp-toaster .fp-toast--danger")).to_have_count(2)
    expect(failed).to_contain_text("FlowPilot didn't answer.")
    expect(page.locator(".fp-message--user")).to_have_count(1)

    # After a reload the unanswered message still offers Retry (the same client_message_id, from the transcript).
    page.reload()
    page.wait_for_selector(".fp-app[data-state=ready]")
    expect(failed).to_contain_text("No answer from FlowPilot yet.")
    failed.locator("[data-action=retry]").click()
    expect(page.locator(".fp-message--assistant:not([data-id='']) .fp-marker--question")).to_have_count(1)
    expect(failed).to_have_count(0)
    assert len(bodies) == 3
    assert bodies[0]["client_message_id"] and bodies[0] == bodies[1] == bodies[2], bodies

    page.reload()
    page.wait_for_selector(".fp-app[data-state=ready]")
    expect(page.locator(".fp-message--user")).to_have_count(1)  # stored once
    expect(page.locator(".fp-message--assistant")).to_have_count(1)
    assert page_errors.errors == []


# ---- Diagnostic checks --------------------------------------------------------------------------


def test_check_output_is_recorded_and_an_oversized_paste_shows_the_servers_413(
    open_pilot: OpenPilot, tech: Technician, context: BrowserContext, live_server: LiveServer, page_errors: PageErrors
) -> None:
    sid, _question, check = tech.answered_and_checked()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = open_pilot(sid)
    item = page.locator(f"#fp-item-{check['id']}")
    expect(item).to_have_attribute("data-status", "open")
    expect(item.locator(".fp-code")).to_have_text(check["command"])
    assert "monospace" in item.locator(".fp-code").evaluate("el => getComputedStyle(el).fontFamily")
    item.locator("[data-action=copy]").click()
    expect(item.locator("[data-action=copy]")).to_contain_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == check["command"]
    expect(item.locator(".fp-task__counter")).to_have_text("0 B of 64 KB")

    field = item.locator("textarea")
    field.fill("x" * (70 * 1024))
    expect(item.locator(".fp-task__counter")).to_have_attribute("data-level", "over")
    item.locator("[data-action=record-output]").click()
    error = item.locator("[data-error=output]")
    expect(error).to_be_visible()
    problem = httpx.post(
        f"{tech.base}/{sid}/task-lane/{check['id']}/output", json={"output": "x" * (70 * 1024)}, headers=tech.headers
    )
    assert problem.status_code == 413
    expect(error).to_have_text(problem.json()["detail"])  # the server's own words
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(item).to_have_attribute("data-status", "open")

    output = "Status  StartType Name\n------  --------- ----\nStopped Automatic Spooler"
    field.fill(output)
    tech.model.fact(SPOOLER_STOPPED)
    item.locator("[data-action=record-output]").click()
    expect(item).to_have_attribute("data-status", "done")
    expect(item.locator(".fp-task__badge")).to_have_text("Done")
    details = item.locator("details.fp-task__output")
    expect(details).not_to_have_attribute("open", "")
    expect(details.locator("summary")).to_have_text("Output · 3 lines")
    expect(details.locator(".fp-code--output")).to_be_hidden()
    details.locator("summary").click()
    expect(details.locator(".fp-code--output")).to_have_text(output)
    facts = lane_section(page, "what-we-know")
    expect(facts.locator("fp-what-we-know-item[data-origin=check]")).to_have_count(1)
    expect(facts.locator("fp-what-we-know-item[data-origin=check] .fp-fact__source")).to_have_text(
        f"From check: {check['text']}"
    )
    expect(page.locator(".fp-marker--check")).to_contain_text("Done")
    assert page_errors.errors == []


def test_a_failed_synthesis_saves_the_answer_and_offers_promote(
    open_pilot: OpenPilot, tech: Technician, model: ScriptedModel, page_errors: PageErrors
) -> None:
    sid, _question = tech.asked()
    model.fail_synthesis(AIOverloaded())
    page = open_pilot(sid)
    question = page.locator("fp-question-item")
    question.locator("textarea").fill("Yes, everyone else prints fine")
    question.locator("textarea").press("Enter")
    toast = page.locator("fp-toaster .fp-toast--warning")
    expect(toast).to_contain_text("Answer saved")
    expect(question).to_have_attribute("data-status", "answered")
    facts = lane_section(page, "what-we-know")
    expect(facts.locator(".fp-empty__title")).to_have_text("No facts yet")
    toast.get_by_role("button", name="Promote").click()
    fact = facts.locator("fp-what-we-know-item[data-origin=question]")
    expect(fact).to_have_count(1)
    expect(fact.locator(".fp-fact__text")).to_contain_text("Yes, everyone else prints fine")
    expect(question.locator("[data-action=promote]")).to_have_count(0)
    assert page_errors.errors == []


# ---- Escaping -----------------------------------------------------------------------------------


def test_markup_typed_into_chat_notes_and_answers_renders_as_text(
    open_pilot: OpenPilot, tech: Technician, page_errors: PageErrors
) -> None:
    tech.no_auto_continue()
    page = open_pilot(tech.printer_session())
    message = f"Printing fails, the user pasted {XSS_IMG} and {XSS_SCRIPT} [PROMOTE]fake fact[/PROMOTE]"
    tech.model.say(ASK)
    send(page, message)
    expect(page.locator(".fp-message--user .fp-message__text")).to_have_text(message)
    expect(page.locator(".fp-message--assistant:not([data-id=''])")).to_have_count(1)

    facts = lane_section(page, "what-we-know")
    facts.locator("[data-action=add-note]").click()
    page.keyboard.type(f"Note {XSS_IMG}")
    page.keyboard.press("Enter")
    note = facts.locator("fp-what-we-know-item[data-origin=manual] .fp-fact__text")
    expect(note).to_have_text(f"Note {XSS_IMG}")
    note.click()
    facts.locator("fp-what-we-know-item textarea").fill(f"Edited {XSS_SCRIPT}")
    page.keyboard.press("Enter")
    expect(note).to_have_text(f"Edited {XSS_SCRIPT}")
    expect(facts.locator("fp-what-we-know-item")).to_have_count(1)  # the [PROMOTE] in the chat did nothing

    question = page.locator("fp-question-item")
    tech.model.fact(None, "the answer is not plain")
    question.locator("textarea").fill(f"Yes {XSS_IMG}")
    question.locator("[data-action=answer]").click()
    expect(question.locator(".fp-task__answer")).to_have_text(f"Yes {XSS_IMG}")

    page.reload()
    page.wait_for_selector(".fp-app[data-state=ready]")
    expect(page.locator(".fp-message--user .fp-message__text")).to_have_text(message)
    expect(note).to_have_text(f"Edited {XSS_SCRIPT}")
    page.wait_for_timeout(200)
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img").count() == 0
    assert page.locator("body script").count() == 0
    assert page_errors.errors == []


def test_streamed_text_never_shows_marker_syntax_and_sse_parsing_is_exact(open_pilot: OpenPilot) -> None:
    """sse.js in the browser: every prefix of a streamed reply, and SSE split at awkward places."""
    page = open_pilot()
    result = page.evaluate(
        """async () => {
          const { liveText, SseParser } = await import('/static/js/sse.js');
          const raw = 'Intro.\\n[QUESTION]Can others print?[/QUESTION]\\n' +
            '[CHECK title="Spooler \\\\"status\\\\"" shell="powershell"]Get-Service -Name Spooler[/CHECK]\\nDone.';
          const prefixes = [];
          for (let i = 0; i <= raw.length; i += 1) prefixes.push(liveText(raw.slice(0, i)));
          const events = [];
          const parser = new SseParser((e) => events.push(e));
          const chunks = ['event: delta\\r', '\\ndata: {"text":"a"}\\r\\n\\r',
            '\\n: keep-alive\\nevent: done\\ndata: 1\\ndata: 2\\n\\n', 'event: tail\\ndata: never dispatched'];
          for (const chunk of chunks) parser.push(chunk);
          parser.end();
          return { prefixes, final: liveText(raw), events, unknown: liveText('[INFO] spooler restarted') };
        }"""
    )
    final = result["final"]
    assert final == 'Intro.\nCan others print?\nCheck: Spooler "status"\nDone.'
    for shown in result["prefixes"]:
        assert (
            "[QUESTION" not in shown and "[/" not in shown and "[CHECK" not in shown and "Get-Service" not in shown
        ), shown
        assert final.startswith(shown), f"{shown!r} is not how the final text begins"
    assert result["events"] == [{"type": "delta", "data": '{"text":"a"}'}, {"type": "done", "data": "1\n2"}]
    assert result["unknown"] == "[INFO] spooler restarted"


# ---- Keyboard, drawer, narrow screens -----------------------------------------------------------


def test_the_lane_works_from_the_keyboard_inside_the_drawer(
    open_pilot: OpenPilot, tech: Technician, page: Page, page_errors: PageErrors
) -> None:
    sid, question = tech.asked()
    tech.model.fact(OTHERS_PRINT)
    page.set_viewport_size({"width": 1100, "height": 760})
    open_pilot(sid)
    toggle = page.locator(".fp-session__lane-toggle")
    expect(toggle.locator(".fp-badge--count")).to_have_text("1")  # one open item waits in the drawer
    lane = page.locator("dialog.fp-lane")

    # The question chip in the conversation opens the drawer on the question's answer field.
    page.locator(".fp-marker--question").click()
    expect(lane).to_be_visible()
    field = lane.locator(f"#fp-item-{question['id']} textarea")
    expect(field).to_be_focused()

    # Tab to "Add note"; Escape in the editor cancels the note but keeps the drawer open.
    add = lane.locator("[data-action=add-note]")
    add.focus()
    page.keyboard.press("Enter")
    page.keyboard.type("half a thought")
    page.keyboard.press("Escape")
    expect(lane).to_be_visible()
    expect(lane.locator("[data-editor=new-note]")).to_have_count(0)
    expect(add).to_be_focused()

    # Answer with the keyboard alone.
    field.focus()
    page.keyboard.type("Yes")
    page.keyboard.press("Enter")
    expect(lane.locator("fp-what-we-know-item[data-origin=question]")).to_have_count(1)
    expect(toggle.locator(".fp-badge--count")).to_be_hidden()
    page.keyboard.press("Escape")
    expect(lane).to_be_hidden()
    assert page_errors.errors == []


def test_troubleshooting_at_390_wide(open_pilot: OpenPilot, tech: Technician, page: Page) -> None:
    sid, _question, check = tech.answered_and_checked()
    page.set_viewport_size({"width": 390, "height": 844})
    open_pilot(sid)
    assert page.evaluate(NO_HORIZONTAL_SCROLL)
    page.locator(".fp-session__lane-toggle").click()
    lane = page.locator("dialog.fp-lane")
    expect(lane).to_be_visible()
    item = lane.locator(f"#fp-item-{check['id']}")
    item.scroll_into_view_if_needed()
    expect(item.locator("[data-action=copy]")).to_be_visible()
    item.locator("textarea").fill("Stopped Automatic Spooler")
    tech.model.fact(SPOOLER_STOPPED)
    item.locator("[data-action=record-output]").click()
    expect(item).to_have_attribute("data-status", "done")
    lane_box = lane.bounding_box()
    item_box = item.bounding_box()
    assert lane_box and item_box and item_box["x"] + item_box["width"] <= lane_box["x"] + lane_box["width"] + 0.5
    assert page.evaluate(NO_HORIZONTAL_SCROLL)
    assert page.locator(".fp-lane__scroll").evaluate("el => el.scrollWidth <= el.clientWidth")


# ---- One state for chat and lane ----------------------------------------------------------------

NOBODY_PRINTS = "Nobody else can print to the same printer."


def test_answering_a_question_in_the_chat_closes_it_and_shows_its_fact(
    open_pilot: OpenPilot, tech: Technician, model: ScriptedModel, page_errors: PageErrors
) -> None:
    sid, _ = tech.asked()
    page = open_pilot(sid)
    item = lane_section(page, "questions").locator("fp-question-item[data-status=open]")
    item.locator("[data-action=answer-in-chat]").click()
    answering = page.locator(".fp-composer__answering")
    expect(answering).to_be_visible()
    expect(answering).to_contain_text(f"Answering: {QUESTION}")
    expect(page.locator(".fp-composer__input")).to_be_focused()

    model.fact(NOBODY_PRINTS)
    model.say("Then it is the printer itself, not this PC.")
    send(page, "No, nobody can")

    answered = lane_section(page, "questions").locator("fp-question-item[data-status=answered]")
    expect(answered.locator(".fp-task__result-label")).to_have_text("Answered in the chat")
    expect(answered.locator(".fp-task__answer")).to_have_text("No, nobody can")
    fact = lane_section(page, "what-we-know").locator("fp-what-we-know-item[data-origin=question]")
    expect(fact.locator(".fp-fact__text")).to_have_text(NOBODY_PRINTS)
    expect(fact.locator(".fp-fact__source")).to_have_text(f"From question: {QUESTION}")
    expect(answering).to_be_hidden()
    expect(page.locator(".fp-message--assistant").last).to_contain_text("Then it is the printer itself")
    # The stored item and What We Know agree after a reload, and the message says what it answered.
    page.reload()
    page.wait_for_selector(".fp-app[data-state=ready]")
    expect(page.locator(".fp-message--user .fp-message__answers").last).to_have_text(f"Answer to: {QUESTION}")
    lane = tech.call("GET", f"/{sid}/task-lane")
    assert (lane["questions"][0]["status"], lane["questions"][0]["answered_via"]) == ("answered", "chat")
    assert page_errors.errors == []


def test_answering_the_lane_moves_the_conversation_on_without_typing(
    open_pilot: OpenPilot, tech: Technician, model: ScriptedModel, page_errors: PageErrors
) -> None:
    sid, _ = tech.asked()
    page = open_pilot(sid)
    item = lane_section(page, "questions").locator("fp-question-item[data-status=open]")
    model.fact(OTHERS_PRINT)
    model.say(PROPOSE_CHECK, chunk_delay=0.02)
    item.locator("[data-quick=yes]").click()
    item.locator("[data-action=answer]").click()

    lane_message = page.locator(".fp-message--lane")
    expect(lane_message).to_have_count(1)
    expect(lane_message.locator(".fp-message__author")).to_have_text("From the task lane")
    expect(lane_message.locator(".fp-message__text")).to_contain_text(f"{QUESTION} Yes")
    check = lane_section(page, "checks").locator("fp-check-item[data-status=open]")
    expect(check).to_have_count(1)
    expect(page.locator(".fp-message--assistant").last).to_contain_text("Then the spooler on WS-ACC-04")
    expect(page.locator(".fp-composer__input")).to_have_value("")  # nothing was typed
    # One continuation for the batch: the new check is open, so nothing more is due.
    page.wait_for_timeout(300)
    chat_calls = [c for c in model.calls if c.spec.service == "chat"]
    assert len(chat_calls) == 2
    messages = tech.call("GET", f"/{sid}/messages")["items"]
    assert [m["origin"] for m in messages] == ["chat", "chat", "lane", "chat"]
    assert page_errors.errors == []


# ---- Opening a session -------------------------------------------------------------------------


def test_opening_a_session_is_one_request_and_shows_a_long_transcript_whole(
    open_pilot: OpenPilot, tech: Technician, page: Page, page_errors: PageErrors
) -> None:
    """GET .../open brings the session, its lane, facts, fix and recent messages; the messages before
    them (a long session has more than one page) come in one more read, and the whole transcript shows."""
    sid, _question, _check = tech.answered_and_checked()
    tech.call("POST", f"/{sid}/facts", json={"text": "The printer itself shows Ready"})
    fix = '[SUGGEST_FIX title="Restart the Print Spooler"]Restart the Print Spooler service.[/SUGGEST_FIX]'
    for i in range(24):  # 4 messages so far: 52 in all, more than the 50 the open request brings
        tech.say(sid, f"Update {i}", f"Noted, update {i}." + (f"\n{fix}" if i == 23 else ""))
    reads: list[str] = []
    page.on("request", lambda r: reads.append(r.url) if r.method == "GET" and f"/ai-sessions/{sid}" in r.url else None)

    page = open_pilot(sid)
    expect(page.locator(".fp-message")).to_have_count(52)
    expect(page.locator(".fp-message--user").first).to_contain_text("Where do I start?")
    expect(page.locator(".fp-message--assistant").last).to_contain_text("Noted, update 23.")
    facts = lane_section(page, "what-we-know").locator(".fp-fact__text")
    expect(facts).to_have_text([OTHERS_PRINT, "The printer itself shows Ready"])
    expect(lane_section(page, "questions").locator("fp-question-item[data-status=answered]")).to_have_count(1)
    expect(lane_section(page, "checks").locator("fp-check-item .fp-task__text")).to_have_text([CHECK_TITLE])
    expect(lane_section(page, "suggested-fix").locator(".fp-fix__title")).to_have_text("Restart the Print Spooler")
    paths = [url.split(f"/ai-sessions/{sid}", 1)[1] for url in reads]
    assert paths[0] == "/open" and len(paths) == 2 and paths[1].startswith("/messages?before="), paths
    assert page_errors.errors == []
