"""The Autotask provider against its fake, over real HTTP: what goes on the wire and what comes back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import msgspec
import pytest
from flowpilot_autotask import create_provider
from flowpilot_autotask.config import Config
from flowpilot_autotask.provider import AutotaskProvider
from flowpilot_autotask.testing import FakeAutotask, PicklistValue

from flowpilot_core.psa import (
    PSAAuthFailed,
    PSANotFound,
    PSAPermanent,
    PSAPermissionDenied,
    PSARateLimited,
    PSAStatus,
    PSATransient,
)


@pytest.fixture
def at() -> Iterator[FakeAutotask]:
    with FakeAutotask(hang_seconds=1.0) as fake:
        yield fake


class Sleeps:
    def __init__(self) -> None:
        self.waited: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waited.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make(fake: FakeAutotask, sleeps: Sleeps | None = None, **changes: Any) -> AutotaskProvider:
    config = msgspec.convert(fake.config(**{"timeout": 0.3, **changes}), Config)
    return AutotaskProvider(config, sleep=sleeps or Sleeps())


@pytest.fixture
async def provider(at: FakeAutotask, sleeps: Sleeps) -> AsyncIterator[AutotaskProvider]:
    made = make(at, sleeps)
    yield made
    await made.aclose()


def routes(fake: FakeAutotask) -> list[str | None]:
    return [r.route for r in fake.requests]


# -- the zone and authentication ----------------------------------------------------------------


async def test_the_zone_is_looked_up_once_without_credentials_and_every_api_request_carries_all_three(
    at: FakeAutotask, provider: AutotaskProvider
) -> None:
    ticket = at.add_ticket("VPN drops")
    await provider.get_ticket(str(ticket.id))
    await provider.list_notes(str(ticket.id))
    lookup, *api = at.requests
    assert (lookup.route, lookup.path, lookup.query) == (
        "zone", "/atservicesrest/v1.0/zoneInformation", {"user": at.username},
    )  # fmt: skip
    assert not {"apiintegrationcode", "username", "secret"} & set(lookup.headers)
    assert len(api) >= 4 and "zone" not in [r.route for r in api]
    for request in api:
        assert request.path.startswith("/zone5/atservicesrest/v1.0/")
        assert (request.headers["apiintegrationcode"], request.headers["username"], request.headers["secret"]) == (
            at.integration_code, at.username, at.secret,
        )  # fmt: skip


async def test_a_configured_zone_skips_the_lookup(at: FakeAutotask) -> None:
    provider = make(at, zone_url=at.zone_url)
    try:
        await provider.check_connection()
    finally:
        await provider.aclose()
    assert routes(at) == ["threshold", "ticket_fields"]


async def test_a_user_the_zone_lookup_does_not_know_is_an_authentication_failure(at: FakeAutotask) -> None:
    provider = make(at, username="nobody@acme.example")
    try:
        with pytest.raises(PSAAuthFailed, match="does not know the API user name") as failed:
            await provider.check_connection()
    finally:
        await provider.aclose()
    assert "nobody@acme.example" not in str(failed.value)
    assert routes(at) == ["zone"]


async def test_a_zone_outside_autotask_net_gets_no_credentials() -> None:
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url.host))
        return httpx.Response(200, json={"url": "https://webservices5.evil.example/atservicesrest/"})

    config = msgspec.convert({"username": "u@acme.example", "secret": "s3cr3t!!", "integration_code": "CODE1234"},
                             Config)  # fmt: skip
    provider = AutotaskProvider(config, transport=httpx.MockTransport(answer))
    with pytest.raises(PSAPermanent, match=r"outside autotask\.net"):
        await provider.get_ticket("7001")
    await provider.aclose()
    assert sent == ["webservices.autotask.net"]


async def test_a_database_that_moved_zones_is_found_again_after_a_401(
    at: FakeAutotask, provider: AutotaskProvider
) -> None:
    ticket = at.add_ticket("Moved")
    await provider.get_status(str(ticket.id))
    at.move_zone()
    assert (await provider.get_status(str(ticket.id))).name == "In Progress"
    assert routes(at).count("zone") == 2
    assert at.requests[-1].path.startswith("/zone14/atservicesrest/v1.0/Tickets/")


async def test_revoked_credentials_fail_without_a_credential_in_the_error(
    at: FakeAutotask, provider: AutotaskProvider
) -> None:
    ticket = at.add_ticket()
    await provider.get_ticket(str(ticket.id))
    at.revoke()
    with pytest.raises(PSAAuthFailed, match="HTTP 401") as failed:
        await provider.get_ticket(str(ticket.id))
    assert failed.value.retryable is False
    for secret in at.secrets:
        assert secret not in f"{failed.value!s} {failed.value!r} {failed.value.detail}"


async def test_no_credential_reaches_a_log_line_not_even_the_zone_lookups_url(
    at: FakeAutotask, provider: AutotaskProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ticket = at.add_ticket()
    await provider.get_ticket(str(ticket.id))
    at.fail("get_ticket", 503)
    await provider.get_ticket(str(ticket.id))  # retried: logged
    assert any(r.name == "httpx" for r in caplog.records)  # httpx logs every request it sends
    assert any(r.name == "flowpilot_autotask" for r in caplog.records)
    for record in caplog.records:
        for secret in at.secrets:
            assert secret not in record.getMessage(), record.name


def test_the_config_is_validated_and_its_repr_hides_the_credentials(at: FakeAutotask) -> None:
    provider = create_provider(at.config())
    for secret in at.secrets:
        assert (
            secret not in repr(provider) and secret not in repr(provider.config) and secret not in str(provider.config)
        )
    bad = {
        "missing": ({"username": "u@x.example", "secret": "s"}, "integration_code"),
        "unknown": (at.config(password="x"), "password"),
        "plain http": (at.config(zone_url="http://webservices5.autotask.net/atservicesrest/"), "https only"),
        "query": (at.config(zone_lookup="https://webservices.autotask.net/atservicesrest?x=1"), "zone_lookup"),
        "budget": (at.config(hourly_budget=20_000), "hourly_budget"),
        "space": (at.config(secret="has space"), "secret"),
    }
    for config, named in bad.values():
        with pytest.raises(ValueError, match=named) as refused:
            create_provider(config)
        assert at.secret not in str(refused.value)


# -- tickets ------------------------------------------------------------------------------------


async def test_the_ticket_maps_to_a_psa_ticket_by_id_or_by_its_number(
    at: FakeAutotask, provider: AutotaskProvider
) -> None:
    ticket = at.add_ticket("Outlook crashes", description="Crashes on start", contact="Sam Reyes",
                           company="Fabrikam", queue="Monitoring Alerts")  # fmt: skip
    expected = (str(ticket.id), "Outlook crashes", "Crashes on start", "Fabrikam", "Sam Reyes", "Monitoring Alerts")
    for ref in (str(ticket.id), ticket.number, ticket.number.lower()):
        got = await provider.get_ticket(ref)
        assert (got.ref, got.summary, got.description, got.company, got.contact, got.board) == expected
        assert got.status == PSAStatus("8", "In Progress")
    assert routes(at).count("query_tickets") == 1  # the number is looked up once per provider
    at.deny("get_company")  # an API user without access to companies still reads its tickets
    assert (await provider.get_ticket(str(ticket.id))).company is None
    bare = at.add_ticket("No description", queue=None)
    got = await provider.get_ticket(str(bare.id))
    assert (got.description, got.contact, got.board) == (None, None, None)


async def test_a_missing_ticket_is_not_found_saying_it_may_be_hidden(
    at: FakeAutotask, provider: AutotaskProvider
) -> None:
    with pytest.raises(PSANotFound, match="ticket 424242 does not exist in Autotask, or FlowPilot's API user"):
        await provider.get_ticket("424242")
    with pytest.raises(PSANotFound, match=r"T20261201\.9999 does not exist"):
        await provider.get_ticket("T20261201.9999")


async def test_refs_that_are_neither_ids_nor_numbers_are_not_found_without_a_request(
    at: FakeAutotask, provider: AutotaskProvider
) -> None:
    for ref in ("abc", "0", "-4", "12a", "١٢", "9" * 5000, "T2026.1"):
        with pytest.raises(PSANotFound, match="is not an Autotask ticket id or ticket number"):
            await provider.get_ticket(ref)
    assert at.requests == []


# -- picklists ----------------------------------------------------------------------------------


async def test_the_zone_and_the_picklists_are_read_once_per_database_and_kept(at: FakeAutotask) -> None:
    ticket = at.add_ticket()
    for _ in range(3):  # one provider per writeback, as the engine makes them
        provider = make(at)
        await provider.list_statuses(str(ticket.id))
        await provider.get_status(str(ticket.id))
        await provider.list_notes(str(ticket.id))
        await provider.aclose()
    assert (routes(at).count("zone"), routes(at).count("ticket_fields"), routes(at).count("note_fields")) == (1, 1, 1)


async def test_a_status_added_in_autotask_after_the_picklist_was_read_is_found(
    at: FakeAutotask, provider: AutotaskProvider
) -> None:
    ticket = at.add_ticket()
    await provider.list_statuses(str(ticket.id))
    at.statuses.append(PicklistValue(19, "Waiting Parts"))
    await provider.set_status(str(ticket.id), "19")
    assert (await provider.get_status(str(ticket.id))).name == "Waiting Parts"
    assert routes(at).count("ticket_fields") == 2


# -- notes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "internal", "publish", "note_type"),
    [("resolution", True, 4, 1), ("escalation", True, 4, 1), ("internal", True, 4, 1), ("internal", False, 2, 1)],
)
async def test_notes_are_posted_under_the_ticket_internal_by_the_tenants_own_publish_value_and_read_back(
    at: FakeAutotask, provider: AutotaskProvider, kind: str, internal: bool, publish: int, note_type: int
) -> None:
    at.publish = [PicklistValue(2, "All Autotask Users"), PicklistValue(3, "Everyone"),
                  PicklistValue(4, "Internal Only")]  # fmt: skip  # not the commonly quoted 1: it is looked up
    ticket = at.add_ticket()
    note = await provider.post_note(str(ticket.id), "Replaced the toner", kind=kind, internal=internal)  # type: ignore[arg-type]
    (stored,) = at.tickets[ticket.id].notes
    assert (stored.publish, stored.note_type) == (publish, note_type)
    assert note.id == str(stored.id) and note.internal is internal and note.text == "Replaced the toner"
    posted, read_back = [r for r in at.requests if r.route in ("post_note", "get_note")]
    assert posted.path == f"/zone5/atservicesrest/v1.0/Tickets/{ticket.id}/Notes"
    assert posted.json == {"ticketID": ticket.id, "title": f"FlowPilot: {'note' if kind == 'internal' else kind}",
                           "description": "Replaced the toner", "noteType": note_type, "publish": publish}  # fmt: skip
    assert read_back.path.endswith(f"/TicketNotes/{stored.id}")  # every note is verified by reading it back
    assert [n.internal for n in await provider.list_notes(str(ticket.id))] == [internal]


async def test_a_resolution_can_use_the_tenants_resolution_note_type(at: FakeAutotask) -> None:
    provider = make(at, resolution_note_type="resolution", note_type="Task Summary")
    ticket = at.add_ticket()
    await provider.post_note(str(ticket.id), "Fixed", kind="resolution", internal=True)
    await provider.post_note(str(ticket.id), "Escalated", kind="escalation", internal=True)
    await provider.aclose()
    assert [(n.note_type, n.publish) for n in at.tickets[ticket.id].notes] == [(3, 1), (2, 1)]


async def test_a_tenant_without_an_internal_only_value_gets_no_note_and_is_told_what_to_set(
    at: FakeAutotask, provider: AutotaskProvider
) -> None:
    at.publish = [PicklistValue(1, "Technicians"), PicklistValue(2, "Everyone")]
    ticket = at.add_ticket()
    with pytest.raises(PSAPermanent, match=r"no active internal_publish value 'Internal Only' \(its values: 1 "
                                           r"Technicians, 2 Everyone\); set internal_publish"):  # fmt: skip
        await provider.post_note(str(ticket.id), "Hello", kind="internal", internal=True)
    assert "post_note" not in routes(at) and at.tickets[ticket.id].notes == []


async def test_notes_that_autotask_cannot_hold_are_refused_before_anything_is_sent(
    at: FakeAutotask, provider: AutotaskProvider
) -> None:
    ticket = at.add_ticket()
    with pytest.raises(PSAPermanent, match="at most 32000 characters and this one has 32001"):
        await provider.post_note(str(ticket.id), "x" * 32_001, kind="resolution", internal=True)
    with pytest.raises(PSAPermanent, match="empty note"):
        await provider.post_note(str(ticket.id), " \n", kind="resolution", internal=True)
    assert "post_note" not in routes(at)


async def test_a_ticket_whose_category_requires_note_titles_takes_flowpilots_notes(
    at: FakeAutotask, provider: AutotaskProvider
) -> None:
    ticket = at.add_ticket(require_note_titles=True)
    await provider.post_note(str(ticket.id), "Done", kind="resolution", internal=True)
    assert at.tickets[ticket.id].notes[0].title == "FlowPilot: resolution"


async def test_notes_are_read_page_by_page_following_next_page_url(
    at: FakeAutotask, provider: AutotaskProvider
) -> None:
    at.page_size = 2
    ticket = at.add_ticket()
    at.add_note(ticket.id, "first")
    for n in range(4):
        await provider.post_note(str(ticket.id), f"note {n}", kind="internal", internal=True)
    notes = await provider.list_notes(str(ticket.id))
    assert [n.text for n in notes] == ["first", "note 0", "note 1", "note 2", "note 3"]
    pages = [r for r in at.requests if r.route == "query_notes"][-3:]
    assert [r.path.rsplit("/", 1)[-1] for r in pages] == ["query", "next", "next"]
    assert all(r.json == pages[0].json for r in pages)  # the next page takes the same body


async def test_a_note_post_is_never_repeated_blindly(at: FakeAutotask, provider: AutotaskProvider) -> None:
    ticket = at.add_ticket()
    at.fail("post_note", 503)
    with pytest.raises(PSATransient, match="HTTP 503"):
        await provider.post_note(str(ticket.id), "Rebooted the switch", kind="internal", internal=True)
    assert routes(at).count("post_note") == 1  # re-read instead of re-posted
    assert at.tickets[ticket.id].notes == []

    at.timeout_after_write("post_note")
    note = await provider.post_note(str(ticket.id), "Rebooted the switch", kind="internal", internal=True)
    assert routes(at).count("post_note") == 2
    assert [n.id for n in at.tickets[ticket.id].notes] == [int(note.id)]  # found after the lost answer


async def test_a_note_on_a_deleted_ticket_is_not_found_not_a_permission_error(
    at: FakeAutotask, provider: AutotaskProvider
) -> None:
    ticket = at.add_ticket()
    await provider.list_notes(str(ticket.id))
    at.delete_ticket(ticket.id)
    with pytest.raises(PSANotFound, match=f"ticket {ticket.id} does not exist"):
        await provider.post_note(str(ticket.id), "Hello", kind="internal", internal=True)
    with pytest.raises(PSANotFound):
        await provider.list_notes(str(ticket.id))


# -- statuses -----------------------------------------------------------------------------------


async def test_the_status_is_set_by_patch_tickets_with_its_id_and_the_picklist_value(
    at: FakeAutotask, provider: AutotaskProvider
) -> None:
    ticket = at.add_ticket()
    statuses = await provider.list_statuses(str(ticket.id))
    assert [(s.id, s.name, s.closed) for s in statuses] == [
        ("1", "New", False), ("8", "In Progress", False), ("7", "Waiting Customer", False),
        ("11", "Escalate", False), ("5", "Complete", True),
    ]  # fmt: skip  # the inactive "Retired" is left out
    await provider.set_status(str(ticket.id), "5")
    (patch,) = [r for r in at.requests if r.route == "patch_ticket"]
    assert (patch.method, patch.path, patch.json) == (
        "PATCH", "/zone5/atservicesrest/v1.0/Tickets", {"id": ticket.id, "status": 5},
    )  # fmt: skip
    assert at.status_name(ticket.id) == "Complete"
    assert await provider.get_status(str(ticket.id)) == PSAStatus("5", "Complete", closed=True)


async def test_an_inactive_or_unknown_status_is_refused_before_anything_is_sent(
    at: FakeAutotask, provider: AutotaskProvider
) -> None:
    ticket = at.add_ticket()
    for status_id in ("17", "99", "Complete"):
        with pytest.raises(PSAPermanent, match=f"status '{status_id}' is not an active Autotask ticket status"):
            await provider.set_status(str(ticket.id), status_id)
    assert "patch_ticket" not in routes(at) and at.status_name(ticket.id) == "In Progress"


async def test_a_workflow_rule_after_the_patch_is_what_the_status_reads(
    at: FakeAutotask, provider: AutotaskProvider
) -> None:
    ticket = at.add_ticket()
    at.workflow_sets(7)
    await provider.set_status(str(ticket.id), "5")
    assert (await provider.get_status(str(ticket.id))).name == "Waiting Customer"


async def test_a_status_patch_whose_answer_was_lost_is_repeated(at: FakeAutotask, provider: AutotaskProvider) -> None:
    ticket = at.add_ticket()
    at.timeout_after_write("patch_ticket")
    await provider.set_status(str(ticket.id), "5")
    assert routes(at).count("patch_ticket") == 2
    assert at.status_name(ticket.id) == "Complete"


# -- errors, retries and limits -----------------------------------------------------------------


async def test_a_500_is_never_retried_and_says_it_may_be_a_permission_error(
    at: FakeAutotask, provider: AutotaskProvider
) -> None:
    ticket = at.add_ticket()
    at.deny("post_note")
    with pytest.raises(PSAPermissionDenied, match="for lack of permission") as denied:
        await provider.post_note(str(ticket.id), "Hello", kind="internal", internal=True)
    assert denied.value.retryable is False and "adequate permissions" in denied.value.detail
    assert routes(at).count("post_note") == 1

    at.fail("patch_ticket", 500, message="Value required for field issueType.")
    with pytest.raises(PSAPermanent, match="HTTP 500: Value required for field issueType") as refused:
        await provider.set_status(str(ticket.id), "5")
    assert "answers permission errors and refused values alike with 500" in refused.value.detail
    assert refused.value.retryable is False and not isinstance(refused.value, PSAPermissionDenied)
    assert routes(at).count("patch_ticket") == 1 and at.status_name(ticket.id) == "In Progress"


async def test_an_outage_on_a_read_is_retried_with_backoff(
    at: FakeAutotask, provider: AutotaskProvider, sleeps: Sleeps
) -> None:
    ticket = at.add_ticket("Flaky")
    at.fail("get_ticket", 503, times=2)
    assert (await provider.get_ticket(str(ticket.id))).summary == "Flaky"
    assert sleeps.waited == [0.5, 1.0]
    at.fail("get_ticket", 502, times=3)
    with pytest.raises(PSATransient, match="HTTP 502") as failed:
        await provider.get_ticket(str(ticket.id))
    assert failed.value.retryable is True


async def test_a_short_retry_after_is_waited_out_and_a_long_one_is_returned(
    at: FakeAutotask, provider: AutotaskProvider, sleeps: Sleeps
) -> None:
    ticket = at.add_ticket("Slow")
    await provider.get_ticket(str(ticket.id))
    at.rate_limit("get_ticket", 3)
    assert (await provider.get_ticket(str(ticket.id))).summary == "Slow"
    assert sleeps.waited == [3.0]
    at.rate_limit("post_note", 45)
    with pytest.raises(PSARateLimited) as limited:
        await provider.post_note(str(ticket.id), "Later", kind="internal", internal=True)
    assert limited.value.retry_after == 45 and sleeps.waited == [3.0] and at.tickets[ticket.id].notes == []


async def test_at_most_three_requests_per_endpoint_are_in_flight(at: FakeAutotask) -> None:
    at.latency = 0.05
    tickets = [at.add_ticket(f"T{n}") for n in range(10)]
    async with httpx.AsyncClient(headers=at.headers) as raw:  # the fake refuses a fourth concurrent request
        answers = await asyncio.gather(*(raw.get(f"{at.api_url}/Tickets/{t.id}") for t in tickets[:6]))
    assert 429 in {a.status_code for a in answers}
    at.max_in_flight.clear()

    providers = [make(at, timeout=5), make(at, timeout=5)]  # two writebacks at once share the database's limit
    await providers[0].get_status(str(tickets[0].id))  # the zone, the picklists
    got = await asyncio.gather(*(providers[n % 2].get_status(str(t.id)) for n, t in enumerate(tickets)))
    for provider in providers:
        await provider.aclose()
    assert [s.name for s in got] == ["In Progress"] * 10
    assert at.max_in_flight["Tickets"] == 3


async def test_the_hourly_budget_refuses_before_sending(at: FakeAutotask) -> None:
    ticket = at.add_ticket()
    provider = make(at, hourly_budget=6)
    for _ in range(4):
        await provider.get_status(str(ticket.id))  # threshold, fields, then one GET per read: 6
    sent = len(at.requests)
    with pytest.raises(PSARateLimited, match="its 6 Autotask requests for this hour") as limited:
        await provider.get_status(str(ticket.id))
    await provider.aclose()
    assert len(at.requests) == sent and limited.value.retry_after is not None and limited.value.retry_after > 3000


async def test_a_database_near_its_hourly_limit_pauses_flowpilot_for_every_integrations_sake(
    at: FakeAutotask, provider: AutotaskProvider
) -> None:
    at.usage_base = 8_500  # other integrations used 85% of the database's 10,000 requests this hour
    ticket = at.add_ticket()
    with pytest.raises(PSARateLimited, match=r"has used 85\d\d of its 10000 requests this hour") as paused:
        await provider.post_note(str(ticket.id), "Hello", kind="internal", internal=True)
    assert paused.value.retryable and paused.value.retry_after == 300
    assert routes(at) == ["zone", "threshold"] and at.tickets[ticket.id].notes == []


async def test_the_fake_refuses_what_autotask_refuses(at: FakeAutotask) -> None:
    ticket = at.add_ticket(require_note_titles=True)
    note = {"ticketID": ticket.id, "title": "t", "description": "hello", "noteType": 1, "publish": 1}
    async with httpx.AsyncClient(base_url=at.api_url, headers=at.headers) as raw:
        no_code = await raw.get(f"/Tickets/{ticket.id}", headers={"ApiIntegrationCode": ""})
        assert no_code.status_code == 401 and "ApiIntegrationCode" in no_code.text
        wrong_secret = await raw.get(f"/Tickets/{ticket.id}", headers={"Secret": "nope"})
        assert wrong_secret.status_code == 401
        top_level = await raw.post("/TicketNotes", json=note)
        assert top_level.status_code == 404  # notes are created under their ticket
        wrapped = await raw.post(f"/Tickets/{ticket.id}/Notes", json={"item": note})
        assert wrapped.status_code == 500 and "not wrapped in 'item'" in wrapped.text
        no_publish = await raw.post(f"/Tickets/{ticket.id}/Notes", json={**note, "publish": None})
        assert no_publish.status_code == 500 and "publish" in no_publish.json()["errors"][0]
        untitled = await raw.post(f"/Tickets/{ticket.id}/Notes", json={**note, "title": None})
        assert untitled.status_code == 500 and "requires a title" in untitled.text
        too_long = await raw.post(f"/Tickets/{ticket.id}/Notes", json={**note, "description": "x" * 32_001})
        assert too_long.status_code == 500
        no_id = await raw.patch("/Tickets", json={"status": 5})
        assert no_id.status_code == 500
        inactive = await raw.patch("/Tickets", json={"id": ticket.id, "status": 17})
        assert inactive.status_code == 500 and "not a valid picklist value" in inactive.text
        missing = await raw.get("/Tickets/999999")
        assert (missing.status_code, missing.json()) == (200, {"item": None})
    assert at.tickets[ticket.id].notes == [] and at.status_name(ticket.id) == "In Progress"


async def test_an_unreadable_threshold_leaves_only_the_hourly_budget(
    at: FakeAutotask, provider: AutotaskProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="flowpilot_autotask")
    at.usage_base = 9_999  # would pause FlowPilot, if the reading arrived
    at.deny("threshold")
    ticket = at.add_ticket("Still readable")
    assert (await provider.get_ticket(str(ticket.id))).summary == "Still readable"
    assert "ThresholdInformation answered HTTP 500; only the hourly budget applies" in caplog.text
