"""Sessions opened on a ConnectWise ticket through the API: the ticket read over HTTP from the fake and snapshotted,
by connection id, by the default connection and by an embed token's ticket claim; refreshed; a missing ticket is a
404 in ConnectWise's words; a PSA that is down is a 503 with Retry-After, and the session opens unlinked instead."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from flowpilot_connectwise.testing import FakeConnectWise
from litestar import Litestar
from litestar.testing import AsyncTestClient

from flowpilot_core.config import Settings
from flowpilot_core.db.engine import DatabaseUrls
from tests.conftest import Tenant
from tests.plugins.support import client_for, manager_with

Client = AsyncTestClient[Litestar]
SESSIONS = "/api/v1/ai-sessions"
DESCRIPTION = "Nobody on floor 2 can print since the driver update. Jobs stay in the queue."


def _closed_port() -> int:
    with socket.socket() as sock:  # bound, never listening: connections to it are refused
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def cw() -> Iterator[FakeConnectWise]:
    with FakeConnectWise(hang_seconds=1.0) as fake:
        yield fake


@pytest.fixture
async def client(settings: Settings, db_urls: DatabaseUrls) -> AsyncIterator[Client]:
    async with client_for(settings, db_urls, manager_with()) as test_client:  # the built-in plugins only
        test_client.app.state.runtime.writeback.verify_delay = 0.01
        yield test_client


async def _connect(client: Client, tenant: Tenant, cw: FakeConnectWise, **extra: Any) -> dict[str, Any]:
    body = {
        "provider": "connectwise",
        "name": extra.pop("name", "ConnectWise"),
        "config": cw.config(timeout=0.5, max_retries=0),
        "statuses": {"resolved": "Closed"},
        **extra,
    }
    made = await client.post("/api/v1/psa-connections", json=body, headers=tenant.api_headers)
    assert made.status_code == 201, made.text
    return dict(made.json())


async def test_a_session_opened_on_a_connection_reads_the_ticket_from_the_psa_and_snapshots_it(
    client: Client, tenant: Tenant, cw: FakeConnectWise
) -> None:
    connection = await _connect(client, tenant, cw)
    ticket = cw.add_ticket("Printers down on floor 2", description=DESCRIPTION, company="Contoso Dental",
                           contact="Maria Lopez")  # fmt: skip
    body = {"psa_connection": connection["id"], "ticket_ref": f"#{ticket.id}", "ticket": {"priority": "High"}}
    created = await client.post(SESSIONS, json=body, headers=tenant.headers())
    assert created.status_code == 201, created.text
    session = created.json()
    assert (session["psa_connection_id"], session["psa_provider"], session["ticket_ref"]) == (
        connection["id"],
        "connectwise",
        str(ticket.id),
    )
    assert session["ticket"] == {
        "summary": "Printers down on floor 2", "description": DESCRIPTION, "company": "Contoso Dental",
        "contact": "Maria Lopez", "board": "Service Desk", "status": "In Progress", "priority": "High",
    }  # fmt: skip
    assert session["title"] == "Printers down on floor 2"
    assert session["problem_statement"] == DESCRIPTION  # none sent: the ticket's description
    stored = (await client.get(f"{SESSIONS}/{session['id']}", headers=tenant.headers())).json()
    assert stored["ticket"] == session["ticket"]


async def test_the_default_connection_and_an_embed_tokens_ticket_claim_read_the_ticket_too(
    client: Client, tenant: Tenant, cw: FakeConnectWise
) -> None:
    none_yet = await client.post(SESSIONS, json={"psa_connection": "default", "ticket_ref": "5001"},
                                 headers=tenant.headers())  # fmt: skip
    assert none_yet.status_code == 422 and none_yet.json()["errors"][0]["field"] == "psa_connection"
    await _connect(client, tenant, cw, name="Other")
    connection = await _connect(client, tenant, cw, is_default=True)
    ticket = cw.add_ticket("VPN drops every hour", contact="Priya Nair")

    by_default = await client.post(SESSIONS, json={"problem_statement": "VPN", "psa_connection": "default",
                                                   "ticket_ref": str(ticket.id)}, headers=tenant.headers())  # fmt: skip
    assert by_default.status_code == 201, by_default.text
    assert by_default.json()["psa_connection_id"] == connection["id"]

    # The host portal signs only which ticket; FlowPilot reads it (the claim's summary is the portal's, the PSA's wins).
    claim = {"provider": "connectwise", "ref": str(ticket.id), "summary": "stale summary"}
    headers = tenant.headers(ticket=claim)
    from_claim = await client.post(SESSIONS, json={"problem_statement": "VPN drops"}, headers=headers)
    assert from_claim.status_code == 201, from_claim.text
    made = from_claim.json()
    assert (made["psa_connection_id"], made["ticket_ref"]) == (connection["id"], str(ticket.id))
    assert (made["ticket"]["summary"], made["ticket"]["contact"]) == ("VPN drops every hour", "Priya Nair")

    other = await client.post(SESSIONS, json={"problem_statement": "x", "ticket_ref": "5999"}, headers=headers)
    assert other.status_code == 409 and other.json()["errors"][0]["field"] == "ticket_ref"


async def test_a_claim_for_a_provider_without_a_connection_keeps_the_signed_ticket_as_it_is(
    client: Client, tenant: Tenant, cw: FakeConnectWise
) -> None:
    headers = tenant.headers(ticket={"provider": "connectwise", "ref": "991", "summary": "VPN down"})
    created = await client.post(SESSIONS, json={"problem_statement": "VPN"}, headers=headers)
    assert created.status_code == 201, created.text
    assert (created.json()["ticket"], created.json()["psa_connection_id"]) == ({"summary": "VPN down"}, None)
    assert cw.requests == []


async def test_a_ticket_the_psa_does_not_have_is_a_404_in_its_words_and_nothing_is_stored(
    client: Client, tenant: Tenant, other_tenant: Tenant, cw: FakeConnectWise
) -> None:
    connection = await _connect(client, tenant, cw)
    missing = await client.post(SESSIONS, json={"psa_connection": connection["id"], "ticket_ref": "4242"},
                                headers=tenant.headers())  # fmt: skip
    assert missing.status_code == 404, missing.text
    problem = missing.json()
    assert problem["title"] == "PSA ticket not found" and problem["errors"][0]["field"] == "ticket_ref"
    assert "Ticket ID 4242 not found" in problem["detail"] and "'ConnectWise'" in problem["detail"]
    assert (await client.get(SESSIONS, headers=tenant.headers())).json()["items"] == []

    theirs = await client.post(SESSIONS, json={"psa_connection": connection["id"], "ticket_ref": "4242"},
                               headers=other_tenant.headers())  # fmt: skip
    assert theirs.status_code == 404 and theirs.json()["errors"][0]["field"] == "psa_connection"
    assert "Ticket ID" not in theirs.text  # another account's connection is never used, nor confirmed

    nonsense = await client.post(SESSIONS, json={"psa_connection": "mine", "ticket_ref": "1"}, headers=tenant.headers())
    assert nonsense.status_code in (400, 422) and nonsense.json()["errors"][0]["field"] == "psa_connection"
    no_ref = await client.post(SESSIONS, json={"problem_statement": "x", "psa_connection": connection["id"]},
                               headers=tenant.headers())  # fmt: skip
    assert no_ref.status_code == 422 and no_ref.json()["errors"][0]["field"] == "ticket_ref"


async def test_a_psa_that_is_down_is_a_503_with_retry_after_and_the_session_can_open_unlinked(
    client: Client, tenant: Tenant, cw: FakeConnectWise
) -> None:
    connection = await _connect(client, tenant, cw)
    ticket = cw.add_ticket("Server disk full")
    body = {"problem_statement": "Disk full on FS01", "psa_connection": connection["id"], "ticket_ref": str(ticket.id)}
    cw.fail("get_ticket", 503)
    down = await client.post(SESSIONS, json=body, headers=tenant.headers())
    assert down.status_code == 503, down.text
    assert int(down.headers["retry-after"]) > 0 and down.json()["retryable"] is True
    assert '"unlinked": true' in down.json()["detail"]
    assert down.json()["can_open_unlinked"] is True  # for a client's button: the reason alone, without the advice
    assert "could not be read" in down.json()["psa_detail"] and "unlinked" not in down.json()["psa_detail"]
    for secret in cw.secrets:
        assert secret not in down.text

    cw.rate_limit("get_ticket", retry_after=45)
    limited = await client.post(SESSIONS, json=body, headers=tenant.headers())
    assert limited.status_code == 503 and limited.headers["retry-after"] == "45"
    assert (await client.get(SESSIONS, headers=tenant.headers())).json()["items"] == []

    unreachable = await _connect(client, tenant, cw, name="Gone")
    moved = await client.patch(
        f"/api/v1/psa-connections/{unreachable['id']}",
        json={"config": {"site": f"http://127.0.0.1:{_closed_port()}"}},
        headers=tenant.api_headers,
    )
    assert moved.status_code == 200, moved.text
    gone = await client.post(SESSIONS, json=body | {"psa_connection": unreachable["id"]}, headers=tenant.headers())
    assert gone.status_code == 503 and gone.headers["retry-after"] == "30", gone.text
    assert "'Gone'" in gone.json()["detail"]

    asked = len(cw.requests)
    unlinked = await client.post(SESSIONS, json=body | {"unlinked": True}, headers=tenant.headers())
    assert unlinked.status_code == 201, unlinked.text
    made = unlinked.json()
    assert (made["ticket_ref"], made["psa_provider"], made["psa_connection_id"]) == (None, None, None)
    assert len(cw.requests) == asked  # the PSA was not asked again
    resolved = await client.post(
        f"{SESSIONS}/{made['id']}/resolution-note/post",
        json={"markdown": "## Fix\nFreed space.\n", "state_version": made["state_version"],
              "idempotency_key": "confirm-local-1"},
        headers=tenant.headers(),
    )  # fmt: skip
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["state"] == "local"
    assert cw.tickets[ticket.id].notes == []


async def test_refresh_rereads_the_ticket_bumps_state_version_and_reports_a_deleted_ticket(
    client: Client, tenant: Tenant, other_tenant: Tenant, cw: FakeConnectWise
) -> None:
    connection = await _connect(client, tenant, cw)
    ticket = cw.add_ticket("Outlook asks for the password", contact="James Chen")
    body = {"psa_connection": connection["id"], "ticket_ref": str(ticket.id), "ticket": {"priority": "Medium"},
            "problem_statement": "Outlook prompts"}  # fmt: skip
    session = (await client.post(SESSIONS, json=body, headers=tenant.headers())).json()
    url = f"{SESSIONS}/{session['id']}/ticket/refresh"

    ticket.summary, ticket.contact = "Outlook asks for the password (3 users)", None
    ticket.status_id = 3
    refreshed = await client.post(url, json={}, headers=tenant.headers())
    assert refreshed.status_code == 200, refreshed.text
    fresh = refreshed.json()
    assert fresh["state_version"] == session["state_version"] + 1
    assert fresh["ticket"] == {
        "summary": "Outlook asks for the password (3 users)", "company": "Contoso", "board": "Service Desk",
        "status": "Waiting on escalation", "priority": "Medium",
    }  # fmt: skip

    assert (await client.post(url, json={}, headers=other_tenant.headers())).status_code == 404
    assert (await client.post(f"{SESSIONS}/{uuid.uuid4()}/ticket/refresh", json={},
                              headers=tenant.headers())).status_code == 404  # fmt: skip

    cw.delete_ticket(ticket.id)
    gone = await client.post(url, json={}, headers=tenant.headers())
    assert gone.status_code == 404 and f"Ticket ID {ticket.id} not found" in gone.json()["detail"]
    kept = (await client.get(f"{SESSIONS}/{session['id']}", headers=tenant.headers())).json()
    assert (kept["ticket"], kept["state_version"]) == (fresh["ticket"], fresh["state_version"])

    local = (await client.post(SESSIONS, json={"problem_statement": "no ticket"}, headers=tenant.headers())).json()
    unlinked = await client.post(f"{SESSIONS}/{local['id']}/ticket/refresh", json={}, headers=tenant.headers())
    assert unlinked.status_code == 409 and "not linked" in unlinked.json()["detail"]
