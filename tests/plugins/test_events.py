"""Lifecycle events: delivered after the commit, never for rolled-back work, and a failing handler fails nothing."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator

import msgspec
import pytest
from flowpilot_server.deps import Ctx, provide_ctx
from flowpilot_server.problems import problem_details_plugin
from litestar import Litestar, post
from litestar.di import Provide
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.pool import NullPool

from flowpilot_core import hookimpl
from flowpilot_core.accounts.accounts import Principal
from flowpilot_core.config import Settings
from flowpilot_core.db.engine import DatabaseUrls, create_engine, make_sessionmaker, set_account, tenant_session
from flowpilot_core.db.models import AiSession
from flowpilot_core.errors import InvalidInput
from flowpilot_core.events import (
    EVENT_TYPES,
    Event,
    EventDispatcher,
    NotePosted,
    SessionCreated,
    dispatch_committed,
)
from flowpilot_core.library import FlowPilot
from flowpilot_core.sessions import CreateSession, create_session
from tests.conftest import Tenant

from .support import BrokenEventHandler, EventRecorder, client_for, manager_with


@pytest.fixture
async def engine(db_urls: DatabaseUrls) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_urls.app, poolclass=NullPool)
    yield engine
    await engine.dispose()


def _sessions_with(engine: AsyncEngine, *plugins: tuple[str, object]) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine, events=EventDispatcher(manager_with(*plugins)))


async def _count_sessions(engine: AsyncEngine, tenant: Tenant) -> int:
    """Sessions of ``tenant`` as another connection sees them: only committed rows."""
    async with tenant_session(make_sessionmaker(engine), tenant.account_id) as db:
        return int((await db.execute(select(func.count()).select_from(AiSession))).scalar_one())


def _principal(tenant: Tenant) -> Principal:
    return Principal(account_id=tenant.account_id, via="api_key")


class CommitWitness:
    """Records, for each event, whether its session was already visible to another connection."""

    def __init__(self, engine: AsyncEngine, tenant: Tenant) -> None:
        self.engine, self.tenant = engine, tenant
        self.seen: list[tuple[Event, int]] = []

    @hookimpl
    async def track_event(self, event: Event) -> None:
        self.seen.append((event, await _count_sessions(self.engine, self.tenant)))


async def test_events_are_delivered_after_the_commit(engine: AsyncEngine, tenant: Tenant) -> None:
    witness = CommitWitness(engine, tenant)
    sessions = _sessions_with(engine, ("witness", witness))
    async with tenant_session(sessions, tenant.account_id) as db:
        created = await create_session(db, _principal(tenant), CreateSession(problem_statement="VPN drops"))
        assert witness.seen == []  # not while the transaction is open
    ((event, visible),) = witness.seen
    assert isinstance(event, SessionCreated) and event.session_id == created.id
    assert visible == 1  # the handler ran when another connection could already read the session


async def test_events_of_a_rolled_back_transaction_are_never_delivered(engine: AsyncEngine, tenant: Tenant) -> None:
    recorder = EventRecorder()
    sessions = _sessions_with(engine, ("recorder", recorder))
    with pytest.raises(RuntimeError, match="half-way"):
        async with tenant_session(sessions, tenant.account_id) as db:
            await create_session(db, _principal(tenant), CreateSession(problem_statement="VPN drops"))
            raise RuntimeError("failed half-way")
    assert recorder.events == []
    assert await _count_sessions(engine, tenant) == 0


async def test_a_rolled_back_savepoint_drops_only_its_own_events(engine: AsyncEngine, tenant: Tenant) -> None:
    recorder = EventRecorder()
    sessions = _sessions_with(engine, ("recorder", recorder))
    async with tenant_session(sessions, tenant.account_id) as db:
        kept = await create_session(db, _principal(tenant), CreateSession(problem_statement="kept"))
        with pytest.raises(InvalidInput):
            async with db.begin_nested():
                await create_session(db, _principal(tenant), CreateSession(problem_statement="undone"))
                raise InvalidInput("the effect failed")
        async with db.begin_nested():  # a released savepoint's events go out with the commit
            released = await create_session(db, _principal(tenant), CreateSession(problem_statement="released"))
    assert [e.session_id for e in recorder.events if isinstance(e, SessionCreated)] == [kept.id, released.id]
    assert await _count_sessions(engine, tenant) == 2


async def test_each_commit_delivers_its_own_events_once(engine: AsyncEngine, tenant: Tenant) -> None:
    recorder = EventRecorder()
    async with _sessions_with(engine, ("recorder", recorder))() as db:
        await set_account(db, tenant.account_id)
        first = await create_session(db, _principal(tenant), CreateSession(problem_statement="first"))
        await db.commit()
        await dispatch_committed(db)
        second = await create_session(db, _principal(tenant), CreateSession(problem_statement="second"))
        await db.commit()
        await dispatch_committed(db)
        await dispatch_committed(db)  # nothing left to deliver
    assert [e.session_id for e in recorder.events] == [first.id, second.id]  # type: ignore[attr-defined]


class ListHandler(logging.Handler):
    """Keeps records of one logger; the app's logging set-up replaces root handlers (and caplog's)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_a_failing_handler_is_logged_and_the_others_still_get_the_event(
    settings: Settings, db_urls: DatabaseUrls, tenant: Tenant
) -> None:
    recorder = EventRecorder()
    manager = manager_with(("broken-webhook", BrokenEventHandler()), ("recorder", recorder))
    logged = ListHandler()
    logging.getLogger("flowpilot.events").addHandler(logged)
    try:
        async with client_for(settings, db_urls, manager) as client:
            response = await client.post(
                "/api/v1/ai-sessions", json={"problem_statement": "Outlook wants a password"}, headers=tenant.headers()
            )
            assert response.status_code == 201, response.text
            sid = response.json()["id"]
            listed = await client.get("/api/v1/ai-sessions", headers=tenant.headers())
            assert [s["id"] for s in listed.json()["items"]] == [sid]
    finally:
        logging.getLogger("flowpilot.events").removeHandler(logged)
    assert [str(e.session_id) for e in recorder.events] == [sid]  # type: ignore[attr-defined]
    (record,) = logged.records
    assert "'broken-webhook'" in record.getMessage() and "session_created" in record.getMessage()
    assert record.exc_info is not None and "webhook down" in str(record.exc_info[1])


