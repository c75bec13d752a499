"""Confirm & post: local resolve, posting once under retries and faults, verified status, visible partial failure."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from flowpilot_server.app import create_app
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core import hookimpl
from flowpilot_core.accounts import Principal
from flowpilot_core.config import Settings
from flowpilot_core.db.engine import DatabaseUrls
from flowpilot_core.previews import PreviewService
from flowpilot_core.psa import NoteKind, PSANote, PSANotFound, PSATransient, local
from flowpilot_core.psa.local import LocalPSA
from flowpilot_core.psa.provider import PsaContext
from flowpilot_core.testing.fake_psa import FakePSA
from flowpilot_core.writeback import PostNote, WritebackService
from flowpilot_core.writeback.reconcile import reconcile_abandoned
from tests.conftest import Tenant, _free_port
from tests.plugins.support import EventRecorder, client_for, manager_with

Client = AsyncTestClient[Litestar]


class FakePsaPlugin:
    def __init__(self, fake: FakePSA) -> None:
        self.fake = fake
        self.configs: list[dict[str, Any]] = []

    @hookimpl
    def register_psa_providers(self, register: Any) -> None:
        def factory(config: dict[str, Any]) -> FakePSA:
            if "api_key" not in config:
                raise ValueError("api_key is required")
            self.configs.append(config)
            return self.fake

        register("fakepsa", factory)


@pytest.fixture
def fake() -> FakePSA:
    psa = FakePSA()
    psa.add_ticket("T-100", "Printing down")
    return psa


@pytest.fixture
async def psa_client(
    settings: Settings, db_urls: DatabaseUrls, fake: FakePSA
) -> AsyncIterator[tuple[Client, EventRecorder]]:
    recorder = EventRecorder()
    manager = manager_with(("fakepsa", FakePsaPlugin(fake)), ("recorder", recorder))
    async with client_for(settings, db_urls, manager) as client:
        client.app.state.runtime.writeback.verify_delay = 0.01
        yield client, recorder


async def _connect(client: Client, tenant: Tenant, **statuses: str) -> dict:
    body = {
        "provider": "fakepsa",
        "name": "Main PSA",
        "config": {"api_key": "very-secret-key"},
        "statuses": statuses or {"resolved": "Closed", "escalated": "Waiting on escalation"},
    }
    response = await client.post("/api/v1/psa-connections", json=body, headers=tenant.api_headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _session(client: Client, tenant: Tenant, ticket_ref: str | None = "T-100") -> tuple[str, int]:
    body: dict[str, Any] = {"problem_statement": "Accounts can't print"}
    if ticket_ref:
        body |= {"ticket_ref": ticket_ref, "psa_provider": "fakepsa"}
    created = (await client.post("/api/v1/ai-sessions", json=body, headers=tenant.headers())).json()
    return str(created["id"]), int(created["state_version"])


async def _post(
    client: Client, tenant: Tenant, sid: str, version: int, key: str = "confirm-0001", kind: str = "resolution-note"
) -> Any:
    return await client.post(
        f"/api/v1/ai-sessions/{sid}/{kind}/post",
        json={"markdown": "## Problem\nPrinting was down.\n", "state_version": version, "idempotency_key": key},
        headers=tenant.headers(),
    )


async def _status(client: Client, tenant: Tenant, sid: str) -> str:
    return str((await client.get(f"/api/v1/ai-sessions/{sid}", headers=tenant.headers())).json()["status"])


def _local_provider(sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant) -> LocalPSA:
    return local.create_provider({}, context=PsaContext(account_id=tenant.account_id, sessionmaker=sessionmaker))


async def test_a_session_without_a_ticket_resolves_through_the_local_provider_posting_nothing_to_a_psa(
    psa_client: tuple[Client, EventRecorder],
    tenant: Tenant,
    other_tenant: Tenant,
    fake: FakePSA,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    client, recorder = psa_client
    await _connect(client, tenant)  # a PSA connection exists, and still nothing goes to it
    sid, version = await _session(client, tenant, ticket_ref=None)
    first = await _post(client, tenant, sid, version)
    assert first.status_code == 200, first.text
    result = first.json()
    assert (result["state"], result["posted_to_psa"], result["provider"]) == ("local", False, "local")
    assert (result["status_before"], result["status_after"]) == ("In Progress", "Resolved")
    assert fake.calls == []
    session = (await client.get(f"/api/v1/ai-sessions/{sid}", headers=tenant.headers())).json()
    assert session["status"] == "resolved"
    # The note is on the session's ticket in FlowPilot's own record, with the marker, exactly once.
    provider = _local_provider(sessionmaker, tenant)
    (note,) = await provider.list_notes(result["ticket_ref"])
    assert note.id == result["external_note_id"] and note.internal
    assert note.text == f"## Problem\nPrinting was down.\n\n[FlowPilot resolution {result['id']}]"
    assert (await provider.get_ticket(result["ticket_ref"])).summary == "Accounts can't print"
    assert (await provider.get_status(result["ticket_ref"])).name == "Resolved"
    with pytest.raises(PSANotFound):  # another account's provider cannot see it
        await _local_provider(sessionmaker, other_tenant).list_notes(result["ticket_ref"])

    again = await _post(client, tenant, sid, version)
    assert again.json() == result  # the same confirmation, answered again
    assert len(await provider.list_notes(result["ticket_ref"])) == 1
    other = await _post(client, tenant, sid, version, key="confirm-0002")
    assert other.status_code == 409
    names = [type(e).__name__ for e in recorder.events]
    assert names[-1] == "SessionResolved" and recorder.events[-1].posted_to_psa is False  # type: ignore[attr-defined]
    assert "NotePosted" not in names  # that event is about PSAs


async def test_a_session_without_a_ticket_escalates_locally(
    psa_client: tuple[Client, EventRecorder], tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    client, _ = psa_client
    sid, version = await _session(client, tenant, ticket_ref=None)
    response = await _post(client, tenant, sid, version, kind="escalation-package")
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["state"], result["status_after"], result["posted_to_psa"]) == ("local", "Escalated", False)
    assert await _status(client, tenant, sid) == "escalated"
    (note,) = await _local_provider(sessionmaker, tenant).list_notes(result["ticket_ref"])
    assert "[FlowPilot escalation" in note.text


async def test_a_local_connection_is_refused_it_needs_none(
    psa_client: tuple[Client, EventRecorder], tenant: Tenant
) -> None:
    client, _ = psa_client
    body = {"provider": "local", "name": "Local", "config": {}, "statuses": {"resolved": "Resolved"}}
    refused = await client.post("/api/v1/psa-connections", json=body, headers=tenant.api_headers)
    assert refused.status_code == 422 and "without a connection" in refused.json()["detail"]


class LosesTheAnswer(LocalPSA):
    """The local provider whose note is stored, then the process 'dies' before the writeback learns of it."""

    async def post_note(self, ref: str, text: str, *, kind: NoteKind, internal: bool) -> PSANote:
        await super().post_note(ref, text, kind=kind, internal=internal)
        raise PSATransient("the process stopped right after the note was stored")


async def test_a_local_writeback_a_crash_left_pending_is_finished_with_exactly_one_note(
    psa_client: tuple[Client, EventRecorder],
    tenant: Tenant,
    db_urls: DatabaseUrls,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    client, _ = psa_client
    runtime = client.app.state.runtime
    sid, version = await _session(client, tenant, ticket_ref=None)
    crashing = dict(runtime.plugins.psa_providers) | {"local": lambda config, *, context: LosesTheAnswer(context)}
    service = WritebackService(sessionmaker, PreviewService(), crashing, runtime.secret_key, verify_delay=0)
    principal = Principal(account_id=tenant.account_id, via="api_key")
    request = PostNote(markdown="## Problem\nPrinting was down.\n", state_version=version, idempotency_key="k-crash-1")
    with pytest.raises(PSATransient):
        await service.post(principal, uuid.UUID(sid), "resolution", request)
    assert await _status(client, tenant, sid) == "open"

    restarted = WritebackService(
        sessionmaker, PreviewService(), runtime.plugins.psa_providers, runtime.secret_key, verify_delay=0
    )
    (result,) = await reconcile_abandoned(restarted, db_urls.owner, stale_after=0, accounts=[tenant.account_id])
    assert (result.state, result.posted_to_psa, result.attempts) == ("local", False, 2)
    assert result.ticket_ref is not None
    (note,) = await _local_provider(sessionmaker, tenant).list_notes(result.ticket_ref)
    assert note.id == result.external_note_id
    assert await _status(client, tenant, sid) == "resolved"
    retried = await _post(client, tenant, sid, version, key="k-crash-1")
    assert retried.json()["state"] == "local" and retried.json()["id"] == str(result.id)


async def test_a_resolution_is_posted_once_as_an_internal_note_and_the_status_verified(
    psa_client: tuple[Client, EventRecorder], tenant: Tenant, fake: FakePSA
) -> None:
    client, recorder = psa_client
    connection = await _connect(client, tenant)
    assert "config" not in connection and connection["statuses"]["resolved"] == "Closed"
    listed = (await client.get("/api/v1/psa-connections", headers=tenant.headers())).text
    assert "very-secret-key" not in listed
    sid, version = await _session(client, tenant)
    response = await _post(client, tenant, sid, version)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["state"], result["status_before"], result["status_after"]) == ("done", "In Progress", "Closed")
    (note,) = fake.tickets["T-100"].notes
    assert note.internal and note.id == result["external_note_id"]
    assert note.text.startswith("## Problem\nPrinting was down.")
    assert f"[FlowPilot resolution {result['id']}]" in note.text
    assert fake.tickets["T-100"].status_id == "4"
    assert await _status(client, tenant, sid) == "resolved"
    session = (await client.get(f"/api/v1/ai-sessions/{sid}", headers=tenant.headers())).json()
    assert session["ticket"]["status"] == "Closed", "the session shows the status the PSA verified, not the old one"
    retry = await _post(client, tenant, sid, version)
    assert retry.json()["state"] == "done" and len(fake.tickets["T-100"].notes) == 1
    names = [type(e).__name__ for e in recorder.events]
    assert names[-2:] == ["NotePosted", "SessionResolved"]


async def test_a_preview_older_than_the_session_is_refused(
    psa_client: tuple[Client, EventRecorder], tenant: Tenant, fake: FakePSA
) -> None:
    client, _ = psa_client
    await _connect(client, tenant)
    sid, version = await _session(client, tenant)
    await client.post(f"/api/v1/ai-sessions/{sid}/facts", json={"text": "New fact"}, headers=tenant.headers())
    response = await _post(client, tenant, sid, version)
    assert response.status_code == 409 and response.json()["errors"][0]["field"] == "state_version"
    assert fake.tickets["T-100"].notes == []


async def test_a_status_a_workflow_rule_overwrites_is_reported_with_the_partial_result_and_retried(
    psa_client: tuple[Client, EventRecorder], tenant: Tenant, fake: FakePSA
) -> None:
    client, recorder = psa_client
    await _connect(client, tenant)
    sid, version = await _session(client, tenant)
    fake.workflow_sets("2")  # a rule puts the ticket back to In Progress
    failed = await _post(client, tenant, sid, version)
    assert failed.status_code == 502
    problem = failed.json()
    assert problem["title"] == "Ticket status not verified" and problem["retryable"] is True
    assert "still shows 'In Progress'" in problem["detail"]
    partial = problem["writeback"]
    assert (partial["state"], partial["posted_to_psa"]) == ("status_unverified", True)
    assert partial["external_note_id"] == fake.tickets["T-100"].notes[0].id
    assert await _status(client, tenant, sid) == "open"
    assert "StatusVerificationFailed" in [type(e).__name__ for e in recorder.events]

    fake.workflow_sets(None)
    retried = await _post(client, tenant, sid, version)
    assert retried.status_code == 200 and retried.json()["state"] == "done"
    assert len(fake.tickets["T-100"].notes) == 1
    assert retried.json()["attempts"] == 2
    assert await _status(client, tenant, sid) == "resolved"


async def test_a_note_applied_before_a_timeout_is_found_by_its_marker_not_posted_again(
    psa_client: tuple[Client, EventRecorder], tenant: Tenant, fake: FakePSA
) -> None:
    client, _ = psa_client
    await _connect(client, tenant)
    sid, version = await _session(client, tenant)
    fake.timeout_after_write("post_note")
    lost = await _post(client, tenant, sid, version)
    assert lost.status_code == 503 and lost.json()["retryable"] is True
    assert len(fake.tickets["T-100"].notes) == 1  # it did arrive
    retried = await _post(client, tenant, sid, version)
    assert retried.status_code == 200 and retried.json()["state"] == "done"
    assert len(fake.tickets["T-100"].notes) == 1


async def test_a_rate_limited_psa_says_when_to_retry_and_nothing_is_lost(
    psa_client: tuple[Client, EventRecorder], tenant: Tenant, fake: FakePSA
) -> None:
    client, _ = psa_client
    await _connect(client, tenant)
    sid, version = await _session(client, tenant)
    fake.rate_limit("list_notes", retry_after=7)
    limited = await _post(client, tenant, sid, version)
    assert limited.status_code == 503 and limited.headers["retry-after"] == "7"
    assert fake.tickets["T-100"].notes == [] and await _status(client, tenant, sid) == "open"
    assert (await _post(client, tenant, sid, version)).json()["state"] == "done"


async def test_revoked_credentials_and_a_deleted_ticket_fail_visibly(
    psa_client: tuple[Client, EventRecorder], tenant: Tenant, fake: FakePSA
) -> None:
    client, _ = psa_client
    await _connect(client, tenant)
    sid, version = await _session(client, tenant)
    fake.revoke()
    refused = await _post(client, tenant, sid, version)
    assert refused.status_code == 502 and refused.json()["retryable"] is False
    assert "very-secret-key" not in refused.text
    fake.revoked = False
    fake.delete_ticket("T-100")
    gone = await _post(client, tenant, sid, version)
    assert gone.status_code == 502 and "T-100" in gone.json()["detail"]
    assert await _status(client, tenant, sid) == "open"


async def test_an_escalation_moves_the_ticket_to_the_escalation_status(
    psa_client: tuple[Client, EventRecorder], tenant: Tenant, fake: FakePSA
) -> None:
    client, _ = psa_client
    await _connect(client, tenant)
    sid, version = await _session(client, tenant)
    response = await _post(client, tenant, sid, version, kind="escalation-package")
    assert response.status_code == 200, response.text
    assert response.json()["status_after"] == "Waiting on escalation"
    assert await _status(client, tenant, sid) == "escalated"
    assert "[FlowPilot escalation" in fake.tickets["T-100"].notes[0].text


async def test_connections_are_validated_and_private_to_the_account(
    psa_client: tuple[Client, EventRecorder], tenant: Tenant, other_tenant: Tenant
) -> None:
    client, _ = psa_client
    body = {"provider": "nopsa", "name": "X", "config": {}, "statuses": {"resolved": "Closed"}}
    unknown = await client.post("/api/v1/psa-connections", json=body, headers=tenant.api_headers)
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "provider"
    bad_config = await client.post(
        "/api/v1/psa-connections", json=body | {"provider": "fakepsa"}, headers=tenant.api_headers
    )
    assert bad_config.status_code == 422 and bad_config.json()["errors"][0]["field"] == "config"
    by_widget = await client.post(
        "/api/v1/psa-connections",
        json=body | {"provider": "fakepsa", "config": {"api_key": "k"}},
        headers=tenant.headers(),
    )
    assert by_widget.status_code == 403
    made = await _connect(client, tenant)
    assert (await client.get("/api/v1/psa-connections", headers=other_tenant.api_headers)).json() == []
    removed = await client.delete(f"/api/v1/psa-connections/{made['id']}", headers=other_tenant.api_headers)
    assert removed.status_code == 404
    duplicate = await client.post(
        "/api/v1/psa-connections",
        json={"provider": "fakepsa", "name": "Main PSA", "config": {"api_key": "k"}, "statuses": {"resolved": "4"}},
        headers=tenant.api_headers,
    )
    assert duplicate.status_code == 409


async def test_a_linked_session_without_a_connection_is_refused_not_resolved_locally(
    psa_client: tuple[Client, EventRecorder], tenant: Tenant
) -> None:
    client, _ = psa_client
    sid, version = await _session(client, tenant)
    response = await _post(client, tenant, sid, version)
    assert response.status_code == 409 and "no PSA connection" in response.json()["detail"]
    assert await _status(client, tenant, sid) == "open"


async def test_a_writeback_a_crash_left_pending_is_finished_at_start_up_with_exactly_one_note(
    psa_client: tuple[Client, EventRecorder],
    tenant: Tenant,
    fake: FakePSA,
    db_urls: DatabaseUrls,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    client, _ = psa_client
    await _connect(client, tenant)
    sid, version = await _session(client, tenant)
    fake.timeout_after_write("post_note")  # the note arrives, FlowPilot never learns it did: like kill -9
    lost = await _post(client, tenant, sid, version)
    assert lost.status_code == 503 and len(fake.tickets["T-100"].notes) == 1
    # What a restarted server does (on this test's event loop, with the same PSA providers).
    runtime = client.app.state.runtime
    service = WritebackService(sessionmaker, PreviewService(), runtime.plugins.psa_providers, runtime.secret_key)
    service.verify_delay = 0
    untouched = await reconcile_abandoned(service, db_urls.owner, stale_after=3600, accounts=[tenant.account_id])
    assert untouched == []  # a fresh one may be in flight on another replica: left alone
    (result,) = await reconcile_abandoned(service, db_urls.owner, stale_after=0, accounts=[tenant.account_id])
    assert (result.state, result.posted_to_psa) == ("done", True)
    assert len(fake.tickets["T-100"].notes) == 1
    assert await _status(client, tenant, sid) == "resolved"
    assert await reconcile_abandoned(service, db_urls.owner, stale_after=0, accounts=[tenant.account_id]) == []


async def test_note_quality_says_how_much_technicians_edit_the_notes(
    psa_client: tuple[Client, EventRecorder], tenant: Tenant
) -> None:
    client, _ = psa_client
    for markdown in (None, "## Problem\nMy own words.\n"):
        sid, version = await _session(client, tenant, ticket_ref=None)
        base = f"/api/v1/ai-sessions/{sid}/resolution-note"
        preview = await client.get(f"{base}/preview", headers=tenant.headers())
        body = {
            "markdown": markdown or preview.json()["markdown"],
            "state_version": version,
            "idempotency_key": f"quality-{sid}",
        }
        posted = await client.post(f"{base}/post", json=body, headers=tenant.headers())
        assert posted.status_code == 200, posted.text
    report = (await client.get("/api/v1/note-quality", headers=tenant.headers())).json()
    (resolution,) = report["items"]
    assert (resolution["kind"], resolution["confirmed"], resolution["unedited"]) == ("resolution", 2, 1)
    assert resolution["max_lines_changed"] > 0
    assert resolution["mean_lines_changed"] == resolution["max_lines_changed"] / 2


@pytest.mark.parametrize("kind", ["resolution-note", "escalation-package"])
async def test_another_accounts_session_is_not_found_and_nothing_is_posted_or_recorded(
    psa_client: tuple[Client, EventRecorder], tenant: Tenant, other_tenant: Tenant, fake: FakePSA, kind: str
) -> None:
    client, _ = psa_client
    await _connect(client, tenant)
    await _connect(client, other_tenant)  # the other account has a connection of its own to the same PSA
    linked, version = await _session(client, tenant)
    unlinked, unlinked_version = await _session(client, tenant, ticket_ref=None)
    for sid, at in ((linked, version), (unlinked, unlinked_version)):
        for headers in (other_tenant.headers(), other_tenant.api_headers):
            response = await client.post(
                f"/api/v1/ai-sessions/{sid}/{kind}/post",
                json={"markdown": "## Problem\nNot yours.\n", "state_version": at, "idempotency_key": "intruder-01"},
                headers=headers,
            )
            assert response.status_code == 404, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert sid in response.json()["detail"]
    assert fake.calls == [] and fake.tickets["T-100"].notes == []
    assert (await client.get("/api/v1/note-quality", headers=other_tenant.headers())).json() == {"items": []}
    # The owner's confirmation is untouched by the attempts: its first post is attempt 1, with its own key.
    own = await _post(client, tenant, linked, version, key="intruder-01", kind=kind)
    assert own.status_code == 200 and own.json()["attempts"] == 1
    assert fake.tickets["T-100"].notes[0].text.startswith("## Problem\nPrinting was down.")
    assert await _status(client, tenant, unlinked) == "open"


class Gate:
    """Holds one FakePSA operation (on the server's loop) until the test opens it; says when it was reached."""

    def __init__(self, fake: FakePSA, operation: str) -> None:
        self.reached, self.open = threading.Event(), threading.Event()
        original = getattr(fake, operation)

        async def held(*args: Any, **kwargs: Any) -> Any:
            setattr(fake, operation, original)
            self.reached.set()
            await asyncio.to_thread(self.open.wait, 10)
            return await original(*args, **kwargs)

        setattr(fake, operation, held)


@contextmanager
def serving(settings: Settings, db_urls: DatabaseUrls, fake: FakePSA) -> Iterator[httpx.Client]:
    """The server on a real socket (uvicorn on a thread): the test reads it while one of its requests runs."""
    app = create_app(settings, urls=db_urls, plugin_manager=manager_with(("fakepsa", FakePsaPlugin(fake))))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="writeback-server", daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=20) as http:
            deadline = time.monotonic() + 30
            while not getattr(app.state, "runtime", None) or not server.started:
                assert time.monotonic() < deadline, "the server did not start in 30s"
                time.sleep(0.05)
            app.state.runtime.writeback.verify_delay = 0.01
            yield http
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_a_confirmation_in_flight_reads_as_posting_then_verifying_then_its_result(
    settings: Settings, db_urls: DatabaseUrls, tenant: Tenant, other_tenant: Tenant, fake: FakePSA
) -> None:
    with serving(settings, db_urls, fake) as http:
        connection = {"provider": "fakepsa", "name": "Main PSA", "config": {"api_key": "k-1"},
                      "statuses": {"resolved": "Closed"}}  # fmt: skip
        assert http.post("/api/v1/psa-connections", json=connection, headers=tenant.api_headers).status_code == 201
        session = http.post(
            "/api/v1/ai-sessions",
            json={"problem_statement": "Printing is down", "ticket_ref": "T-100", "psa_provider": "fakepsa"},
            headers=tenant.headers(),
        ).json()
        base = f"/api/v1/ai-sessions/{session['id']}"
        path = f"{base}/writebacks/confirm-0001"
        unknown = http.get(path, headers=tenant.headers())
        assert unknown.status_code == 404 and "confirm-0001" in unknown.json()["detail"]
        bad_key = http.get(f"{base}/writebacks/no%20spaces%20here", headers=tenant.headers())
        assert bad_key.status_code == 400

        listing, setting = Gate(fake, "list_notes"), Gate(fake, "set_status")
        body = {"markdown": "## Problem\nPrinting was down.\n", "state_version": session["state_version"],
                "idempotency_key": "confirm-0001"}  # fmt: skip
        outcome: dict[str, httpx.Response] = {}

        def technician_confirms() -> None:
            outcome["done"] = http.post(f"{base}/resolution-note/post", json=body, headers=tenant.headers())

        confirming = threading.Thread(target=technician_confirms)
        confirming.start()
        try:
            assert listing.reached.wait(10)
            before = http.get(path, headers=tenant.headers()).json()
            assert (before["state"], before["external_note_id"], before["attempts"]) == ("pending", None, 1)
            listing.open.set()
            assert setting.reached.wait(10)
            during = http.get(path, headers=tenant.headers()).json()
            assert (during["state"], during["posted_to_psa"], during["status_after"]) == ("posted", True, None)
            assert during["external_note_id"] == fake.tickets["T-100"].notes[0].id
            for headers in (other_tenant.headers(), other_tenant.api_headers):
                assert http.get(path, headers=headers).status_code == 404
        finally:
            listing.open.set()
            setting.open.set()
            confirming.join(20)
        done = outcome["done"]
        assert done.status_code == 200 and done.json()["state"] == "done"
        assert http.get(path, headers=tenant.headers()).json() == done.json()


