"""The HaloPSA provider against its fake, over real HTTP: the token, the budget, what goes on the wire and back."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import msgspec
import pytest
from flowpilot_halopsa import create_provider
from flowpilot_halopsa.auth import TokenCache
from flowpilot_halopsa.config import Config
from flowpilot_halopsa.provider import HaloPSAProvider
from flowpilot_halopsa.testing import RATE_LIMIT_MESSAGE, FakeAction, FakeHaloPSA

from flowpilot_core.psa import (
    PSAAuthFailed,
    PSAError,
    PSANotFound,
    PSAPermanent,
    PSAPermissionDenied,
    PSARateLimited,
    PSAStatus,
    PSATransient,
)
from flowpilot_core.psa.request_budget import SlidingWindow


class Clock:
    """The provider's clock and sleep: sleeping moves the clock, so waits are recorded, not spent."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waited: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waited.append(seconds)
        self.now += seconds


@pytest.fixture
def halo() -> Iterator[FakeHaloPSA]:
    with FakeHaloPSA(hang_seconds=1.0) as fake:
        yield fake


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make(
    fake: FakeHaloPSA, clock: Clock, *, limit: int = 300, window: float = 300.0, **changes: object
) -> HaloPSAProvider:
    config = msgspec.convert(fake.config(timeout=0.3, **changes), Config)
    return HaloPSAProvider(
        config, sleep=clock.sleep, budget=SlidingWindow(limit, window, clock=clock), tokens=TokenCache(clock=clock)
    )


@pytest.fixture
async def provider(halo: FakeHaloPSA, clock: Clock) -> AsyncIterator[HaloPSAProvider]:
    made = make(halo, clock)
    yield made
    await made.aclose()


def routes(fake: FakeHaloPSA) -> list[str | None]:
    return [r.route for r in fake.requests]


# -- the token ------------------------------------------------------------------------------------


async def test_one_token_from_the_client_credentials_and_tenant_is_sent_as_bearer_on_every_request(
    halo: FakeHaloPSA, provider: HaloPSAProvider
) -> None:
    ticket = halo.add_ticket("VPN drops")
    await provider.get_ticket(str(ticket.id))
    await provider.list_notes(str(ticket.id))
    token_request, *api = halo.requests
    assert (token_request.route, token_request.path, token_request.query) == (
        "token",
        "/auth/token",
        {"tenant": "acme"},
    )
    assert token_request.form == {
        "grant_type": "client_credentials", "client_id": halo.client_id, "client_secret": halo.client_secret,
        "scope": "all",
    }  # fmt: skip
    assert "authorization" not in token_request.headers
    (token,) = halo.secrets[2:]
    assert len(api) >= 3 and all(r.route != "token" for r in api)
    for request in api:
        assert request.path.startswith("/api/") and request.headers["authorization"] == f"Bearer {token}"


async def test_the_token_is_replaced_before_it_expires(clock: Clock) -> None:
    with FakeHaloPSA(token_lifetime=600) as halo:
        provider = make(halo, clock)
        ticket = halo.add_ticket()
        await provider.get_status(str(ticket.id))
        clock.now += 600 - 60 - 1  # a minute before expiry: still used
        await provider.get_status(str(ticket.id))
        assert routes(halo).count("token") == 1
        clock.now += 2  # inside the last minute: replaced before the request, not after a 401
        await provider.get_status(str(ticket.id))
        await provider.aclose()
    assert routes(halo).count("token") == 2 and halo.tokens_issued == 2
    assert all(r.status != 401 for r in halo.requests)


