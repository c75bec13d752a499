"""The usage dashboard at /pilot/usage, on the offline model: work a chat turn, then read what it cost.

The numbers on the page are compared with GET /api/v1/usage for the same account, so the test fails
if the page shows anything the server did not report (or drops what it did).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.browser.conftest import Api, PageErrors
from tests.conftest import LiveServer, Tenant

pytestmark = pytest.mark.browser

OpenPilot = Callable[..., Page]


def _usd(value: float) -> str:
    """The page's en-US currency format: 2 decimals from $1, else up to 4 (at least 2)."""
    if value >= 1 or value == 0:
        return f"${value:,.2f}"
    digits = f"{value:.4f}".rstrip("0")
    return "$" + (digits if len(digits.split(".")[1]) >= 2 else f"{value:.2f}")


def test_a_worked_turn_shows_up_on_the_dashboard_with_its_cost_tokens_and_session(
    open_pilot: OpenPilot, api: Api, live_server: LiveServer, tenant: Tenant, page_errors: PageErrors
) -> None:
    session = api.create_session(
        "Nobody in Accounting can print: jobs are stuck in the print queue on WS-ACC-04.", title="Printing stuck"
    )
    page = open_pilot(session["id"], role="admin")
    composer = page.locator(".fp-composer__input")
    composer.fill("Jobs pile up in the queue and nobody can print. Where do I start?")
    composer.press("Control+Enter")
    expect(page.locator(".fp-message--assistant:not([data-id='']):not(.fp-message--streaming)")).to_have_count(
        1, timeout=15_000
    )

    # Into the dashboard from the account menu, without a page load.
    page.evaluate("window.__sameDocument = true")
    page.locator("#fp-user-trigger").click()
    page.locator("#fp-user-card [data-action=usage]").click()
    expect(page).to_have_url(f"{live_server.url}/pilot/usage")
    dashboard = page.locator("fp-usage-view")
    expect(dashboard).to_have_attribute("data-state", "ready")
    assert page.evaluate("window.__sameDocument") is True
    expect(page).to_have_title("Usage & cost · FlowPilot")

    report = httpx.get(f"{live_server.url}/api/v1/usage", headers=tenant.api_headers, timeout=10).json()
    totals = report["totals"]
    assert totals["calls"] >= 1 and totals["cost_usd"] > 0  # the offline model's estimated tokens, priced
    expect(dashboard.locator("[data-stat=cost] .fp-usage__stat-value")).to_have_text(_usd(totals["cost_usd"]))
    expect(dashboard.locator("[data-stat=saved] .fp-usage__stat-value")).to_have_text(_usd(totals["saved_usd"]))
    expect(dashboard.locator("[data-stat=calls] .fp-usage__stat-value")).to_have_text(str(totals["calls"]))
    # The offline model's usage is estimated: the page says so rather than calling it billed.
    expect(dashboard.locator(".fp-usage__notes")).to_contain_text("offline model")

    # The charts: one bar group per day of the period, today's with the call's cost in its tooltip.
    cost_chart = dashboard.locator("figure.fp-chart").first
    expect(cost_chart.locator(".fp-chart__day")).to_have_count(30)
    today = report["by_day"][-1]
    assert today["key"] == report["until"]
    expect(cost_chart.locator(f".fp-chart__day[data-day='{today['key']}'] > title")).to_contain_text(
        _usd(today["cost_usd"])
    )
    assert cost_chart.locator("svg[role=img]").get_attribute("aria-labelledby")
    # The table fallback holds the same figure.
    cost_chart.locator("summary").click()
    expect(cost_chart.locator("tbody tr").last.locator("td").last).to_have_text(_usd(today["cost_usd"]))

    # Split by service and model, from the report.
    for row in report["by_service"]:
        expect(dashboard.locator(f"[data-breakdown=service] tr[data-key='{row['key']}'] td").nth(2)).to_have_text(
            _usd(row["cost_usd"])
        )
    for row in report["by_model"]:
        expect(dashboard.locator(f"[data-breakdown=model] tr[data-key='{row['key']}'] th")).to_contain_text(row["key"])

    # The busiest sessions link to the session.
    link = dashboard.locator(f"[data-section=sessions] a[data-id='{session['id']}']")
    expect(link).to_have_text("Printing stuck")
    link.click()
    expect(page).to_have_url(f"{live_server.url}/pilot/{session['id']}")
    expect(page.locator("fp-session-view")).to_be_visible()
    expect(dashboard).to_be_hidden()
    assert page.evaluate("window.__sameDocument") is True

    # Back returns to the dashboard.
    page.go_back()
    expect(page).to_have_url(f"{live_server.url}/pilot/usage")
    expect(dashboard).to_have_attribute("data-state", "ready")
    assert page_errors.errors == []