async def test_a_session_naming_a_local_ticket_resolves_on_that_ticket_without_a_connection(
    psa_client: tuple[Client, EventRecorder], tenant: Tenant, other_tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:  # fmt: skip
    client, _ = psa_client
    context = PsaContext(account_id=tenant.account_id, sessionmaker=sessionmaker)
    ref = await local.add_ticket(context, "Scanner jams", description="Floor 3 scanner")
    body = {"problem_statement": "Scanner jams", "ticket_ref": ref, "psa_provider": "local"}
    created = (await client.post("/api/v1/ai-sessions", json=body, headers=tenant.headers())).json()
    response = await _post(client, tenant, str(created["id"]), int(created["state_version"]))
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["state"], result["ticket_ref"], result["posted_to_psa"]) == ("local", ref, False)
    (note,) = await _local_provider(sessionmaker, tenant).list_notes(ref)
    assert note.id == result["external_note_id"]

    # Another account's local ticket is not this account's to post to: it reads as missing, nothing changes.
    theirs = await local.add_ticket(PsaContext(account_id=other_tenant.account_id, sessionmaker=sessionmaker), "X")
    created = (await client.post("/api/v1/ai-sessions", json=body | {"ticket_ref": theirs},
                                 headers=tenant.headers())).json()  # fmt: skip
    refused = await _post(client, tenant, str(created["id"]), int(created["state_version"]))
    assert refused.status_code == 502 and theirs in refused.json()["detail"]
    assert await _status(client, tenant, str(created["id"])) == "open"
    assert await _local_provider(sessionmaker, other_tenant).list_notes(theirs) == []