async def test_an_expired_token_is_refreshed_once_and_the_request_sent_again(
    halo: FakeHaloPSA, provider: HaloPSAProvider
) -> None:
    ticket = halo.add_ticket("Outlook crashes")
    await provider.get_ticket(str(ticket.id))
    halo.expire_tokens()  # the server expired it early (or the clocks disagree)
    before = len(halo.requests)
    assert (await provider.get_status(str(ticket.id))).name == "In Progress"
    assert [(r.route, r.status) for r in halo.requests[before:]] == [
        ("get_ticket", 401), ("token", 200), ("get_ticket", 200),
    ]  # fmt: skip

    halo.expire_tokens()  # an action's POST refused with 401 was never processed: sent again, stored once
    before = len(halo.requests)
    await provider.post_note(str(ticket.id), "Rebuilt the profile", kind="internal", internal=True)
    assert [(r.route, r.status) for r in halo.requests[before:] if r.route != "get_action"] == [
        ("get_ticket", 401), ("token", 200), ("get_ticket", 200), ("post_actions", 201),
    ]  # fmt: skip
    assert len(halo.tickets[ticket.id].actions) == 1


async def test_revoked_credentials_fail_after_one_new_token_is_refused_never_a_loop(
    halo: FakeHaloPSA, provider: HaloPSAProvider
) -> None:
    ticket = halo.add_ticket()
    await provider.get_ticket(str(ticket.id))
    halo.revoke()
    before = len(halo.requests)
    with pytest.raises(
        PSAAuthFailed, match="refused FlowPilot's client credentials \\(HTTP 401\\): invalid_client"
    ) as refused:
        await provider.get_ticket(str(ticket.id))
    assert refused.value.retryable is False
    assert [(r.route, r.status) for r in halo.requests[before:]] == [("get_ticket", 401), ("token", 401)]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"client_secret": "not-the-secret"}, "HTTP 401\\): invalid_client"),
        ({"tenant": "other"}, "HTTP 400\\): unknown tenant"),
        ({"auth_url": "http://127.0.0.1:9/nowhere"}, "could not be reached"),
    ],
)
async def test_a_bad_credential_or_tenant_is_named_without_the_secret(
    halo: FakeHaloPSA, clock: Clock, changes: dict[str, str], message: str
) -> None:
    provider = make(halo, clock, max_retries=0, **changes)
    with pytest.raises(PSAError, match=message) as failed:
        await provider.check_connection()
    await provider.aclose()
    for secret in halo.secrets:
        assert secret not in f"{failed.value} {failed.value!r} {failed.value.args!r}"
    assert all(r.route == "token" for r in halo.requests)


async def test_a_token_endpoint_in_trouble_is_retried_and_a_token_answer_without_a_token_refused(
    halo: FakeHaloPSA, provider: HaloPSAProvider, clock: Clock
) -> None:
    halo.fail("token", 503)
    await provider.check_connection()
    assert [(r.route, r.status) for r in halo.requests] == [("token", 503), ("token", 200), ("list_statuses", 200)]

    def no_token(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"token_type": "Bearer", "expires_in": 3600})

    broken = HaloPSAProvider(
        msgspec.convert(halo.config(), Config), transport=httpx.MockTransport(no_token), sleep=clock.sleep,
        budget=SlidingWindow(300, 300, clock=clock), tokens=TokenCache(clock=clock),
    )  # fmt: skip
    with pytest.raises(PSAPermanent, match="no usable token: the token answer has no access_token"):
        await broken.check_connection()
    await broken.aclose()


# -- tickets, notes, statuses ---------------------------------------------------------------------


async def test_the_ticket_maps_to_a_psa_ticket(halo: FakeHaloPSA, provider: HaloPSAProvider) -> None:
    ticket = halo.add_ticket("Outlook crashes", details="Crashes on start", user_name="Sam", team="2nd Line")
    got = await provider.get_ticket(str(ticket.id))
    assert (got.ref, got.summary, got.description, got.company, got.contact, got.board) == (
        str(ticket.id), "Outlook crashes", "Crashes on start", "Contoso", "Sam", "2nd Line",
    )  # fmt: skip
    assert got.status == PSAStatus("2", "In Progress")
    bare = await provider.get_ticket(f"#{halo.add_ticket('No details').id}")
    assert (bare.description, bare.contact) == (None, None)


