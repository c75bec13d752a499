"""Confirm & post to an Autotask ticket through the API: the built-in plugin, its fake over HTTP, the
connection's config validated before it is stored; under each fault the ticket ends with exactly one
note and a verified status, or the technician is told exactly what failed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flowpilot_autotask.testing import FakeAutotask, FakeTicket

from tests.conftest import Tenant
from tests.psa import writeback_support
from tests.psa.writeback_support import Client, connect, post_fix

client = writeback_support.client
"""The server with the built-in plugins only (this module's, not the session-wide one)."""


@pytest.fixture
def at() -> Iterator[FakeAutotask]:
    with FakeAutotask(hang_seconds=1.0) as fake:
        yield fake


async def _connect(client: Client, tenant: Tenant, config: dict[str, Any]) -> Any:
    return await connect(client, tenant, "autotask", "Autotask", config, resolved="Complete", escalated="Escalate")


async def _session(client: Client, tenant: Tenant, ticket: FakeTicket) -> Any:
    body = {"problem_statement": "Printing is down", "ticket_ref": str(ticket.id), "psa_provider": "autotask"}
    return (await client.post("/api/v1/ai-sessions", json=body, headers=tenant.headers())).json()


async def _post(client: Client, tenant: Tenant, session: Any, kind: str, key: str = "confirm-at-0001") -> Any:
    return await post_fix(client, tenant, session, kind, key)


async def test_a_bad_autotask_config_is_a_422_naming_config_and_never_echoes_the_secret(
    client: Client, tenant: Tenant, at: FakeAutotask
) -> None:
    refused = await _connect(client, tenant, at.config(secret="two words"))
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["errors"][0]["field"] == "config" and "secret" in problem["detail"]
    assert "two words" not in refused.text
    plain_http = await _connect(client, tenant, at.config(zone_url="http://webservices5.autotask.net/atservicesrest/"))
    assert plain_http.status_code == 422 and "https only" in plain_http.json()["detail"]
    assert at.requests == []  # validating a config sends nothing


async def test_a_resolution_reaches_the_autotask_ticket_once_internal_and_its_complete_status_is_verified(
    client: Client, tenant: Tenant, at: FakeAutotask
) -> None:
    made = await _connect(client, tenant, at.config(timeout=0.3))
    assert made.status_code == 201, made.text
    assert at.secret not in made.text and at.integration_code not in made.text
    ticket = at.add_ticket("Printer offline")
    at.timeout_after_write("post_note")  # the answer to the note's POST is lost; the note arrives
    response = await _post(client, tenant, await _session(client, tenant, ticket), "resolution-note")
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["state"], result["status_before"], result["status_after"]) == ("done", "In Progress", "Complete")
    (note,) = at.tickets[ticket.id].notes
    assert (note.publish, note.title) == (1, "FlowPilot: resolution")  # 1 is this tenant's "Internal Only"
    assert f"[FlowPilot resolution {result['id']}]" in note.description
    assert result["external_note_id"] == str(note.id) and at.status_name(ticket.id) == "Complete"


def _rate_limited(at: FakeAutotask, ticket: FakeTicket) -> None:
    at.rate_limit("post_note", 1)  # a short Retry-After is waited out inside the call


def _lost_patch_answer(at: FakeAutotask, ticket: FakeTicket) -> None:
    at.timeout_after_write("patch_ticket")  # applied, answer lost: the PATCH is repeated


def _slow_reads(at: FakeAutotask, ticket: FakeTicket) -> None:
    at.fail("get_ticket", 503, times=2)  # reads are retried


@pytest.mark.parametrize("fault", [_rate_limited, _lost_patch_answer, _slow_reads])
async def test_a_resolution_rides_out_faults_it_can_and_ends_with_one_note_and_a_verified_status(
    client: Client, tenant: Tenant, at: FakeAutotask, fault: Callable[[FakeAutotask, FakeTicket], None]
) -> None:
    assert (await _connect(client, tenant, at.config(timeout=0.3))).status_code == 201
    ticket = at.add_ticket("VPN drops")
    fault(at, ticket)
    response = await _post(client, tenant, await _session(client, tenant, ticket), "resolution-note")
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "done"
    assert len(at.tickets[ticket.id].notes) == 1 and at.status_name(ticket.id) == "Complete"


