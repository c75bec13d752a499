"""Shared fixtures: a real PostgreSQL (embedded unless FLOWPILOT_TEST_DATABASE_URL is set), migrated with
Alembic, the app connecting as the non-owner application role, tenants, an in-process client and a live server."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from flowpilot_server.app import create_app
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.pool import NullPool

from flowpilot_core.accounts import accounts
from flowpilot_core.accounts.embed_tokens import Role, mint_embed_token
from flowpilot_core.config import Settings
from flowpilot_core.db import migrate
from flowpilot_core.db.engine import DatabaseUrls, create_engine, derive_app_url, make_sessionmaker, tenant_session
from flowpilot_core.psa import request_budget
from tests.pg import create_database, drop_database, embedded_home, remove_embedded, run_sync, server_url

TEST_SECRET_KEY = "flowpilot-test-secret-key-0123456789abcdef"

# Installed third-party plugins never load under test (llm and datasette guard the same way):
# an empty allowlist leaves only FlowPilot's built-in plugins, whatever else this machine has
# installed. A test that needs a plugin registers it on a manager of its own
# (tests/plugins/support.py). Subprocess tests drop FLOWPILOT_* variables and load for real.
os.environ["FLOWPILOT_LOAD_PLUGINS"] = ""


@pytest.fixture(autouse=True)
def _psa_budgets_in_the_process() -> Iterator[None]:
    """A runtime opened with Redis keeps PSA request budgets there for the process: each test starts without."""
    request_budget.use_redis(None)
    yield
    request_budget.use_redis(None)


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """Owner URL of the PostgreSQL server under test (its maintenance database). An embedded one is
    stopped and removed at the end of the run, also when the run is interrupted (Ctrl+C, SIGTERM)."""
    home = embedded_home()
    try:
        yield server_url(home)
    finally:
        remove_embedded(home)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # a timeout's SIGTERM ends the run like Ctrl+C: fixtures are torn down


def pytest_configure(config: pytest.Config) -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)


@pytest.fixture(scope="session")
def db_urls(pg_admin_url: str) -> Iterator[DatabaseUrls]:
    """A fresh database migrated to head; the app's URL is the non-owner application role."""
    owner = run_sync(lambda: create_database(pg_admin_url))
    run_sync(lambda: migrate.upgrade(owner))
    yield DatabaseUrls(owner=owner, app=derive_app_url(owner, "flowpilot_app", None), embedded=False)
    run_sync(lambda: drop_database(pg_admin_url, owner))


@pytest.fixture(scope="session")
def settings(db_urls: DatabaseUrls, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    # The database serves the whole run: an app started here must not finish, through its own test's fake PSA,
    # a writeback another test left half-way on purpose a minute ago (the default 60 s). Reconciliation is
    # tested by calling it for one account, and by test_writeback_crash's server processes.
    return Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        database_url=db_urls.owner,
        secret_key=TEST_SECRET_KEY,
        writeback_reconcile_after=86_400.0,
    )


@pytest.fixture(scope="session")
async def sessionmaker(db_urls: DatabaseUrls) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """App-role sessions for direct assertions on what the API stored."""
    engine = create_engine(db_urls.app, poolclass=NullPool)
    yield make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture(scope="session")
def app(settings: Settings, db_urls: DatabaseUrls) -> Litestar:
    return create_app(settings, urls=db_urls)


@pytest.fixture(scope="session")
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


@dataclass
class Tenant:
    """A fresh account with an API key; mints embed tokens for its technicians."""

    account_id: uuid.UUID
    embed_secret: str
    api_key: str
    name: str
    db_urls: DatabaseUrls

    def token(
        self,
        user_id: str = "tech-1",
        name: str | None = "Dana Tech",
        email: str | None = None,
        ticket: dict[str, Any] | None = None,
        ttl_seconds: int = 900,
        now: int | None = None,
        role: Role = "technician",
    ) -> str:
        return mint_embed_token(
            account_id=self.account_id,
            secret=self.embed_secret,
            user_id=user_id,
            name=name,
            email=email,
            ticket=ticket,
            ttl_seconds=ttl_seconds,
            now=now,
            role=role,
        )

    def headers(self, **token_kwargs: Any) -> dict[str, str]:
        """Embed-token auth headers for a technician of this account."""
        return {"Authorization": f"Bearer {self.token(**token_kwargs)}"}

    @property
    def api_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def allow_origin(self, *origins: str) -> None:
        async def run() -> None:
            engine = create_engine(self.db_urls.app, poolclass=NullPool)
            try:
                async with tenant_session(make_sessionmaker(engine), self.account_id) as db:
                    account = await accounts.get_account(db, self.account_id)
                    await accounts.set_allowed_origins(db, self.account_id, [*account.allowed_origins, *origins])
            finally:
                await engine.dispose()

        run_sync(run)


def make_tenant(db_urls: DatabaseUrls, name: str = "Test MSP") -> Tenant:
    async def run() -> Tenant:
        engine = create_engine(db_urls.app, poolclass=NullPool)
        try:
            async with make_sessionmaker(engine)() as db, db.begin():
                created = await accounts.create_account(db, name=name, secret_key=TEST_SECRET_KEY)
                key = await accounts.create_api_key(db, created.id, "tests")
        finally:
            await engine.dispose()
        return Tenant(created.id, created.embed_secret, key.key, name, db_urls)

    return run_sync(run)


@pytest.fixture
def tenant(db_urls: DatabaseUrls) -> Tenant:
    return make_tenant(db_urls, "Tenant A")


@pytest.fixture
def other_tenant(db_urls: DatabaseUrls) -> Tenant:
    return make_tenant(db_urls, "Tenant B")


@dataclass
class LiveServer:
    url: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def live_server(settings: Settings, db_urls: DatabaseUrls) -> Iterator[LiveServer]:
    """A real FlowPilot server over HTTP on 127.0.0.1, for browsers and the real SDKs."""
    import uvicorn

    port = _free_port()
    # Streamed offline replies come word by word, 5 ms apart, as a model's do: without a pause the whole
    # reply can reach the browser in one read, and a test watching it stream sees only the final message.
    paced = dataclasses.replace(settings, ai={**settings.ai, "offline": {"stream_delay_ms": 5}})
    config = uvicorn.Config(create_app(paced, urls=db_urls), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    else:
        raise RuntimeError("live server did not become healthy in 30s")
    yield LiveServer(url=url)
    server.should_exit = True
    thread.join(timeout=10)


REPO_ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests run last: Playwright's sync API keeps an event loop running in the main thread
    for as long as its session-scoped browser lives, and async tests cannot start under it."""
    items.sort(key=lambda item: item.path.is_relative_to(REPO_ROOT / "tests" / "browser"))