@pytest.mark.parametrize(
    ("kind", "internal", "outcome"),
    [("resolution", True, "Resolution"), ("escalation", True, "Private Note"), ("internal", False, "Private Note")],
)
async def test_notes_are_actions_posted_as_an_array_hidden_unless_asked_and_never_emailed(
    halo: FakeHaloPSA, clock: Clock, kind: str, internal: bool, outcome: str
) -> None:
    provider = make(halo, clock, resolution_outcome="Resolution")
    ticket = halo.add_ticket()
    note = await provider.post_note(str(ticket.id), "Replaced the toner", kind=kind, internal=internal)  # type: ignore[arg-type]
    await provider.aclose()
    (stored,) = halo.tickets[ticket.id].actions
    assert (stored.outcome, stored.hidden, stored.sendemail, stored.note) == (
        outcome,
        internal,
        False,
        "Replaced the toner",
    )
    assert note.id == str(stored.id) and note.internal is internal
    (posted,) = [r for r in halo.requests if r.route == "post_actions"]
    assert posted.json == [{
        "ticket_id": ticket.id, "outcome": outcome, "note_html": "<p>Replaced the toner</p>",
        "hiddenfromuser": internal, "sendemail": False,
    }]  # fmt: skip
    (read_back,) = [r for r in halo.requests if r.route == "get_action"]  # every action is verified by reading it
    assert read_back.path == f"/api/Actions/{stored.id}" and read_back.query["ticket_id"] == str(ticket.id)


async def test_a_note_reads_back_as_the_text_that_was_posted(halo: FakeHaloPSA, provider: HaloPSAProvider) -> None:
    ticket = halo.add_ticket()
    text = "## Fix\nRan `sfc /scannow` & rebooted <twice>.\n\n- spooler restarted\n\n[FlowPilot resolution 1234]"
    note = await provider.post_note(str(ticket.id), text, kind="resolution", internal=True)
    (stored,) = halo.tickets[ticket.id].actions
    assert "&lt;twice&gt;" in stored.note_html and "<br>" in stored.note_html and stored.note == text
    assert note.text == text and [n.text for n in await provider.list_notes(str(ticket.id))] == [text]


async def test_actions_are_read_page_by_page(halo: FakeHaloPSA, provider: HaloPSAProvider) -> None:
    ticket = halo.add_ticket()
    halo.tickets[ticket.id].actions.extend(
        FakeAction(80000 + n, ticket.id, "Private Note", f"<p>note {n}</p>", f"note {n}", hidden=True)
        for n in range(205)
    )
    notes = await provider.list_notes(str(ticket.id))
    assert [n.text for n in notes] == [f"note {n}" for n in range(205)]
    pages = [r.query for r in halo.requests if r.route == "list_actions"][-3:]
    assert [(q["page_no"], q["pageinate"], q["excludesys"]) for q in pages] == [
        ("1", "true", "true"), ("2", "true", "true"), ("3", "true", "true"),
    ]  # fmt: skip


async def test_the_status_is_set_by_a_ticket_upsert_array_with_a_status_id(
    halo: FakeHaloPSA, provider: HaloPSAProvider
) -> None:
    ticket = halo.add_ticket()
    statuses = await provider.list_statuses(str(ticket.id))
    assert [s.name for s in statuses] == ["New", "In Progress", "Action Required", "With User",
                                          "Waiting on escalation", "Closed"]  # fmt: skip
    closed = next(s for s in statuses if s.closed)
    await provider.set_status(str(ticket.id), closed.id)
    (update,) = [r for r in halo.requests if r.route == "post_tickets"]
    assert update.json == [{"id": ticket.id, "status_id": 9}]
    assert halo.status_name(ticket.id) == "Closed"
    assert await provider.get_status(str(ticket.id)) == PSAStatus("9", "Closed", closed=True)


async def test_a_status_the_instance_does_not_list_is_refused_before_anything_is_sent(
    halo: FakeHaloPSA, provider: HaloPSAProvider
) -> None:
    ticket = halo.add_ticket()
    for status_id in ("77", "Closed", "9.0"):
        with pytest.raises(PSAPermanent, match=f"status '{status_id}' is not a HaloPSA ticket status"):
            await provider.set_status(str(ticket.id), status_id)
    assert "post_tickets" not in routes(halo) and halo.status_name(ticket.id) == "In Progress"