async def test_an_outage_on_the_notes_post_is_reported_and_the_retry_posts_exactly_one(
    client: Client, tenant: Tenant, at: FakeAutotask
) -> None:
    assert (await _connect(client, tenant, at.config(timeout=0.3))).status_code == 201
    ticket = at.add_ticket("Laptop will not boot")
    session = await _session(client, tenant, ticket)
    at.fail("post_note", 503)
    failed = await _post(client, tenant, session, "resolution-note")
    assert failed.status_code == 503, failed.text
    assert failed.json()["retryable"] is True and "HTTP 503" in failed.json()["detail"]
    assert at.tickets[ticket.id].notes == [] and at.status_name(ticket.id) == "In Progress"
    retried = await _post(client, tenant, session, "resolution-note")  # the same key
    assert retried.status_code == 200 and retried.json()["state"] == "done"
    assert len(at.tickets[ticket.id].notes) == 1


async def test_a_lost_answer_the_provider_cannot_confirm_is_found_by_its_marker_on_the_retry(
    client: Client, tenant: Tenant, at: FakeAutotask
) -> None:
    assert (await _connect(client, tenant, at.config(timeout=0.3))).status_code == 201
    ticket = at.add_ticket("Shared drive missing")
    session = await _session(client, tenant, ticket)
    at.timeout_after_write("post_note")  # the note is stored, its answer lost ...
    at.fail("query_notes", 503, times=3, skip=1)  # ... and the provider's look for it fails too
    lost = await _post(client, tenant, session, "resolution-note")
    assert lost.status_code == 503, lost.text
    assert "may have been applied" in lost.json()["detail"] and lost.json()["retryable"] is True
    assert len(at.tickets[ticket.id].notes) == 1 and at.status_name(ticket.id) == "In Progress"
    retried = await _post(client, tenant, session, "resolution-note")  # the same key: the marker is found
    assert retried.status_code == 200 and retried.json()["state"] == "done"
    (note,) = at.tickets[ticket.id].notes
    assert retried.json()["external_note_id"] == str(note.id) and routes_count(at, "post_note") == 1
    assert at.status_name(ticket.id) == "Complete"


def routes_count(at: FakeAutotask, route: str) -> int:
    return [r.route for r in at.requests].count(route)


async def test_a_workflow_rule_is_caught_and_the_retry_fixes_only_the_status(
    client: Client, tenant: Tenant, at: FakeAutotask
) -> None:
    assert (await _connect(client, tenant, at.config(timeout=0.3))).status_code == 201
    ticket = at.add_ticket("Mailbox full")
    session = await _session(client, tenant, ticket)
    at.workflow_sets(8)  # a workflow rule puts escalated tickets back to In Progress
    unverified = await _post(client, tenant, session, "escalation-package")
    assert unverified.status_code == 502, unverified.text
    assert "still shows 'In Progress'" in unverified.json()["detail"]
    assert unverified.json()["writeback"]["state"] == "status_unverified"
    at.workflow_sets(None)
    retried = await _post(client, tenant, session, "escalation-package")
    assert retried.status_code == 200 and retried.json()["state"] == "done"
    assert len(at.tickets[ticket.id].notes) == 1 and at.status_name(ticket.id) == "Escalate"


async def test_what_cannot_be_ridden_out_is_reported_exactly_and_posts_nothing(
    client: Client, tenant: Tenant, at: FakeAutotask
) -> None:
    assert (await _connect(client, tenant, at.config(timeout=0.3))).status_code == 201

    denied_ticket = at.add_ticket("Denied")
    at.deny("post_note")
    denied = await _post(client, tenant, await _session(client, tenant, denied_ticket), "resolution-note")
    assert denied.status_code == 502 and denied.json()["retryable"] is False
    assert "for lack of permission (HTTP 500" in denied.json()["detail"]

    deleted_ticket = at.add_ticket("Deleted")
    session = await _session(client, tenant, deleted_ticket)
    at.delete_ticket(deleted_ticket.id)
    gone = await _post(client, tenant, session, "resolution-note", key="confirm-at-0002")
    assert gone.status_code == 502 and f"ticket {deleted_ticket.id} does not exist in Autotask" in gone.json()["detail"]

    revoked_ticket = at.add_ticket("Revoked")
    at.revoke()
    refused = await _post(client, tenant, await _session(client, tenant, revoked_ticket), "resolution-note",
                          key="confirm-at-0003")  # fmt: skip
    assert refused.status_code == 502 and refused.json()["retryable"] is False
    assert "HTTP 401" in refused.json()["detail"]
    for secret in at.secrets:
        assert secret not in denied.text + gone.text + refused.text
    assert denied_ticket.notes == [] and revoked_ticket.notes == []
    assert [at.status_name(t.id) for t in (denied_ticket, revoked_ticket)] == ["In Progress", "In Progress"]
