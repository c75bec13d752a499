"""Browser fixtures: Debian's Chromium driven by Playwright, the example host portal on a second origin, a live
server answered by a scripted model, and axe-core accessibility checks.

Uses ``live_server`` and ``tenant`` from tests/conftest.py. Without /usr/bin/chromium the tests fail (never
skip) and say how to install it; without axe-core (``npm ci``) the accessibility checks do the same.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from flowpilot_embed.host_portal import make_host_portal_server, serve_in_thread
from flowpilot_server.app import create_app
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Frame, Page, Playwright, sync_playwright

from flowpilot_core import hookimpl, plugins
from flowpilot_core.config import Settings
from flowpilot_core.db.engine import DatabaseUrls
from flowpilot_core.testing.fake_psa import FakePSA
from tests.browser.scripted_model import PROVIDER_NAME, ScriptedModel, ScriptedModelPlugin
from tests.conftest import REPO_ROOT, LiveServer, Tenant, _free_port

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


# ---- A live server answered by the scripted model ---------------------------------------------------


@pytest.fixture(scope="session")
def scripted_model() -> ScriptedModel:
    return ScriptedModel()


FAKE_PSA_PROVIDER = "fakepsa"


class FakePsaPlugin:
    """Contributes `fake` (an in-memory PSA, flowpilot_core.testing.fake_psa) as the PSA provider `fakepsa`."""

    def __init__(self, fake: FakePSA) -> None:
        self.fake = fake

    @hookimpl
    def register_psa_providers(self, register: Any) -> None:
        def factory(config: dict[str, Any]) -> FakePSA:
            if "api_key" not in config:
                raise ValueError("api_key is required")
            return self.fake

        register(FAKE_PSA_PROVIDER, factory)


@pytest.fixture(scope="session")
def fake_psa() -> FakePSA:
    """The PSA behind the scripted server's `fakepsa` provider (tests add their own tickets)."""
    return FakePSA()


@pytest.fixture(scope="session")
def scripted_server(
    settings: Settings, db_urls: DatabaseUrls, scripted_model: ScriptedModel, fake_psa: FakePSA
) -> Iterator[LiveServer]:
    """A second live server on the same database whose model is `scripted_model` and whose PSA provider
    `fakepsa` is `fake_psa`.

    The plugins are registered only while the server starts (that is when FlowPilot collects its model
    and PSA providers), so no other server or test ever sees them.
    """
    import uvicorn

    plugin_names = ("tests-scripted-model", "tests-fake-psa")
    plugins.pm.register(ScriptedModelPlugin(scripted_model), name=plugin_names[0])
    plugins.pm.register(FakePsaPlugin(fake_psa), name=plugin_names[1])
    try:
        app = create_app(dataclasses.replace(settings, model_provider=PROVIDER_NAME), urls=db_urls)
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, name="scripted-live-server", daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while not _healthy(url):
            if time.monotonic() > deadline:
                raise RuntimeError("the scripted live server did not become healthy in 30s")
            time.sleep(0.1)
        # The status is re-read after this delay (a PSA workflow may change it); shorter than the 2 s default.
        app.state.runtime.writeback.verify_delay = 0.3
    finally:
        for name in plugin_names:
            plugins.pm.unregister(name=name)
    yield LiveServer(url=url)
    server.should_exit = True
    thread.join(timeout=10)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def model(scripted_model: ScriptedModel) -> Iterator[ScriptedModel]:
    """The scripted model, empty; a test that scripted more replies than the server asked for fails."""
    scripted_model.reset()
    yield scripted_model
    left = scripted_model.pending()
    scripted_model.reset()
    assert not left, f"scripted replies nobody asked for: {left}"


# ---- Accessibility (axe-core) ---------------------------------------------------------------------
# axe-core comes from the npm registry (package.json, installed by `npm ci`), pinned with the JS linter,
# rather than from a PyPI wrapper, which bundles its own older axe.min.js. It is evaluated through the
# DevTools protocol, not page.add_script_tag(): FlowPilot's CSP (script-src 'self') rightly refuses the
# inline <script> add_script_tag() inserts, and the test must not loosen the CSP it runs under.

AXE_JS = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")


def _axe_source() -> str:
    if not AXE_JS.is_file():
        pytest.fail(
            f"axe-core is not installed ({AXE_JS} is missing): the accessibility checks need it. "
            "Run `npm ci` in the repository root (Node 20 and npm; .ci/run does it).",
            pytrace=False,
        )
    return AXE_JS.read_text(encoding="utf-8")


def axe_violations(target: Page | Frame, *, include: str | None = None) -> list[str]:
    """Serious and critical axe-core violations in `target` (a page or an iframe), one line per violation
    naming up to ten of its nodes with axe's own explanation (the colours and ratio, for contrast)."""
    if not target.evaluate("typeof window.axe === 'object'"):
        target.evaluate(_axe_source())
    # Colours measured mid-transition (a dialog fading in) are neither the real ones nor what a user reads.
    # (Endless ones, a spinner, never finish and are left alone.)
    target.evaluate(
        """Promise.all(document.getAnimations()
          .filter((a) => a.effect?.getComputedTiming().endTime !== Infinity)
          .map((a) => a.finished.catch(() => null)))"""
    )
    result: list[dict[str, Any]] = target.evaluate(
        """async (include) => {
          const result = await axe.run(include ? { include: [include] } : document, { resultTypes: ["violations"] });
          const why = (n) => [...n.any, ...n.all, ...n.none].map((c) => c.message).find(Boolean) || "";
          return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 10).map((n) => `${n.target.join(" ")} (${why(n)})`) }));
        }""",
        include,
    )
    return [
        f"{v['impact']} {v['id']}: {v['help']} at {'; '.join(v['nodes'])}" for v in result if v["impact"] in SERIOUS
    ]