async def test_the_fake_refuses_what_halo_refuses(halo: FakeHaloPSA, provider: HaloPSAProvider) -> None:
    ticket = halo.add_ticket()
    await provider.check_connection()
    (token,) = halo.secrets[2:]
    async with httpx.AsyncClient(base_url=halo.api_url, headers={"Authorization": f"Bearer {token}"}) as raw:
        action = {"ticket_id": ticket.id, "outcome": "Private Note", "note": "hello", "hiddenfromuser": True}
        assert (await raw.post("/Actions", json=action)).status_code == 400  # an object, not an array
        unknown = await raw.post("/Actions", json=[{**action, "internal": True}])
        assert unknown.status_code == 400 and "'internal'" in unknown.json()["Message"]
        assert (await raw.post("/Actions", json=[{**action, "note": " "}])).status_code == 400
        assert (await raw.post("/Actions", json=[{**action, "outcome": "Made Up"}])).status_code == 400
        assert (await raw.post("/Tickets", json={"id": ticket.id, "status_id": 9})).status_code == 400
        assert (await raw.post("/Tickets", json=[{"id": ticket.id, "status_id": 77}])).status_code == 400
        assert (await raw.get("/Actions/70001")).status_code == 400  # ticket_id is required
        for bearer in ("Bearer not-a-token", f"Basic {token}", ""):
            assert (await raw.get(f"/Tickets/{ticket.id}", headers={"Authorization": bearer})).status_code == 401
    halo.expire_tokens()
    async with httpx.AsyncClient(base_url=halo.api_url) as raw:
        expired = await raw.get(f"/Tickets/{ticket.id}", headers={"Authorization": f"Bearer {token}"})
        assert expired.status_code == 401
    assert halo.tickets[ticket.id].actions == [] and halo.status_name(ticket.id) == "In Progress"


async def test_refs_that_are_not_ticket_numbers_are_not_found_without_a_request(
    halo: FakeHaloPSA, provider: HaloPSAProvider
) -> None:
    for ref in ("abc", "0", "-4", "12a", "١٢", "9" * 5000):
        with pytest.raises(PSANotFound, match="is not a HaloPSA ticket number"):
            await provider.get_ticket(ref)
    assert halo.requests == []


# -- faults ---------------------------------------------------------------------------------------


async def test_a_short_retry_after_is_waited_out_and_a_long_one_blocks_the_budget(
    halo: FakeHaloPSA, provider: HaloPSAProvider, clock: Clock
) -> None:
    ticket = halo.add_ticket("Slow")
    halo.rate_limit("get_ticket", 3)
    assert (await provider.get_ticket(str(ticket.id))).summary == "Slow"
    assert clock.waited == [3.0]
    halo.rate_limit("get_ticket", 45)
    with pytest.raises(PSARateLimited, match=RATE_LIMIT_MESSAGE) as limited:
        await provider.get_ticket(str(ticket.id))
    assert limited.value.retry_after == 45 and clock.waited == [3.0]
    sent = len(halo.requests)
    with pytest.raises(PSARateLimited, match="nothing was sent") as blocked:  # Halo said wait: nothing is sent
        await provider.get_status(str(ticket.id))
    assert blocked.value.retry_after == 45 and len(halo.requests) == sent
    clock.now += 45
    assert (await provider.get_status(str(ticket.id))).name == "In Progress"


async def test_a_429_without_retry_after_is_returned_with_a_minute(
    halo: FakeHaloPSA, provider: HaloPSAProvider
) -> None:
    ticket = halo.add_ticket()
    halo.rate_limit("get_ticket", "")
    with pytest.raises(PSARateLimited) as limited:
        await provider.get_ticket(str(ticket.id))
    assert limited.value.retry_after == 60 and routes(halo).count("get_ticket") == 1


