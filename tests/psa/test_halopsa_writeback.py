"""Confirm & post to a HaloPSA ticket through the API: the built-in plugin, its fake over HTTP (token endpoint
included), the connection's config validated before it is stored. Under every fault a resolution ends with
exactly one note on the ticket and its status verified, or says exactly what failed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flowpilot_halopsa.testing import FakeHaloPSA

from tests.conftest import Tenant
from tests.psa import writeback_support
from tests.psa.writeback_support import Client, connect, post_fix

client = writeback_support.client
"""The server with the built-in plugins only (this module's, not the session-wide one)."""


@pytest.fixture
def halo() -> Iterator[FakeHaloPSA]:
    with FakeHaloPSA(hang_seconds=1.0) as fake:
        yield fake


async def _connect(client: Client, tenant: Tenant, config: dict[str, Any]) -> Any:
    return await connect(
        client, tenant, "halopsa", "HaloPSA", config, resolved="Closed", escalated="Waiting on escalation"
    )


async def _session(client: Client, tenant: Tenant, ticket_id: int) -> dict[str, Any]:
    body = {"problem_statement": "Printing is down", "ticket_ref": str(ticket_id), "psa_provider": "halopsa"}
    response = await client.post("/api/v1/ai-sessions", json=body, headers=tenant.headers())
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_bad_halopsa_config_is_a_422_naming_config_and_never_echoes_the_secret(
    client: Client, tenant: Tenant, halo: FakeHaloPSA
) -> None:
    refused = await _connect(client, tenant, halo.config(tenant="not a tenant"))
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["errors"][0]["field"] == "config" and "tenant" in problem["detail"]
    assert halo.client_secret not in refused.text
    plain_http = await _connect(client, tenant, halo.config(site="http://halo.example.com"))
    assert plain_http.status_code == 422 and "https only" in plain_http.json()["detail"]
    assert halo.requests == []  # validating a config sends nothing


FAULTS: dict[str, Callable[[FakeHaloPSA], None]] = {
    "no fault": lambda fake: None,
    "the note's answer is lost": lambda fake: fake.timeout_after_write("post_actions"),
    "a short 429 on the note": lambda fake: fake.rate_limit("post_actions", 1),
    "the token expires mid-way": lambda fake: fake.expire_tokens(after_requests=3),
    "the status update's answer is lost": lambda fake: fake.timeout_after_write("post_tickets"),
    "a 503 on reading the ticket": lambda fake: fake.fail("get_ticket", 503),
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_a_resolution_posts_one_hidden_note_and_its_closed_status_is_verified(
    client: Client, tenant: Tenant, halo: FakeHaloPSA, fault: str
) -> None:
    made = await _connect(client, tenant, halo.config(timeout=0.3))
    assert made.status_code == 201, made.text
    assert halo.client_secret not in made.text
    ticket = halo.add_ticket("Printer offline")
    FAULTS[fault](halo)
    response = await post_fix(client, tenant, await _session(client, tenant, ticket.id), "resolution-note", "halo-0001")
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["state"], result["status_before"], result["status_after"]) == ("done", "In Progress", "Closed")
    (action,) = halo.tickets[ticket.id].actions
    assert (action.hidden, action.sendemail, action.outcome) == (True, False, "Private Note")
    assert f"[FlowPilot resolution {result['id']}]" in action.note and result["external_note_id"] == str(action.id)
    assert halo.status_name(ticket.id) == "Closed"
    posts = [r.status for r in halo.requests if r.route == "post_actions"]
    assert posts[-1] == 201 and all(status in (401, 429) for status in posts[:-1])  # refused ones were not stored


async def test_a_failed_note_post_is_reported_retryable_and_the_retry_posts_it_once(
    client: Client, tenant: Tenant, halo: FakeHaloPSA
) -> None:
    assert (await _connect(client, tenant, halo.config(timeout=0.3))).status_code == 201
    ticket = halo.add_ticket("Mapped drive missing")
    session = await _session(client, tenant, ticket.id)
    halo.fail("post_actions", 503)
    failed = await post_fix(client, tenant, session, "resolution-note", "halo-0002")
    assert failed.status_code == 503 and failed.json()["retryable"] is True, failed.text
    assert "HTTP 503" in failed.json()["detail"] and halo.tickets[ticket.id].actions == []
    retried = await post_fix(client, tenant, session, "resolution-note", "halo-0002")
    assert retried.status_code == 200 and retried.json()["state"] == "done", retried.text
    assert len(halo.tickets[ticket.id].actions) == 1 and halo.status_name(ticket.id) == "Closed"


async def test_a_workflow_rule_is_caught_and_the_retry_redoes_only_the_status(
    client: Client, tenant: Tenant, halo: FakeHaloPSA
) -> None:
    assert (await _connect(client, tenant, halo.config(timeout=0.3))).status_code == 201
    ticket = halo.add_ticket("Laptop will not boot")
    session = await _session(client, tenant, ticket.id)
    halo.workflow_sets(3)  # a rule puts updated tickets back to Action Required
    unverified = await post_fix(client, tenant, session, "escalation-package", "halo-0003")
    assert unverified.status_code == 502, unverified.text
    assert "still shows 'Action Required', not 'Waiting on escalation'" in unverified.json()["detail"]
    assert len(halo.tickets[ticket.id].actions) == 1
    halo.workflow_sets(None)
    retried = await post_fix(client, tenant, session, "escalation-package", "halo-0003")
    assert retried.status_code == 200 and retried.json()["status_after"] == "Waiting on escalation", retried.text
    assert len(halo.tickets[ticket.id].actions) == 1  # the note was not posted again


async def test_revoked_credentials_and_a_deleted_ticket_fail_visibly_and_post_nothing(
    client: Client, tenant: Tenant, halo: FakeHaloPSA
) -> None:
    assert (await _connect(client, tenant, halo.config(timeout=0.3))).status_code == 201
    gone = halo.add_ticket("Deleted meanwhile")
    session = await _session(client, tenant, gone.id)
    halo.delete_ticket(gone.id)
    missing = await post_fix(client, tenant, session, "resolution-note", "halo-0004")
    assert missing.status_code == 502 and missing.json()["retryable"] is False, missing.text
    assert f"ticket {gone.id} does not exist in HaloPSA (HTTP 404)" in missing.json()["detail"]

    halo.revoke()
    other = halo.add_ticket("Another")
    refused = await post_fix(client, tenant, await _session(client, tenant, other.id), "resolution-note", "halo-0005")
    assert refused.status_code == 502 and refused.json()["retryable"] is False, refused.text
    assert "refused FlowPilot's client credentials (HTTP 401): invalid_client" in refused.json()["detail"]
    for secret in halo.secrets:
        assert secret not in refused.text
    assert other.actions == [] and halo.status_name(other.id) == "In Progress"


async def test_a_long_rate_limit_is_reported_with_when_to_retry_and_posts_nothing(
    client: Client, tenant: Tenant, halo: FakeHaloPSA
) -> None:
    assert (await _connect(client, tenant, halo.config(timeout=0.3))).status_code == 201
    ticket = halo.add_ticket("Slow day")
    halo.rate_limit("post_actions", 120)
    limited = await post_fix(client, tenant, await _session(client, tenant, ticket.id), "resolution-note", "halo-0006")
    assert limited.status_code == 503 and limited.json()["retryable"] is True, limited.text
    assert limited.headers["retry-after"] == "120" and "HTTP 429" in limited.json()["detail"]
    assert halo.tickets[ticket.id].actions == [] and halo.status_name(ticket.id) == "In Progress"
