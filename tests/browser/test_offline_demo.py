"""The demo, end to end on the offline model: what `flowpilot demo` shows without an API key.

The only browser test on the offline model's own conversation. Its wording is free to change, so this
asserts only what any sane offline conversation shows: a reply streams in, the lane gets an item, and
answering that item creates a fact. Exact replies are tested with the scripted model
(test_troubleshooting_ui.py).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Api, PageErrors

pytestmark = pytest.mark.browser

WATCH_LIVE_TEXT = """() => {
  window.__streamed = false;
  const log = document.querySelector('fp-chat .fp-messages');
  new MutationObserver(() => {
    if (log.querySelector('.fp-message--streaming .fp-message__live')) window.__streamed = true;
  }).observe(log, { subtree: true, childList: true, characterData: true });
}"""


def test_an_offline_conversation_streams_fills_the_lane_and_answers_become_facts(
    open_pilot: Callable[..., Page], api: Api, page_errors: PageErrors
) -> None:
    session = api.create_session(
        "Nobody in Accounting can print: jobs are stuck in the print queue on WS-ACC-04.",
        title="Printing stuck in queue",
    )
    page = open_pilot(session["id"])
    page.evaluate(WATCH_LIVE_TEXT)
    composer = page.locator(".fp-composer__input")
    composer.fill("Jobs pile up in the queue and nobody can print. Where do I start?")
    composer.press("Control+Enter")

    reply = page.locator(".fp-message--assistant:not([data-id='']):not(.fp-message--streaming)")
    expect(reply).to_have_count(1, timeout=15_000)
    assert page.evaluate("window.__streamed") is True, "the reply streamed in before it was final"
    expect(reply.locator(".fp-message__body")).not_to_be_empty()

    # The lane gets at least one open item: a question to answer or a check to run.
    first_open = page.locator("fp-question-item[data-status=open], fp-check-item[data-status=open]").first
    expect(first_open).to_be_visible()
    item = page.locator(f"#fp-item-{first_open.get_attribute('data-id')}")
    answer = item.locator("textarea")
    if item.evaluate("el => el.localName") == "fp-question-item":
        answer.fill("Yes")
        item.locator("[data-action=answer]").click()
    else:
        answer.fill("Status  StartType Name\n------  --------- ----\nStopped Automatic Spooler")
        item.locator("[data-action=record-output]").click()
    expect(item).not_to_have_attribute("data-status", "open")
    expect(page.locator("fp-task-lane [data-section=what-we-know] fp-what-we-know-item")).to_have_count(1)
    assert page_errors.errors == []


def test_a_sample_ticket_reaches_a_suggested_fix_by_answering_in_the_lane_only(
    open_pilot: Callable[..., Page], api: Api, page_errors: PageErrors
) -> None:
    """The newcomer's path: the demo's first sample ticket, one message, then only the lane's Yes/No."""
    description = (
        "Nobody in Accounting can print since this morning. Jobs sit in the queue on WS-ACC-04 and never "
        "reach the HP LaserJet. Restarting the PC did not help."
    )
    session = api.create_session(description, title="Printing stuck in queue - Accounting")
    page = open_pilot(session["id"])
    composer = page.locator(".fp-composer__input")
    composer.fill("Where do I start?")
    composer.press("Control+Enter")
    question = page.locator("fp-question-item[data-status=open]").first
    expect(question).to_be_visible(timeout=15_000)
    question.locator("[data-quick=yes]").click()
    question.locator("[data-action=answer]").click()

    # No typing from here: the lane's answer moves the conversation on, up to a suggested fix.
    expect(page.locator(".fp-message--lane")).to_have_count(1, timeout=15_000)
    fix = page.locator(".fp-message--assistant .fp-marker--suggest-fix")
    expect(fix).to_have_count(1, timeout=15_000)
    expect(fix).to_contain_text("Suggested fix:")
    expect(composer).to_have_value("")
    replies = page.locator(".fp-message--assistant .fp-message__body").all_inner_texts()
    assert len(replies) == len(set(replies)), "no reply twice"
    assert page_errors.errors == []
