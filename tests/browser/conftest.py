"""Browser fixtures: Debian's Chromium driven by Playwright, and the example host portal on a second origin.

Uses ``live_server`` and ``tenant`` from tests/conftest.py. Without /usr/bin/chromium the tests fail (never
skip) and say how to install it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from flowpilot_embed.host_portal import make_host_portal_server, serve_in_thread
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Playwright, sync_playwright

from tests.conftest import LiveServer, Tenant

CHROMIUM = os.environ.get("FLOWPILOT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: the browser tests need it. "
            "Install it with `apt-get install chromium` (Debian/Ubuntu), "
            "or point FLOWPILOT_CHROMIUM at a Chromium binary.",
            pytrace=False,
        )
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@dataclass
class PageErrors:
    """Uncaught page errors and console errors, except the expected failed-resource lines."""

    errors: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.errors.append(message.text)


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page_errors() -> PageErrors:
    return PageErrors()


@pytest.fixture
def page(context: BrowserContext, page_errors: PageErrors) -> Iterator[Page]:
    page = context.new_page()
    page.on("pageerror", lambda exc: page_errors.errors.append(str(exc)))
    page.on("console", page_errors.on_console)

    def no_dialogs(dialog: Any) -> None:
        page_errors.errors.append(f"unexpected {dialog.type}(): {dialog.message}")
        dialog.dismiss()

    page.on("dialog", no_dialogs)
    yield page


@dataclass
class Api:
    """The FlowPilot REST API as the tenant's server-to-server caller (API key)."""

    base: str
    tenant: Tenant

    def create_session(self, problem_statement: str, **fields: Any) -> dict[str, Any]:
        response = httpx.post(
            f"{self.base}/api/v1/ai-sessions",
            json={"problem_statement": problem_statement, **fields},
            headers=self.tenant.api_headers,
            timeout=10,
        )
        assert response.status_code == 201, response.text
        return dict(response.json())


@pytest.fixture
def api(live_server: LiveServer, tenant: Tenant) -> Api:
    return Api(live_server.url, tenant)


@pytest.fixture
def open_pilot(page: Page, live_server: LiveServer, tenant: Tenant) -> Callable[..., Page]:
    """Open /pilot (or /pilot/{id}) standalone, signed in through the #token= fragment, and wait until ready."""

    def open_(session_id: str | None = None, **token_kwargs: Any) -> Page:
        path = f"/pilot/{session_id}" if session_id else "/pilot"
        page.goto(f"{live_server.url}{path}#token={tenant.token(**token_kwargs)}")
        page.wait_for_selector(".fp-app[data-state=ready]")
        return page

    return open_


@dataclass
class HostPortal:
    url: str
    origin: str


@pytest.fixture
def host_portal(live_server: LiveServer, tenant: Tenant) -> Iterator[HostPortal]:
    """The example host portal on its own port (a second origin), allowed to frame FlowPilot."""
    server = make_host_portal_server("127.0.0.1", 0, live_server.url, str(tenant.account_id), tenant.embed_secret)
    serve_in_thread(server)
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    tenant.allow_origin(origin)
    yield HostPortal(url=origin + "/", origin=origin)
    server.shutdown()
    server.server_close()
