"""Confirm & post to a ConnectWise ticket through the API: the built-in plugin, its fake over HTTP, the
connection's config validated before it is stored."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flowpilot_connectwise.testing import FakeConnectWise

from tests.conftest import Tenant
from tests.psa import writeback_support
from tests.psa.writeback_support import Client, connect, post_fix

client = writeback_support.client
"""The server with the built-in plugins only (this module's, not the session-wide one)."""


@pytest.fixture
def cw() -> Iterator[FakeConnectWise]:
    with FakeConnectWise(hang_seconds=1.0) as fake:
        yield fake


async def _connect(client: Client, tenant: Tenant, config: dict[str, Any]) -> Any:
    return await connect(
        client, tenant, "connectwise", "ConnectWise", config, resolved="Closed", escalated="Waiting on escalation"
    )


async def _post(client: Client, tenant: Tenant, ticket_id: int, kind: str, key: str = "confirm-cw-0001") -> Any:
    body = {"problem_statement": "Printing is down", "ticket_ref": str(ticket_id), "psa_provider": "connectwise"}
    session = (await client.post("/api/v1/ai-sessions", json=body, headers=tenant.headers())).json()
    return await post_fix(client, tenant, session, kind, key)


async def test_a_bad_connectwise_config_is_a_422_naming_config_and_never_echoes_the_key(
    client: Client, tenant: Tenant, cw: FakeConnectWise
) -> None:
    refused = await _connect(client, tenant, cw.config(client_id="my-client"))
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["errors"][0]["field"] == "config" and "client_id" in problem["detail"]
    assert cw.private_key not in refused.text
    plain_http = await _connect(client, tenant, cw.config(site="http://cw.example.com"))
    assert plain_http.status_code == 422 and "https only" in plain_http.json()["detail"]
    assert cw.requests == []  # validating a config sends nothing


async def test_a_resolution_reaches_the_connectwise_ticket_once_and_its_closed_status_is_verified(
    client: Client, tenant: Tenant, cw: FakeConnectWise
) -> None:
    made = await _connect(client, tenant, cw.config(timeout=0.3))
    assert made.status_code == 201, made.text
    assert cw.private_key not in made.text
    ticket = cw.add_ticket("Printer offline")
    cw.timeout_after_write("post_note")  # the answer to the note's POST is lost; the note arrives
    response = await _post(client, tenant, ticket.id, "resolution-note")
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["state"], result["status_before"], result["status_after"]) == ("done", "In Progress", "Closed")
    (note,) = cw.tickets[ticket.id].notes
    assert (note.internal, note.resolution, note.detail, note.process_notifications) == (True, True, False, False)
    assert f"[FlowPilot resolution {result['id']}]" in note.text and result["external_note_id"] == str(note.id)
    assert cw.status_name(ticket.id) == "Closed" and cw.tickets[ticket.id].closed


async def test_a_workflow_rule_on_the_board_is_caught_and_a_revoked_key_fails_visibly(
    client: Client, tenant: Tenant, cw: FakeConnectWise
) -> None:
    assert (await _connect(client, tenant, cw.config(timeout=0.3))).status_code == 201
    ticket = cw.add_ticket("Laptop will not boot")
    cw.workflow_sets(2)  # the board's rule puts escalated tickets back to In Progress
    unverified = await _post(client, tenant, ticket.id, "escalation-package")
    assert unverified.status_code == 502, unverified.text
    assert "still shows 'In Progress'" in unverified.json()["detail"]
    assert len(cw.tickets[ticket.id].notes) == 1

    cw.revoke()
    other = cw.add_ticket("Another")
    refused = await _post(client, tenant, other.id, "resolution-note", key="confirm-cw-0002")
    assert refused.status_code == 502 and refused.json()["retryable"] is False
    assert "HTTP 401" in refused.json()["detail"]
    for secret in cw.secrets:
        assert secret not in refused.text
    assert cw.tickets[other.id].notes == []
