"""axe-core over /pilot, a worked session view and the embedded widget: no serious or critical violations.

axe-core is the npm package (package.json; `npm ci` installs it). Each page is checked in the state a
technician sees it: the list with sessions, a session with a conversation, questions, a check, facts, the
lane as a drawer, the usage dashboard (with usage and empty), the script generator (matches, the parameter
form, a generated script, the no-template options), the templatize prompt of a resolved session and its
editor, the script library (with a pending draft, a template, the editor) and FlowPilot inside the example
portal. Light and dark themes both, because contrast is most of what axe can find in a design system.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import HostPortal, PageErrors, axe_violations
from tests.browser.scripted_model import ScriptedModel
from tests.conftest import LiveServer, Tenant

pytestmark = pytest.mark.browser

OpenPilot = Callable[..., Page]


@pytest.fixture(scope="session")
def live_server(scripted_server: LiveServer) -> LiveServer:
    return scripted_server


def worked_session(live_server: LiveServer, tenant: Tenant, model: ScriptedModel) -> str:
    """A session with a reply, an answered question with its fact, an open check, a note."""
    base, headers = f"{live_server.url}/api/v1/ai-sessions", tenant.headers()

    def call(method: str, path: str, body: dict[str, object]) -> dict[str, object]:
        response = httpx.request(method, f"{base}{path}", json=body, headers=headers, timeout=15)
        assert response.status_code < 300, response.text
        return dict(response.json())

    sid = str(
        call(
            "POST",
            "",
            {
                "problem_statement": "Jobs are stuck in the print queue on WS-ACC-04",
                "ticket_ref": "48213",
                "title": "Printing",
            },
        )["id"]
    )
    model.say(
        "Let's narrow it down.\n[QUESTION]Can other people print to the same printer?[/QUESTION]\n"
        '[CHECK title="Print Spooler status" shell="powershell"]Get-Service -Name Spooler[/CHECK]'
    )
    turn = call("POST", f"/{sid}/messages", {"content": "Where do I start?"})
    question = turn["task_lane"]["questions"][0]  # type: ignore[index]
    model.fact("Other people can print to the same printer.")
    call("POST", f"/{sid}/task-lane/{question['id']}/answer", {"answer": "Yes"})
    call("POST", f"/{sid}/facts", {"text": "User restarted WS-ACC-04 twice"})
    return sid


@pytest.mark.parametrize("theme", ("light", "dark"))
def test_pilot_with_its_session_list(
    open_pilot: OpenPilot, live_server: LiveServer, tenant: Tenant, theme: str
) -> None:
    for title in ("Outlook password prompts", "VPN drops every hour"):
        response = httpx.post(
            f"{live_server.url}/api/v1/ai-sessions",
            json={"problem_statement": title, "ticket_ref": "48220"},
            headers=tenant.api_headers,
            timeout=10,
        )
        assert response.status_code == 201
    page = open_pilot(ticket={"provider": "connectwise", "ref": "48220"})
    page.evaluate(f"document.documentElement.dataset.theme = '{theme}'")
    expect(page.locator("fp-session-list .fp-session-item")).to_have_count(2)
    assert axe_violations(page) == []

    page.keyboard.press("Control+k")  # the command palette, with its session results
    expect(page.locator("fp-palette [role=option][data-command^='session:']")).to_have_count(2)
    assert axe_violations(page) == []
    page.keyboard.press("Escape")

    page.locator("fp-session-list [data-action=new-session]").click()
    expect(page.locator("dialog[data-dialog=new-session]")).to_be_visible()
    assert axe_violations(page) == []


@pytest.mark.parametrize("theme", ("light", "dark"))
def test_a_worked_session(
    open_pilot: OpenPilot, live_server: LiveServer, tenant: Tenant, model: ScriptedModel, theme: str
) -> None:
    page = open_pilot(worked_session(live_server, tenant, model))
    page.evaluate(f"document.documentElement.dataset.theme = '{theme}'")
    expect(page.locator("fp-what-we-know-item")).to_have_count(2)
    expect(page.locator("fp-check-item[data-status=open]")).to_have_count(1)
    page.locator("fp-what-we-know-item[data-origin=manual]").hover()  # the edit/delete buttons show
    assert axe_violations(page) == []


@pytest.mark.parametrize("theme", ("light", "dark"))
def test_the_usage_dashboard_with_usage_and_its_tables_open(
    page: Page, live_server: LiveServer, tenant: Tenant, model: ScriptedModel, theme: str
) -> None:
    worked_session(live_server, tenant, model)
    page.goto(f"{live_server.url}/pilot/usage#token={tenant.token(role='admin')}")
    page.evaluate(f"document.documentElement.dataset.theme = '{theme}'")
    dashboard = page.locator("fp-usage-view")
    expect(dashboard).to_have_attribute("data-state", "ready")
    for summary in dashboard.locator("summary").all():  # the charts' table fallbacks
        summary.click()
    expect(dashboard.locator("details[open] tbody tr").first).to_be_visible()
    assert axe_violations(page) == []


def test_the_usage_dashboard_empty(page: Page, live_server: LiveServer, tenant: Tenant) -> None:
    page.goto(f"{live_server.url}/pilot/usage#token={tenant.token(role='admin')}")
    expect(page.locator("fp-usage-view")).to_have_attribute("data-state", "empty")
    assert axe_violations(page) == []


SPOOLER_TEMPLATE = {
    "name": "Restart-PrintSpooler",
    "description": "Restart the Print Spooler service on a PC",
    "tags": ["printing", "spooler"],
    "body": "Restart-Service -Name Spooler -Force -ComputerName {{ computer }}\nFrobnicate-Queue {{ computer }}\n",
    "parameter_schema": {"parameters": [{"name": "computer", "label": "Computer", "type": "hostname"}]},
}


def session_with_fix(live_server: LiveServer, tenant: Tenant, model: ScriptedModel) -> str:
    """A session with a fact naming a host and a suggested fix resting on it."""
    base, headers = f"{live_server.url}/api/v1/ai-sessions", tenant.headers()
    sid = httpx.post(base, json={"problem_statement": "Jobs stuck on WS-ACC-04"}, headers=headers, timeout=15).json()[
        "id"
    ]
    fact = httpx.post(
        f"{base}/{sid}/facts", json={"text": "The Print Spooler on WS-ACC-04 is stopped."}, headers=headers, timeout=15
    ).json()
    model.say(
        f'[SUGGEST_FIX title="Restart the Print Spooler on WS-ACC-04" root_cause="The spooler stopped" '
        f'facts="{fact["id"]}"]1. Restart the Print Spooler service.\n'
        "2. Clear the stuck jobs and print a test page.[/SUGGEST_FIX]"
    )
    turn = httpx.post(f"{base}/{sid}/messages", json={"content": "Now?"}, headers=headers, timeout=15)
    assert turn.status_code < 300, turn.text
    return str(sid)


@pytest.mark.parametrize("theme", ("light", "dark"))
def test_the_script_generator_from_matches_to_a_generated_script(
    open_pilot: OpenPilot, live_server: LiveServer, tenant: Tenant, model: ScriptedModel, theme: str
) -> None:
    created = httpx.post(f"{live_server.url}/api/v1/script-templates", json=SPOOLER_TEMPLATE, headers=tenant.headers())
    assert created.status_code == 201, created.text
    page = open_pilot(session_with_fix(live_server, tenant, model))
    page.evaluate(f"document.documentElement.dataset.theme = '{theme}'")
    page.locator("[data-action=open-script]").click()
    dialog = page.locator("dialog[data-dialog=script-generator]")
    expect(dialog.locator(".fp-match")).to_have_count(1)
    assert axe_violations(page) == []
    dialog.locator(".fp-match").click()
    expect(dialog.locator("input[data-param=computer]")).to_have_value("WS-ACC-04")
    assert axe_violations(page) == []
    dialog.locator("input[data-param=computer]").fill("")
    dialog.locator("[data-action=generate]").click()  # the required-value error
    expect(dialog.locator(".fp-params__error")).to_be_visible()
    assert axe_violations(page) == []
    dialog.locator("input[data-param=computer]").fill("WS-ACC-04")
    dialog.locator("[data-action=generate]").click()
    # The generated script's own flag (the template's stands above the form from the start, so a locator for
    # any flag passed before the script had rendered, and found two once it had).
    expect(dialog.locator("fp-parameterization-preview[data-state=script] .fp-script__unknown")).to_be_visible()
    assert axe_violations(page) == []
    dialog.locator("[data-action=back]").click()
    dialog.locator("[data-action=no-template]").click()
    expect(dialog.locator(".fp-option")).to_have_count(3)
    assert axe_violations(page) == []


@pytest.mark.parametrize("theme", ("light", "dark"))
def test_the_script_library_with_a_draft_a_template_and_the_editor(
    open_pilot: OpenPilot, live_server: LiveServer, tenant: Tenant, model: ScriptedModel, theme: str
) -> None:
    sid = session_with_fix(live_server, tenant, model)
    base, headers = f"{live_server.url}/api/v1", tenant.headers()
    fix = httpx.get(f"{base}/ai-sessions/{sid}/suggested-fixes", headers=headers).json()["active"]
    model.script("Restart-Spooler.ps1", "$ComputerName = 'WS-ACC-04'\nRestart-Service -Name Spooler -Force\n")
    model.extraction()
    drafted = httpx.post(
        f"{base}/ai-sessions/{sid}/suggested-fixes/{fix['id']}/no-template",
        json={"decision": "draft_template"},
        headers=headers,
        timeout=15,
    )
    assert drafted.status_code == 200, drafted.text
    created = httpx.post(
        f"{base}/script-templates", json={**SPOOLER_TEMPLATE, "source_session_id": sid}, headers=headers
    )
    assert created.status_code == 201, created.text
    page = open_pilot("scripts")
    page.evaluate(f"document.documentElement.dataset.theme = '{theme}'")
    library = page.locator("fp-script-library")
    expect(library).to_have_attribute("data-state", "ready")
    expect(library.locator(".fp-library__draft")).to_have_count(1)
    expect(page.locator("#fp-drafts-count")).to_have_text("1")
    assert axe_violations(page) == []
    page.locator("#fp-drafts-trigger").click()
    expect(page.locator("#fp-drafts-popover .fp-drafts__item")).to_have_count(1)
    assert axe_violations(page) == []
    page.keyboard.press("Escape")
    library.locator(".fp-library__row").click()
    expect(library.locator("article [data-provenance=source-session]")).to_be_visible()
    assert axe_violations(page) == []
    library.locator("[data-action=edit-template]").click()
    expect(library.locator("form[data-editor] [data-param-row]")).to_have_count(1)
    assert axe_violations(page) == []


@pytest.mark.parametrize("theme", ("light", "dark"))
def test_the_templatize_prompt_of_a_resolved_session_and_its_editor(
    open_pilot: OpenPilot, live_server: LiveServer, tenant: Tenant, model: ScriptedModel, theme: str
) -> None:
    sid = session_with_fix(live_server, tenant, model)
    base, headers = f"{live_server.url}/api/v1/ai-sessions/{sid}", tenant.headers()
    fix = httpx.get(f"{base}/suggested-fixes", headers=headers).json()["active"]
    model.script("Restart-Spooler.ps1", "$ComputerName = 'WS-ACC-04'\nRestart-Service -Name Spooler -Force\n")
    model.extraction()
    drafted = httpx.post(
        f"{base}/suggested-fixes/{fix['id']}/no-template",
        json={"decision": "draft_template"},
        headers=headers,
        timeout=15,
    )
    assert drafted.status_code == 200, drafted.text
    preview = httpx.get(f"{base}/resolution-note/preview", headers=headers).json()
    posted = httpx.post(
        f"{base}/resolution-note/post",
        json={
            "markdown": preview["markdown"],
            "state_version": preview["state_version"],
            "idempotency_key": f"a11y-{theme}-{sid}",
        },
        headers=headers,
        timeout=15,
    )
    assert posted.status_code == 200, posted.text
    page = open_pilot(sid)
    page.evaluate(f"document.documentElement.dataset.theme = '{theme}'")
    page.locator("[data-action=posted-note]").click()  # the stored note, reopened: the prompt asks again
    prompt = page.locator("fp-note-preview fp-templatize-prompt")
    expect(prompt).to_have_attribute("data-state", "shown")
    assert axe_violations(page) == []
    prompt.locator("[data-action=review-draft]").click()
    expect(prompt.locator("form[data-editor]")).to_be_visible()
    assert axe_violations(page) == []


def test_a_session_with_the_lane_as_a_drawer(
    open_pilot: OpenPilot, live_server: LiveServer, tenant: Tenant, model: ScriptedModel, page: Page
) -> None:
    page.set_viewport_size({"width": 1100, "height": 760})
    open_pilot(worked_session(live_server, tenant, model))
    page.locator(".fp-session__lane-toggle").click()
    expect(page.locator("dialog.fp-lane")).to_be_visible()
    assert axe_violations(page) == []


def test_the_widget_embedded_in_the_portal(page: Page, host_portal: HostPortal) -> None:
    page.set_viewport_size({"width": 1400, "height": 860})
    page.goto(host_portal.url)
    expect(page.frame_locator("#flowpilot iframe").locator(".fp-app")).to_have_attribute("data-state", "ready")
    frame = page.frame(url=re.compile(r"/pilot\?"))
    assert frame is not None
    assert axe_violations(frame) == []
    # The host page's own part: the mount point FlowPilot's loader adds (the iframe and its title).
    assert axe_violations(page, include="#flowpilot") == []


def test_the_design_system_gallery(page: Page, live_server: LiveServer, page_errors: PageErrors) -> None:
    """The gallery renders every component from the real modules (the task lane through a SessionStore)."""
    page.goto(f"{live_server.url}/static/design-system.html")
    expect(page.locator("#lane-demo fp-what-we-know-item")).to_have_count(3)
    expect(page.locator("#lane-demo fp-question-item")).to_have_count(2)
    assert axe_violations(page) == []
    assert page_errors.errors == []