async def test_the_budget_keeps_flowpilot_inside_halos_rolling_window() -> None:
    async def burst(fake: FakeHaloPSA, limit: int) -> list[int]:
        config = msgspec.convert(fake.config(max_retry_wait=5), Config)
        provider = HaloPSAProvider(config, budget=SlidingWindow(limit, 0.4))
        ticket = fake.add_ticket()
        try:
            for _ in range(10):
                with contextlib.suppress(PSARateLimited):  # the unbudgeted run meets Halo's 429s
                    await provider.get_status(str(ticket.id))
        finally:
            await provider.aclose()
        return [r.status for r in fake.requests if r.route != "token"]

    with FakeHaloPSA(requests_per_window=5, rate_window=0.4) as strict:
        started = time.monotonic()
        statuses = await burst(strict, limit=5)
        elapsed = time.monotonic() - started
    assert statuses == [200] * 11 and elapsed >= 0.8  # 12 requests with the token: three windows
    with FakeHaloPSA(requests_per_window=5, rate_window=0.4) as strict:
        assert 429 in await burst(strict, limit=100)  # without the budget, Halo's limit is hit


async def test_a_budget_wait_longer_than_max_retry_wait_is_returned_without_sending(
    halo: FakeHaloPSA, clock: Clock
) -> None:
    provider = make(halo, clock, limit=3, window=300)
    ticket = halo.add_ticket()
    await provider.get_status(str(ticket.id))  # token, ticket, statuses
    with pytest.raises(PSARateLimited, match="budget of 3 HaloPSA requests per 300 s is spent") as spent:
        await provider.get_status(str(ticket.id))
    await provider.aclose()
    assert spent.value.retry_after == 300 and len(halo.requests) == 3


async def test_an_action_post_is_never_repeated_blindly(halo: FakeHaloPSA, provider: HaloPSAProvider) -> None:
    ticket = halo.add_ticket()
    halo.fail("post_actions", 502)
    with pytest.raises(PSATransient, match="HTTP 502"):
        await provider.post_note(str(ticket.id), "Rebooted the switch", kind="internal", internal=True)
    assert routes(halo).count("post_actions") == 1 and halo.tickets[ticket.id].actions == []

    halo.timeout_after_write("post_actions")
    note = await provider.post_note(str(ticket.id), "Rebooted the switch", kind="internal", internal=True)
    assert routes(halo).count("post_actions") == 2
    assert [a.id for a in halo.tickets[ticket.id].actions] == [int(note.id)]  # found after the lost answer


async def test_a_status_upsert_whose_answer_was_lost_is_repeated(halo: FakeHaloPSA, provider: HaloPSAProvider) -> None:
    ticket = halo.add_ticket()
    halo.timeout_after_write("post_tickets")
    await provider.set_status(str(ticket.id), "9")
    assert routes(halo).count("post_tickets") == 2 and halo.status_name(ticket.id) == "Closed"


async def test_a_server_error_on_a_read_is_retried_then_transient(
    halo: FakeHaloPSA, provider: HaloPSAProvider, clock: Clock
) -> None:
    ticket = halo.add_ticket()
    halo.fail("get_ticket", 500, times=2)
    assert (await provider.get_status(str(ticket.id))).name == "In Progress"
    assert clock.waited == [0.5, 1.0]
    halo.fail("get_ticket", 503, times=3)
    with pytest.raises(PSATransient, match="HTTP 503") as failed:
        await provider.get_status(str(ticket.id))
    assert failed.value.retryable is True


async def test_a_workflow_rule_is_what_the_status_reads_back(halo: FakeHaloPSA, provider: HaloPSAProvider) -> None:
    ticket = halo.add_ticket()
    halo.workflow_sets(3)  # a rule moves updated tickets to Action Required
    await provider.set_status(str(ticket.id), "9")
    assert (await provider.get_status(str(ticket.id))).name == "Action Required"


async def test_a_deleted_ticket_gets_no_action_and_no_upsert(halo: FakeHaloPSA, provider: HaloPSAProvider) -> None:
    ticket = halo.add_ticket()
    await provider.get_ticket(str(ticket.id))
    halo.delete_ticket(ticket.id)
    for call in (
        provider.post_note(str(ticket.id), "Too late", kind="internal", internal=True),
        provider.set_status(str(ticket.id), "9"),
        provider.list_notes(str(ticket.id)),
    ):
        with pytest.raises(PSANotFound, match=f"ticket {ticket.id} does not exist in HaloPSA"):
            await call
    assert "post_actions" not in routes(halo) and "post_tickets" not in routes(halo)


