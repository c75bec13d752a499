"""PSA connections through the API against the ConnectWise fake over HTTP: update (config re-validated, merged,
encrypted), test (authenticate, a ticket's statuses, the mapped ones), one default, cross-account 404s, and the
board's closing status when the mapping's name is not on the ticket's board."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from flowpilot_connectwise.testing import FakeConnectWise
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core.config import Settings
from flowpilot_core.db.engine import DatabaseUrls, tenant_session
from flowpilot_core.db.models import PsaConnection
from tests.conftest import Tenant
from tests.plugins.support import client_for, manager_with

Client = AsyncTestClient[Litestar]
BASE = "/api/v1/psa-connections"


@pytest.fixture
def cw() -> Iterator[FakeConnectWise]:
    with FakeConnectWise(hang_seconds=1.0) as fake:
        yield fake


@pytest.fixture
async def client(settings: Settings, db_urls: DatabaseUrls) -> AsyncIterator[Client]:
    async with client_for(settings, db_urls, manager_with()) as test_client:  # the built-in plugins only
        test_client.app.state.runtime.writeback.verify_delay = 0.01
        yield test_client


async def _connect(client: Client, tenant: Tenant, cw: FakeConnectWise, name: str = "ConnectWise", **extra: Any) -> Any:
    body = {
        "provider": "connectwise",
        "name": name,
        "config": cw.config(timeout=0.5, max_retries=0),
        "statuses": {"resolved": "Closed", "escalated": "Waiting on escalation"},
        **extra,
    }
    made = await client.post(BASE, json=body, headers=tenant.api_headers)
    assert made.status_code == 201, made.text
    return made.json()


async def _stored_config(sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant, cid: str) -> str:
    async with tenant_session(sessionmaker, tenant.account_id) as db:
        row = (await db.execute(select(PsaConnection).where(PsaConnection.id == uuid.UUID(cid)))).scalar_one()
        return row.config_encrypted


async def test_testing_a_connection_authenticates_reads_the_tickets_statuses_and_shows_the_mapped_ones(
    client: Client, tenant: Tenant, cw: FakeConnectWise
) -> None:
    made = await _connect(client, tenant, cw)
    bare = await client.post(f"{BASE}/{made['id']}/test", json={}, headers=tenant.api_headers)
    assert bare.status_code == 200, bare.text
    assert (bare.json()["authenticated"], bare.json()["ok"], bare.json()["ticket"]) == (True, True, None)
    assert "ticket_ref" in bare.json()["hint"]

    ticket = cw.add_ticket("Printer offline")
    checked = await client.post(f"{BASE}/{made['id']}/test", json={"ticket_ref": str(ticket.id)},
                                headers=tenant.api_headers)  # fmt: skip
    assert checked.status_code == 200, checked.text
    result = checked.json()
    assert result["ok"] is True
    assert (result["ticket"]["summary"], result["ticket"]["status"]["name"]) == ("Printer offline", "In Progress")
    statuses = [s["name"] for s in result["ticket"]["statuses"]]
    assert statuses == ["New", "In Progress", "Waiting on escalation", "Closed"]
    assert (result["resolved"]["status"]["id"], result["resolved"]["how"]) == ("4", "mapping")
    assert result["escalated"]["status"]["name"] == "Waiting on escalation"
    assert [r.route for r in cw.requests if r.method != "GET"] == []  # a test writes nothing
    for secret in cw.secrets:
        assert secret not in checked.text


async def test_on_another_board_the_mapping_falls_back_to_the_boards_one_closing_status_and_resolves_there(
    client: Client, tenant: Tenant, cw: FakeConnectWise
) -> None:
    made = await _connect(client, tenant, cw)
    # "Projects" has >Closed and Cancelled (both closing): the one with the word "closed" is the safe choice.
    project = cw.add_ticket("Migrate the file server", board_id=2)
    checked = (await client.post(f"{BASE}/{made['id']}/test", json={"ticket_ref": str(project.id)},
                                 headers=tenant.api_headers)).json()  # fmt: skip
    assert (checked["resolved"]["status"]["name"], checked["resolved"]["how"]) == (">Closed", "closing_status")
    assert checked["escalated"]["status"] is None and checked["ok"] is False
    assert "no status 'Waiting on escalation'" in checked["escalated"]["problem"]

    body = {"problem_statement": "File server", "psa_connection": made["id"], "ticket_ref": str(project.id)}
    session = (await client.post("/api/v1/ai-sessions", json=body, headers=tenant.headers())).json()
    posted = await client.post(
        f"/api/v1/ai-sessions/{session['id']}/resolution-note/post",
        json={"markdown": "## Fix\nMoved the share.\n", "state_version": session["state_version"],
              "idempotency_key": "confirm-projects-1"},
        headers=tenant.headers(),
    )  # fmt: skip
    assert posted.status_code == 200, posted.text
    assert (posted.json()["state"], posted.json()["status_after"]) == ("done", ">Closed")
    assert cw.status_name(project.id) == ">Closed"


async def test_a_board_with_two_closing_statuses_is_never_a_guess(
    client: Client, tenant: Tenant, cw: FakeConnectWise
) -> None:
    from flowpilot_connectwise.testing import FakeStatus

    board = cw.add_board("Field", [FakeStatus(31, "Open"), FakeStatus(32, "Done - fixed", closed=True),
                                   FakeStatus(33, "Done - cancelled", closed=True)])  # fmt: skip
    made = await _connect(client, tenant, cw)
    ticket = cw.add_ticket("Replace the switch", board_id=board.id)
    checked = (await client.post(f"{BASE}/{made['id']}/test", json={"ticket_ref": str(ticket.id)},
                                 headers=tenant.api_headers)).json()  # fmt: skip
    assert checked["ok"] is False and checked["resolved"]["status"] is None
    assert "several closing statuses" in checked["resolved"]["problem"]


async def test_psa_failures_in_a_test_are_clear_problems_that_never_carry_a_credential(
    client: Client, tenant: Tenant, cw: FakeConnectWise
) -> None:
    made = await _connect(client, tenant, cw)
    missing = await client.post(f"{BASE}/{made['id']}/test", json={"ticket_ref": "999999"}, headers=tenant.api_headers)
    assert missing.status_code == 404, missing.text
    assert "Ticket ID 999999 not found" in missing.json()["detail"]

    cw.revoke()
    revoked = await client.post(f"{BASE}/{made['id']}/test", json={}, headers=tenant.api_headers)
    assert revoked.status_code == 502, revoked.text
    assert revoked.json()["title"] == "PSA rejected the credentials" and revoked.json()["retryable"] is False
    for secret in cw.secrets:
        assert secret not in revoked.text

    cw.revoked = False
    cw.fail("system_info", 503)
    down = await client.post(f"{BASE}/{made['id']}/test", json={}, headers=tenant.api_headers)
    assert down.status_code == 503 and down.json()["retryable"] is True


async def test_an_update_revalidates_and_merges_the_config_and_stores_it_encrypted(
    client: Client, tenant: Tenant, cw: FakeConnectWise, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    made = await _connect(client, tenant, cw)
    before = await _stored_config(sessionmaker, tenant, made["id"])
    url = f"{BASE}/{made['id']}"

    refused = await client.patch(url, json={"config": {"client_id": "not-a-guid"}}, headers=tenant.api_headers)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "config" and "client_id" in refused.json()["detail"]
    assert await _stored_config(sessionmaker, tenant, made["id"]) == before  # nothing stored

    # A rotated key: only the changed key is sent, the rest of the stored config is kept.
    cw.private_key = "privROTATED9999"
    stale = await client.post(f"{url}/test", json={}, headers=tenant.api_headers)
    assert stale.status_code == 502
    changed = await client.patch(
        url,
        json={"name": "CW prod", "config": {"private_key": "privROTATED9999"},
              "statuses": {"resolved": "Closed"}},
        headers=tenant.api_headers,
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "CW prod"
    assert changed.json()["statuses"] == {"resolved": "Closed", "escalated": None}
    assert "privROTATED9999" not in changed.text
    stored = await _stored_config(sessionmaker, tenant, made["id"])
    assert stored != before and "privROTATED9999" not in stored
    assert (await client.post(f"{url}/test", json={}, headers=tenant.api_headers)).json()["authenticated"] is True

    for body, field in (({"statuses": {"resolved": ""}}, "statuses.resolved"), ({"colour": 1}, "colour"),
                        ({"name": ""}, "name")):  # fmt: skip
        bad = await client.patch(url, json=body, headers=tenant.api_headers)
        assert bad.status_code in (400, 422) and bad.json()["errors"][0]["field"] == field, (body, bad.text)


async def test_one_default_per_account_names_clash_and_only_an_api_key_changes_a_connection(
    client: Client, tenant: Tenant, cw: FakeConnectWise
) -> None:
    first = await _connect(client, tenant, cw, "First", is_default=True)
    second = await _connect(client, tenant, cw, "Second", is_default=True)
    listed = {c["name"]: c["is_default"] for c in (await client.get(BASE, headers=tenant.api_headers)).json()}
    assert listed == {"First": False, "Second": True}
    assert (await client.patch(f"{BASE}/{first['id']}", json={"is_default": True},
                               headers=tenant.api_headers)).status_code == 200  # fmt: skip
    listed = {c["name"]: c["is_default"] for c in (await client.get(BASE, headers=tenant.api_headers)).json()}
    assert listed == {"First": True, "Second": False}

    clash = await client.patch(f"{BASE}/{second['id']}", json={"name": "First"}, headers=tenant.api_headers)
    assert clash.status_code == 409 and clash.json()["errors"][0]["field"] == "name"
    as_tech = await client.patch(f"{BASE}/{second['id']}", json={"name": "X"}, headers=tenant.headers())
    assert as_tech.status_code == 403
    assert (await client.post(f"{BASE}/{second['id']}/test", json={}, headers=tenant.headers())).status_code == 403


async def test_another_accounts_connection_reads_as_404_for_update_and_test(
    client: Client, tenant: Tenant, other_tenant: Tenant, cw: FakeConnectWise
) -> None:
    made = await _connect(client, tenant, cw)
    for response in (
        await client.patch(f"{BASE}/{made['id']}", json={"name": "mine"}, headers=other_tenant.api_headers),
        await client.post(f"{BASE}/{made['id']}/test", json={}, headers=other_tenant.api_headers),
        await client.patch(f"{BASE}/{uuid.uuid4()}", json={"name": "x"}, headers=tenant.api_headers),
    ):
        assert response.status_code == 404, response.text
    assert [r for r in cw.requests if r.route == "system_info"] == []
    assert (await client.get(BASE, headers=tenant.api_headers)).json()[0]["name"] == "ConnectWise"