def _psa_calls(metrics: str) -> dict[tuple[str, str], float]:
    """``flowpilot_psa_calls_total`` of the fake PSA on /metrics, by (operation, outcome)."""
    found = {}
    for line in metrics.splitlines():
        if line.startswith("flowpilot_psa_calls_total{"):
            labels, value = line.rsplit(" ", 1)
            parts = dict(part.split("=", 1) for part in labels[labels.index("{") + 1 : -1].split(","))
            named = {key: raw.strip('"') for key, raw in parts.items()}
            if named["provider"] == "fakepsa":
                found[(named["operation"], named["outcome"])] = float(value)
    return found


async def test_every_psa_call_is_counted_by_its_outcome_on_metrics(
    psa_client: tuple[Client, EventRecorder], tenant: Tenant, fake: FakePSA
) -> None:
    """What an MSP admin reads when technicians say the note did not post: the PSA's own answers."""
    client, _ = psa_client
    connection = await _connect(client, tenant)
    sid, version = await _session(client, tenant)
    fake.rate_limit("post_note", retry_after=7)
    refused = await _post(client, tenant, sid, version)
    assert refused.status_code == 503 and refused.json()["retryable"] is True
    assert (await _post(client, tenant, sid, version)).status_code == 200
    metrics = (await client.get("/metrics")).text
    calls = _psa_calls(metrics)
    assert calls[("post_note", "rate_limited")] == 1 and calls[("post_note", "ok")] == 1
    assert calls[("set_status", "ok")] == 1 and calls[("get_status", "ok")] >= 1
    assert 'flowpilot_psa_call_seconds_count{operation="post_note",provider="fakepsa"} 2.0' in metrics
    fake.revoke()
    checked = await client.post(f"/api/v1/psa-connections/{connection['id']}/test", json={}, headers=tenant.api_headers)
    assert checked.status_code == 502  # the PSA refused FlowPilot's credentials
    assert _psa_calls((await client.get("/metrics")).text)[("check_connection", "auth_failed")] == 1
