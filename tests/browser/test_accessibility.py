"""axe-core over /pilot, a worked session view and the embedded widget: no serious or critical violations.

axe-core is the npm package (package.json; `npm ci` installs it). Each page is checked in the state a
technician sees it: the list with sessions, a session with a conversation, questions, a check, facts,
the lane as a drawer, the usage dashboard (with usage and empty), and FlowPilot inside the example
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
    page.goto(f"{live_server.url}/pilot/usage#token={tenant.token()}")
    page.evaluate(f"document.documentElement.dataset.theme = '{theme}'")
    dashboard = page.locator("fp-usage-view")
    expect(dashboard).to_have_attribute("data-state", "ready")
    for summary in dashboard.locator("summary").all():  # the charts' table fallbacks
        summary.click()
    expect(dashboard.locator("details[open] tbody tr").first).to_be_visible()
    assert axe_violations(page) == []


def test_the_usage_dashboard_empty(page: Page, live_server: LiveServer, tenant: Tenant) -> None:
    page.goto(f"{live_server.url}/pilot/usage#token={tenant.token()}")
    expect(page.locator("fp-usage-view")).to_have_attribute("data-state", "empty")
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