# -- credentials and config -----------------------------------------------------------------------


async def test_credentials_never_appear_in_errors_logs_or_reprs(
    halo: FakeHaloPSA, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """Even when Halo's error text echoes them back."""
    caplog.set_level(logging.DEBUG)
    issued = "tok-ECHOED-123456"

    def echoing(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/token":
            if "second" in request.url.query.decode():  # Halo's text echoing what it was sent
                said = f"{halo.client_secret} for {halo.client_id}"
                return httpx.Response(401, json={"error": "invalid_client", "error_description": said})
            return httpx.Response(200, json={"access_token": issued, "token_type": "bearer", "expires_in": 3600})
        return httpx.Response(400, json={"Message": f"bad request with {request.headers['authorization']}"})

    errors: list[PSAError] = []
    for tenant in ("first", "second"):
        provider = HaloPSAProvider(
            msgspec.convert(halo.config(tenant=tenant), Config), transport=httpx.MockTransport(echoing),
            sleep=clock.sleep, budget=SlidingWindow(300, 300, clock=clock), tokens=TokenCache(clock=clock),
        )  # fmt: skip
        try:
            await provider.get_ticket("42")
        except PSAError as exc:
            errors.append(exc)
        assert halo.client_secret not in repr(provider) and halo.client_secret not in repr(provider.config)
        await provider.aclose()
    assert [type(e) for e in errors] == [PSAPermanent, PSAAuthFailed]
    assert "bad request with Bearer [redacted]" in errors[0].detail
    assert "[redacted] for [redacted]" in errors[1].detail
    for secret in (halo.client_secret, halo.client_id, issued):
        for error in errors:
            assert secret not in f"{error} {error!r} {error.args!r} {error.detail}"
        for record in caplog.records:
            assert secret not in record.getMessage()


def test_the_config_is_validated_and_its_repr_hides_the_secret(halo: FakeHaloPSA) -> None:
    provider = create_provider(halo.config())
    assert halo.client_secret not in repr(provider) and halo.client_secret not in str(provider.config)
    assert provider.config.token_url == f"{halo.url}/auth/token" and provider.config.api_url == f"{halo.url}/api"
    pasted = create_provider(
        halo.config(site="https://acme.halopsa.com/api/", auth_url="https://acme.halopsa.com/auth")
    )
    assert (pasted.config.api_url, pasted.config.token_url) == (
        "https://acme.halopsa.com/api", "https://acme.halopsa.com/auth/token",
    )  # fmt: skip
    trial = create_provider(halo.config(site="trial.halopsa.com", auth_url="https://auth.halopsa.com/trial/"))
    assert trial.config.token_url == "https://auth.halopsa.com/trial/token"
    bad = {
        "site": (halo.config(site="http://halo.example.com"), "https only"),
        "path": (halo.config(site="https://halo.example.com/portal"), "host"),
        "auth": (halo.config(auth_url="http://auth.example.com"), "https only"),
        "tenant": (halo.config(tenant="acme corp"), "tenant"),
        "unknown": (halo.config(password="x"), "password"),
        "missing": ({"site": "acme.halopsa.com", "client_id": "x"}, "client_secret"),
        "budget": (halo.config(requests_per_window=0), "requests_per_window"),
    }
    for config, named in bad.values():
        with pytest.raises(ValueError, match=named) as refused:
            create_provider(config)
        assert halo.client_secret not in str(refused.value)


def test_the_plugin_contributes_the_halopsa_provider(halo: FakeHaloPSA) -> None:
    from flowpilot_halopsa import register_psa_providers

    contributed: dict[str, object] = {}
    register_psa_providers(lambda name, factory: contributed.__setitem__(name, factory))
    assert list(contributed) == ["halopsa"]
    assert isinstance(contributed["halopsa"](halo.config()), HaloPSAProvider)  # type: ignore[operator]


def test_the_fake_refuses_a_request_without_a_token_before_it_reads_the_body(halo: FakeHaloPSA) -> None:
    ticket = halo.add_ticket()
    body = json.dumps([{"ticket_id": ticket.id, "outcome": "Private Note", "note": "x"}]).encode()
    status, headers, answer = halo.handle("POST", "/api/Actions", {"content-type": "application/json"}, body)
    assert (status, headers["WWW-Authenticate"]) == (401, 'Bearer error="invalid_token"')
    assert "denied" in answer["Message"] and halo.tickets[ticket.id].actions == []


async def test_providers_of_one_connection_share_its_token_and_a_new_secret_gets_its_own(halo: FakeHaloPSA) -> None:
    ticket = halo.add_ticket()
    for config in (halo.config(), halo.config(), halo.config(timeout=5)):  # one provider per writeback, as the engine
        provider = create_provider(config)
        await provider.get_status(str(ticket.id))
        await provider.aclose()
    assert routes(halo).count("token") == 1
    halo.client_secret = "rotated-SECRET-0001"
    rotated = create_provider(halo.config())
    await rotated.get_status(str(ticket.id))
    await rotated.aclose()
    assert routes(halo).count("token") == 2


async def test_a_401_on_a_fresh_token_too_is_an_authentication_failure_after_one_new_token(
    halo: FakeHaloPSA, provider: HaloPSAProvider
) -> None:
    ticket = halo.add_ticket()
    halo.fail("get_ticket", 401, times=5)  # e.g. the application lost its permission to read tickets
    with pytest.raises(PSAAuthFailed, match="a fresh one too \\(HTTP 401\\)"):
        await provider.get_status(str(ticket.id))
    assert routes(halo) == ["token", "get_ticket", "token", "get_ticket"]


async def test_halos_error_shapes_become_the_psa_error_tree(halo: FakeHaloPSA, clock: Clock) -> None:
    ticket = halo.add_ticket()
    provider = make(halo, clock, note_outcome="Made Up")
    with pytest.raises(PSAPermanent, match="HTTP 400\\): Outcome 'Made Up' does not exist"):
        await provider.post_note(str(ticket.id), "Hello", kind="internal", internal=True)
    assert halo.tickets[ticket.id].actions == []
    halo.fail("get_ticket", 403)
    with pytest.raises(PSAPermissionDenied, match="or its agent"):
        await provider.get_ticket(str(ticket.id))
    await provider.aclose()

    def shaped(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/token":
            return httpx.Response(200, json={"access_token": "tok-000111222", "expires_in": 3600})
        return httpx.Response(400, json={"resultCode": 7, "errorMessage": "Ticket is locked by another agent"})

    odd = HaloPSAProvider(
        msgspec.convert(halo.config(), Config), transport=httpx.MockTransport(shaped), sleep=clock.sleep,
        budget=SlidingWindow(300, 300, clock=clock), tokens=TokenCache(clock=clock),
    )  # fmt: skip
    with pytest.raises(PSAPermanent, match="HTTP 400\\): Ticket is locked by another agent"):
        await odd.set_status(str(ticket.id), "9")
    await odd.aclose()


class BlankActionAnswers(httpx.AsyncHTTPTransport):
    """Real HTTP to the fake, but the answer to an action's POST arrives empty (a proxy that ate it)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if request.method == "POST" and request.url.path == "/api/Actions":
            await response.aread()
            return httpx.Response(response.status_code, content=b"")
        return response


async def test_an_action_accepted_with_an_empty_answer_is_found_and_verified_not_posted_again(
    halo: FakeHaloPSA, clock: Clock
) -> None:
    ticket = halo.add_ticket()
    provider = HaloPSAProvider(
        msgspec.convert(halo.config(), Config), transport=BlankActionAnswers(), sleep=clock.sleep,
        budget=SlidingWindow(300, 300, clock=clock), tokens=TokenCache(clock=clock),
    )  # fmt: skip
    note = await provider.post_note(str(ticket.id), "Cleared the print queue", kind="resolution", internal=True)
    await provider.aclose()
    (stored,) = halo.tickets[ticket.id].actions
    assert note.id == str(stored.id) and routes(halo).count("post_actions") == 1 and "get_action" in routes(halo)