def test_an_account_without_usage_sees_the_empty_state_and_the_period_changes(
    page: Page, live_server: LiveServer, other_tenant: Tenant, page_errors: PageErrors
) -> None:
    page.goto(f"{live_server.url}/pilot/usage#token={other_tenant.token(role='admin')}")
    dashboard = page.locator("fp-usage-view")
    expect(dashboard).to_have_attribute("data-state", "empty")
    expect(dashboard.locator(".fp-empty__title").first).to_have_text("No AI usage in this period")
    expect(dashboard.locator("[data-section=note-quality] .fp-empty__title")).to_have_text("No note posted yet.")

    seven = dashboard.locator("button[data-days='7']")
    with page.expect_request(lambda r: "/api/v1/usage?" in r.url) as request:
        seven.click()
    expect(seven).to_have_attribute("aria-pressed", "true")
    since = request.value.url.split("since=")[1].split("&")[0]
    until = request.value.url.split("until=")[1].split("&")[0]
    from datetime import date

    assert (date.fromisoformat(until) - date.fromisoformat(since)).days == 6
    expect(dashboard).to_have_attribute("data-state", "empty")
    assert page_errors.errors == []


def test_the_dashboard_says_it_is_loading_and_offers_a_retry_when_the_server_fails(
    page: Page, live_server: LiveServer, tenant: Tenant
) -> None:
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)  # answered below: until then the page waits on it

    page.route("**/api/v1/usage?*", hold)
    page.goto(f"{live_server.url}/pilot/usage#token={tenant.token(role='admin')}")
    dashboard = page.locator("fp-usage-view")
    expect(dashboard).to_have_attribute("data-state", "loading")
    expect(dashboard.locator(".fp-usage__body")).to_have_attribute("aria-busy", "true")
    expect(dashboard.locator("[role=status]")).to_have_text("Loading usage…")
    expect(dashboard.locator(".fp-usage__stats .fp-skeleton").first).to_be_attached()

    problem = {"title": "Service Unavailable", "status": 503, "detail": "The database is not answering."}
    assert len(held) == 1
    held[0].fulfill(status=503, json=problem, headers={"content-type": "application/problem+json"})
    expect(dashboard).to_have_attribute("data-state", "error")
    expect(dashboard.locator(".fp-empty__title")).to_have_text("Usage couldn't be loaded")

    page.unroute("**/api/v1/usage?*")
    dashboard.get_by_role("button", name="Try again").click()
    expect(dashboard).to_have_attribute("data-state", "empty")


def test_a_technician_has_no_usage_link_and_the_page_says_whose_it_is(
    open_pilot: OpenPilot, live_server: LiveServer, tenant: Tenant, page_errors: PageErrors
) -> None:
    """Cost is the MSP admin's: a technician's menu and palette do not offer it, and the URL says so."""
    page = open_pilot()
    page.locator("#fp-user-trigger").click()
    expect(page.locator("#fp-user-card")).to_be_visible()
    expect(page.locator("#fp-user-card [data-action=usage]")).to_have_count(0)
    page.keyboard.press("Escape")

    page.goto(f"{live_server.url}/pilot/usage#token={tenant.token()}")
    dashboard = page.locator("fp-usage-view")
    expect(dashboard).to_have_attribute("data-state", "forbidden")
    expect(dashboard.locator(".fp-empty__title")).to_have_text("Usage & cost is for MSP admins")
    expect(dashboard.locator("button", has_text="Try again")).to_have_count(0)
    expect(dashboard.locator("[role=group][aria-label=Period]")).to_be_hidden()
    assert page_errors.errors == []


@pytest.mark.parametrize("zone", ["Pacific/Pago_Pago", "Pacific/Kiritimati"])
def test_the_period_is_in_utc_days_whatever_the_browser_time_zone(
    browser: Browser, live_server: LiveServer, tenant: Tenant, zone: str
) -> None:
    """The server counts usage by UTC day: a browser 11 hours west of UTC, or 14 east, asks up to the UTC
    today (at any hour one of the two has a local date other than UTC's), so no call falls outside the period."""
    context = browser.new_context(timezone_id=zone)
    try:
        page = context.new_page()
        with page.expect_request(lambda r: "/api/v1/usage?" in r.url) as request:
            page.goto(f"{live_server.url}/pilot/usage#token={tenant.token(role='admin')}")
        until = request.value.url.split("until=")[1].split("&")[0]
        assert until == datetime.now(UTC).date().isoformat()
        expect(page.locator(".fp-usage__range")).to_contain_text("UTC days")
    finally:
        context.close()