@post("/boom", status_code=201)
async def create_then_fail(ctx: Ctx) -> None:
    await create_session(ctx.db, ctx.principal, CreateSession(problem_statement="never stored"))
    raise InvalidInput("something after the session was wrong", field="problem_statement")


@post("/ok", status_code=201)
async def create_ok(ctx: Ctx) -> None:
    await create_session(ctx.db, ctx.principal, CreateSession(problem_statement="stored"))


async def test_a_request_that_fails_delivers_nothing(settings: Settings, db_urls: DatabaseUrls, tenant: Tenant) -> None:
    recorder = EventRecorder()
    manager = manager_with(("recorder", recorder))

    async def start(app: Litestar) -> None:
        app.state.runtime = FlowPilot.start(settings, db_urls, plugin_manager=manager)

    async def stop(app: Litestar) -> None:
        await app.state.runtime.close()

    app = Litestar(
        route_handlers=[create_then_fail, create_ok],
        dependencies={"ctx": Provide(provide_ctx)},
        plugins=[problem_details_plugin()],
        on_startup=[start],
        on_shutdown=[stop],
    )
    async with AsyncTestClient(app=app) as client:
        failed = await client.post("/boom", headers=tenant.api_headers)
        assert failed.status_code == 422, failed.text
        assert recorder.events == []
        assert (await client.post("/ok", headers=tenant.api_headers)).status_code == 201
    ((event),) = recorder.events
    assert isinstance(event, SessionCreated) and event.user_id is None  # an API key has no technician


def test_every_event_names_its_account_and_encodes_with_its_name() -> None:
    account = uuid.uuid4()
    event = NotePosted(
        account_id=account, session_id=uuid.uuid4(), provider="acme", ticket_ref="T-1", kind="resolution"
    )
    encoded = msgspec.json.decode(msgspec.json.encode(event))
    assert encoded["event"] == "note_posted" == event.name and encoded["account_id"] == str(account)
    names = [t.__struct_config__.tag for t in EVENT_TYPES]
    assert len(set(names)) == len(names) == 10
    for event_type in EVENT_TYPES:
        assert "account_id" in event_type.__struct_fields__
        assert (event_type.__doc__ or "").strip(), event_type


async def test_a_unit_of_work_without_a_dispatcher_commits_as_before(engine: AsyncEngine, tenant: Tenant) -> None:
    # A sessionmaker made without events (scripts, the demo's seeding): nothing listens, nothing fails.
    async with tenant_session(make_sessionmaker(engine), tenant.account_id) as db:
        await create_session(db, _principal(tenant), CreateSession(problem_statement="scripted"))
    assert await _count_sessions(engine, tenant) == 1
