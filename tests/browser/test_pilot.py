"""The /pilot surface on its own: shell, redirects, layout, shortcuts, escaping."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Api, PageErrors
from tests.conftest import LiveServer, Tenant

pytestmark = pytest.mark.browser

OpenPilot = Callable[..., Page]

NO_HORIZONTAL_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


def test_shell_renders_flowpilot_with_empty_states(open_pilot: OpenPilot, api: Api, page_errors: PageErrors) -> None:
    page = open_pilot()
    expect(page).to_have_title("FlowPilot")
    expect(page.locator(".fp-brand")).to_have_text("FlowPilot")
    assert page.evaluate("location.hash") == "", "the token fragment must be removed from the address bar"
    expect(page.locator("fp-session-list .fp-empty__title")).to_have_text("No open sessions")
    expect(page.locator("#fp-home-view .fp-empty__title")).to_have_text("Pick a session, or start a new one")
    expect(page.locator("#fp-user-initials")).to_have_text("DT")

    session = api.create_session("Printer offline on the 2nd floor", title="2nd floor printer offline")
    page.goto(page.url.split("#")[0].rstrip("/") + f"/{session['id']}")  # token kept in sessionStorage
    expect(page.locator(".fp-session__title")).to_have_text("2nd floor printer offline")
    expect(page.locator(".fp-session__title-row [data-status=open]")).to_have_text("Open")
    lane = page.locator("fp-task-lane")
    for section, empty_title in (
        ("what-we-know", "No facts yet"),
        ("questions", "No open questions"),
        ("checks", "No checks proposed"),
        ("suggested-fix", "No suggested fix yet"),
    ):
        expect(lane.locator(f"[data-section={section}] .fp-empty__title")).to_have_text(empty_title)
    headings = lane.locator(".fp-lane-section__title").all_inner_texts()
    assert headings.index("What We Know") < headings.index("Questions") < headings.index("Diagnostic Checks")
    expect(page.locator("fp-chat .fp-empty__title")).to_have_text("No messages yet")
    expect(page.locator("fp-drafts-count, #fp-drafts-count")).to_be_hidden()
    body = page.locator("body").inner_text()
    assert "AI Assistant" not in body and "ResolutionAssist" not in body
    assert page_errors.errors == []


def test_assistant_deep_link_lands_on_pilot(page: Page, live_server: LiveServer, tenant: Tenant, api: Api) -> None:
    session = api.create_session("VPN drops every 10 minutes", title="VPN drops")
    page.goto(f"{live_server.url}/assistant/{session['id']}?tab=facts#token={tenant.token()}")
    page.wait_for_selector(".fp-app[data-state=ready]")
    assert page.url == f"{live_server.url}/pilot/{session['id']}?tab=facts"
    expect(page.locator(".fp-session__title")).to_have_text("VPN drops")


def test_new_session_dialog_creates_and_opens_a_session(open_pilot: OpenPilot) -> None:
    page = open_pilot()
    page.locator("fp-session-list [data-action=new-session]").click()
    dialog = page.locator("dialog[data-dialog=new-session]")
    expect(dialog).to_be_visible()
    dialog.locator("button[type=submit]").click()
    expect(dialog.locator(".fp-form-error")).to_have_text("Describe the problem to start a session.")
    dialog.locator("#fp-new-problem").fill("Outlook asks for the password every few minutes")
    dialog.locator("#fp-new-summary").fill("Outlook password prompts")
    dialog.locator("#fp-new-problem").press("Control+Enter")
    expect(dialog).to_have_count(0)
    expect(page.locator(".fp-problem__statement")).to_have_text("Outlook asks for the password every few minutes")
    expect(page.locator(".fp-problem__summary")).to_contain_text("Outlook password prompts")
    expect(page.locator("fp-session-list .fp-session-item[aria-current=page]")).to_have_count(1)
    assert "/pilot/" in page.url


def test_task_lane_is_a_column_at_1280_and_a_keyboard_drawer_below_1200(open_pilot: OpenPilot, api: Api) -> None:
    session = api.create_session("Backups failing on FS01", title="Backups failing")
    page = open_pilot(session["id"])
    lane = page.locator("dialog.fp-lane")
    toggle = page.locator(".fp-session__lane-toggle")
    expect(lane).to_be_visible()
    expect(toggle).to_be_hidden()

    page.set_viewport_size({"width": 1100, "height": 760})
    expect(lane).to_be_hidden()
    expect(toggle).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    # Reach the toggle with Tab alone, then open it with Enter.
    page.locator("body").focus()
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement?.classList.contains('fp-session__lane-toggle')"):
            break
    else:
        pytest.fail("the task lane toggle is not reachable with Tab")
    page.keyboard.press("Enter")
    expect(lane).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    assert page.evaluate("document.querySelector('dialog.fp-lane').contains(document.activeElement)"), (
        "focus moves into the drawer"
    )
    expect(lane.locator("[data-section=what-we-know] .fp-empty__title")).to_have_text("No facts yet")
    page.keyboard.press("Escape")
    expect(lane).to_be_hidden()
    assert page.evaluate("document.activeElement?.classList.contains('fp-session__lane-toggle')"), (
        "focus returns to the toggle"
    )

    page.set_viewport_size({"width": 1280, "height": 800})
    expect(lane).to_be_visible()
    expect(toggle).to_be_hidden()


def test_no_horizontal_scroll_at_1280(open_pilot: OpenPilot, api: Api) -> None:
    long_title = "Exchange Online mailbox migration stalls at 95% for " + "very-long-unbroken-identifier-" * 8
    session = api.create_session(long_title * 2, title=long_title, ticket_ref="48213", ticket={"summary": long_title})
    page = open_pilot()
    assert page.evaluate(NO_HORIZONTAL_SCROLL)
    page.locator(f"a[data-id='{session['id']}']").click()
    expect(page.locator(".fp-session__title")).to_be_visible()
    assert page.evaluate(NO_HORIZONTAL_SCROLL)
    page.keyboard.press("Control+k")
    assert page.evaluate(NO_HORIZONTAL_SCROLL)


def test_command_palette_opens_with_ctrl_k_and_ctrl_r_still_reloads(open_pilot: OpenPilot, api: Api) -> None:
    api.create_session("DNS resolution slow at the branch office", title="Slow DNS at branch")
    page = open_pilot()
    palette = page.locator("dialog.fp-palette")
    page.keyboard.press("Control+k")
    expect(palette).to_be_visible()
    expect(palette.locator(".fp-palette__input")).to_be_focused()
    page.keyboard.type("slow dns")
    expect(palette.locator("[role=option][data-command^='session:']")).to_have_count(1)
    page.keyboard.press("Enter")
    expect(palette).to_be_hidden()
    expect(page.locator(".fp-session__title")).to_have_text("Slow DNS at branch")

    page.keyboard.press("Control+k")
    expect(palette).to_be_visible()
    page.keyboard.press("Escape")
    expect(palette).to_be_hidden()

    # Browser shortcuts are never intercepted. Headless Chromium has no browser UI to run accelerators such
    # as Ctrl+R, so what is checked is the page's part: real (trusted) key presses reach the browser
    # un-cancelled. A listener added after the app's sees whether anything called preventDefault().
    page.evaluate(
        """() => { window.__keys = []; window.addEventListener('keydown', (e) => {
            if (e.ctrlKey) window.__keys.push([e.key, e.defaultPrevented]); }); }"""
    )
    page.locator(".fp-session__title").click()
    for key in ("r", "l", "t", "f", "n", "p", "s", "d", "Shift+R", "Shift+K"):
        page.keyboard.press(f"Control+{key}")
    page.keyboard.press("Control+k")  # positive control: FlowPilot's own shortcut is handled
    expect(palette).to_be_visible()
    page.keyboard.press("Escape")
    keys = page.evaluate("window.__keys")
    assert [k for k, prevented in keys if prevented] == ["k"], keys
    assert {k.lower() for k, _ in keys} >= {"r", "l", "t", "f", "n", "p", "k"}

    page.evaluate("window.__marker = 'still here'")
    page.reload()
    page.wait_for_selector(".fp-app[data-state=ready]")
    assert page.evaluate("window.__marker") is None
    expect(page.locator(".fp-session__title")).to_have_text("Slow DNS at branch")  # deep link and token survive


def test_ticket_and_session_text_is_rendered_as_text(open_pilot: OpenPilot, api: Api, page_errors: PageErrors) -> None:
    img = "<img src=x onerror=\"window.__pwned='img'\">"
    script = "<script>window.__pwned='script'</script>"
    session = api.create_session(
        f"User pasted: {img} and {script}",
        title=f"{script} title",
        ticket_ref="<b>48213</b>",
        ticket={"summary": f"{img} summary", "company": script},
    )
    page = open_pilot(session["id"])
    expect(page.locator(".fp-problem__statement")).to_have_text(f"User pasted: {img} and {script}")
    expect(page.locator(".fp-session__title")).to_have_text(f"{script} title")
    expect(page.locator(".fp-problem__summary")).to_contain_text(f"{img} summary")
    expect(page.locator(f"a[data-id='{session['id']}'] .fp-session-item__title")).to_have_text(f"{script} title")
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img").count() == 0
    assert page.locator("body script").count() == 0

    # The markdown renderer used for model text builds nodes, never HTML.
    rendered = page.evaluate(
        """async (text) => {
            const { renderMarkdown } = await import('/static/js/markdown.js');
            const box = document.createElement('div');
            box.append(renderMarkdown(text));
            return { html: box.innerHTML, imgs: box.querySelectorAll('img').length,
                     links: [...box.querySelectorAll('a')].map((a) => a.getAttribute('href')),
                     strong: box.querySelectorAll('strong').length, code: box.querySelector('pre code')?.textContent };
        }""",
        f"**Check** this {img}\n\n[ok](https://example.com) [bad](javascript:alert(1))\n\n```\n{script}\n```",
    )
    assert rendered["imgs"] == 0 and rendered["strong"] == 1
    assert rendered["links"] == ["https://example.com"]
    assert rendered["code"] == script
    # Underscores inside a word (a setting's name, snake_case) are text; around words they emphasise.
    emphasis = page.evaluate(
        """async (text) => {
            const { renderMarkdown } = await import('/static/js/markdown.js');
            const box = document.createElement('div');
            box.append(renderMarkdown(text));
            return { text: box.textContent, em: [...box.querySelectorAll('em')].map((e) => e.textContent) };
        }""",
        "set ANTHROPIC_API_KEY and run_this_script, then _really_ restart",
    )
    assert emphasis == {"text": "set ANTHROPIC_API_KEY and run_this_script, then really restart", "em": ["really"]}
    assert page.evaluate("window.__pwned") is None
    assert page_errors.errors == []


def test_usable_at_390_wide(open_pilot: OpenPilot, api: Api, page: Page) -> None:
    session = api.create_session("Teams calls drop after 30 seconds on Wi-Fi", title="Teams calls drop on Wi-Fi")
    page.set_viewport_size({"width": 390, "height": 844})
    open_pilot()
    assert page.evaluate(NO_HORIZONTAL_SCROLL)
    expect(page.locator("#fp-main")).to_be_hidden()  # one column: the list
    page.locator(f"a[data-id='{session['id']}']").click()
    expect(page.locator(".fp-sidebar")).to_be_hidden()
    composer = page.locator(".fp-composer__input")
    expect(composer).to_be_visible()
    assert page.evaluate(NO_HORIZONTAL_SCROLL)

    # An on-screen keyboard shrinks the visible viewport: the composer stays above it.
    page.set_viewport_size({"width": 390, "height": 480})
    composer.focus()
    page.wait_for_timeout(200)
    bottom = page.evaluate("document.querySelector('.fp-composer').getBoundingClientRect().bottom")
    assert bottom <= page.evaluate("visualViewport.height")

    page.set_viewport_size({"width": 390, "height": 844})
    page.locator(".fp-session__lane-toggle").click()
    expect(page.locator("dialog.fp-lane")).to_be_visible()
    page.keyboard.press("Escape")
    page.locator(".fp-session__back").click()
    expect(page.locator(".fp-sidebar")).to_be_visible()
    assert page.url.endswith("/pilot")


def test_a_resolved_sessions_title_stays_readable_in_a_sidebar_width(open_pilot: OpenPilot, api: Api) -> None:
    """In an embed sidebar (440 px) the header's actions wrap below the title instead of squeezing it to nothing."""
    session = api.create_session("Outlook prompts for the password", title="Outlook keeps asking for password",
                                 ticket_ref="5002")  # fmt: skip
    page = open_pilot(session["id"])
    page.set_viewport_size({"width": 440, "height": 800})
    title = page.locator(".fp-session__title")
    expect(title).to_have_text("Outlook keeps asking for password")
    assert title.evaluate("(el) => el.getBoundingClientRect().width") >= 200, "the title is squeezed"
    assert page.evaluate(NO_HORIZONTAL_SCROLL)
