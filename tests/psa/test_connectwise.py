"""The ConnectWise provider against its fake, over real HTTP: what goes on the wire and what comes back."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator

import httpx
import msgspec
import pytest
from flowpilot_connectwise import create_provider
from flowpilot_connectwise.config import Config, base_url
from flowpilot_connectwise.provider import ConnectWiseProvider, closing_status
from flowpilot_connectwise.testing import NO_FLAG_MESSAGE, FakeConnectWise

from flowpilot_core.psa import PSAAuthFailed, PSANotFound, PSAPermanent, PSARateLimited, PSAStatus, PSATransient


@pytest.fixture
def cw() -> Iterator[FakeConnectWise]:
    with FakeConnectWise(hang_seconds=1.0) as fake:
        yield fake


class Sleeps:
    def __init__(self) -> None:
        self.waited: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waited.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def provider(cw: FakeConnectWise, sleeps: Sleeps) -> AsyncIterator[ConnectWiseProvider]:
    config = msgspec.convert(cw.config(timeout=0.3), Config)
    made = ConnectWiseProvider(config, sleep=sleeps)
    yield made
    await made.aclose()


async def test_every_api_request_is_authenticated_and_pinned_and_the_codebase_is_looked_up_once(
    cw: FakeConnectWise, provider: ConnectWiseProvider
) -> None:
    ticket = cw.add_ticket("VPN drops", description="Drops every 10 minutes")
    await provider.get_ticket(str(ticket.id))
    await provider.list_notes(str(ticket.id))
    lookup, *api = cw.requests
    assert (lookup.route, lookup.path) == ("companyinfo", "/login/companyinfo/acme")
    assert (
        "authorization" not in lookup.headers and "clientid" not in lookup.headers
    )  # no credentials where none are needed
    token = base64.b64encode(b"acme+pubKEY1234fake:privKEY5678fake").decode()
    assert len(api) >= 3 and not any(r.route == "companyinfo" for r in api)
    for request in api:
        assert request.path.startswith("/v2025_1/apis/3.0/")
        assert request.headers["authorization"] == f"Basic {token}"
        assert request.headers["clientid"] == cw.client_id
        assert request.headers["accept"] == "application/vnd.connectwise.com+json; version=2025.1"


async def test_a_configured_codebase_skips_the_lookup(cw: FakeConnectWise) -> None:
    provider = create_provider(cw.config(codebase="v2025_1/"))
    try:
        await provider.check_connection()
    finally:
        await provider.aclose()
    assert [r.route for r in cw.requests] == ["system_info"]


async def test_the_ticket_description_is_read_from_its_first_discussion_note(
    cw: FakeConnectWise, provider: ConnectWiseProvider
) -> None:
    ticket = cw.add_ticket("Outlook crashes", description="Crashes on start", contact="Sam")
    await provider.post_note(str(ticket.id), "Later discussion", kind="internal", internal=False)
    got = await provider.get_ticket(str(ticket.id))
    assert (got.summary, got.description, got.company, got.contact, got.board) == (
        "Outlook crashes", "Crashes on start", "Contoso", "Sam", "Service Desk",
    )  # fmt: skip
    assert got.status == PSAStatus("2", "In Progress")
    bare = cw.add_ticket("No description")
    assert (await provider.get_ticket(str(bare.id))).description is None


@pytest.mark.parametrize(
    ("kind", "internal", "flags"),
    [
        ("resolution", True, (False, True, True)),
        ("escalation", True, (False, True, False)),
        ("internal", True, (False, True, False)),
        ("internal", False, (True, False, False)),
    ],
)
async def test_notes_carry_the_section_flags_and_never_notify(
    cw: FakeConnectWise,
    provider: ConnectWiseProvider,
    kind: str,
    internal: bool,
    flags: tuple[bool, bool, bool],
) -> None:
    ticket = cw.add_ticket()
    note = await provider.post_note(str(ticket.id), "Replaced the toner", kind=kind, internal=internal)  # type: ignore[arg-type]
    (stored,) = cw.tickets[ticket.id].notes
    assert (stored.detail, stored.internal, stored.resolution) == flags  # (Discussion, Internal, Resolution)
    assert stored.process_notifications is False
    assert note.id == str(stored.id) and note.internal is internal
    posted, read_back = [r for r in cw.requests if r.route in ("post_note", "get_note")]
    assert posted.json == {
        "text": "Replaced the toner", "detailDescriptionFlag": flags[0], "internalAnalysisFlag": flags[1],
        "resolutionFlag": flags[2], "processNotifications": False,
    }  # fmt: skip
    assert read_back.path.endswith(f"/notes/{stored.id}")  # every note is verified by reading it back


async def test_the_fake_refuses_what_connectwise_refuses(cw: FakeConnectWise) -> None:
    ticket = cw.add_ticket()
    token = base64.b64encode(f"{cw.company}+{cw.public_key}:{cw.private_key}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "clientId": cw.client_id}
    async with httpx.AsyncClient(base_url=cw.api_url, headers=headers) as raw:
        no_flag = await raw.post(f"/service/tickets/{ticket.id}/notes", json={"text": "hello"})
        assert no_flag.status_code == 400
        assert no_flag.json()["errors"][0]["message"] == NO_FLAG_MESSAGE
        not_array = await raw.patch(
            f"/service/tickets/{ticket.id}", json={"op": "replace", "path": "status", "value": {"id": 4}}
        )
        assert not_array.status_code == 400
        by_name = await raw.patch(
            f"/service/tickets/{ticket.id}", json=[{"op": "replace", "path": "status", "value": {"name": "Closed"}}]
        )
        assert by_name.status_code == 400
        other_board = await raw.patch(
            f"/service/tickets/{ticket.id}", json=[{"op": "replace", "path": "status", "value": {"id": 23}}]
        )
        assert other_board.status_code == 400 and "not valid for board 1" in other_board.text
        no_client_id = await raw.get(f"/service/tickets/{ticket.id}", headers={"clientId": ""})
        assert no_client_id.status_code == 401
    assert cw.tickets[ticket.id].notes == [] and cw.status_name(ticket.id) == "In Progress"


async def test_the_status_is_set_by_a_json_patch_array_with_the_board_status_id(
    cw: FakeConnectWise, provider: ConnectWiseProvider
) -> None:
    ticket = cw.add_ticket(board_id=2, status="Working")
    statuses = await provider.list_statuses(str(ticket.id))
    assert [s.name for s in statuses] == ["New", "Working", ">Closed", "Cancelled"]
    closing = await provider.closing_status(str(ticket.id))
    assert closing == PSAStatus("23", ">Closed", closed=True)
    await provider.set_status(str(ticket.id), closing.id)
    (patch,) = [r for r in cw.requests if r.route == "patch_ticket"]
    assert patch.json == [{"op": "replace", "path": "status", "value": {"id": 23}}]
    assert cw.tickets[ticket.id].closed and await provider.get_status(str(ticket.id)) == closing


async def test_a_status_of_another_board_or_an_inactive_one_is_refused_before_anything_is_sent(
    cw: FakeConnectWise, provider: ConnectWiseProvider
) -> None:
    ticket = cw.add_ticket()
    for status_id in ("23", "5"):  # Projects' ">Closed"; Service Desk's inactive "Retired"
        with pytest.raises(PSAPermanent, match=f"status '{status_id}' is not an active status of board Service Desk"):
            await provider.set_status(str(ticket.id), status_id)
    assert not [r for r in cw.requests if r.route == "patch_ticket"]


def test_the_closing_status_is_never_a_guess() -> None:
    def status(name: str, closed: bool = True) -> PSAStatus:
        return PSAStatus(name, name, closed=closed)

    assert closing_status([status("Closed"), status(">Closed"), status("Open", False)]).name == "Closed"
    assert closing_status([status("Closed - Resolved"), status("Cancelled")]).name == "Closed - Resolved"
    assert closing_status([status("Done"), status("Open", False)]).name == "Done"
    with pytest.raises(PSAPermanent, match="several closing statuses \\('Closed - Fixed', 'Closed - Cancelled'\\)"):
        closing_status([status("Closed - Fixed"), status("Closed - Cancelled")])
    with pytest.raises(PSAPermanent, match="no closing status"):
        closing_status([status("Enclosed", False), status("Open", False)])


async def test_notes_are_read_page_by_page_following_the_link_header(
    cw: FakeConnectWise, provider: ConnectWiseProvider
) -> None:
    cw.max_page_size = 2
    ticket = cw.add_ticket(description="first")
    for n in range(4):
        await provider.post_note(str(ticket.id), f"note {n}", kind="internal", internal=True)
    notes = await provider.list_notes(str(ticket.id))
    assert [n.text for n in notes] == ["first", "note 0", "note 1", "note 2", "note 3"]
    pages = [r.query.get("page") for r in cw.requests if r.route == "list_notes"][-3:]
    assert pages == ["1", "2", "3"]


async def test_a_short_retry_after_is_waited_out_and_a_long_one_is_returned(
    cw: FakeConnectWise, provider: ConnectWiseProvider, sleeps: Sleeps
) -> None:
    ticket = cw.add_ticket("Slow")
    cw.rate_limit("get_ticket", 3)
    assert (await provider.get_ticket(str(ticket.id))).summary == "Slow"
    assert sleeps.waited == [3.0]
    cw.rate_limit("get_ticket", 45)
    with pytest.raises(PSARateLimited) as limited:
        await provider.get_ticket(str(ticket.id))
    assert limited.value.retry_after == 45 and sleeps.waited == [3.0]


async def test_a_note_post_is_never_repeated_blindly(cw: FakeConnectWise, provider: ConnectWiseProvider) -> None:
    ticket = cw.add_ticket()
    cw.fail("post_note", 502)
    with pytest.raises(PSATransient, match="HTTP 502"):
        await provider.post_note(str(ticket.id), "Rebooted the switch", kind="internal", internal=True)
    assert [r.route for r in cw.requests].count("post_note") == 1  # re-read instead of re-posted
    assert cw.tickets[ticket.id].notes == []

    cw.timeout_after_write("post_note")
    note = await provider.post_note(str(ticket.id), "Rebooted the switch", kind="internal", internal=True)
    assert [r.route for r in cw.requests].count("post_note") == 2
    assert [n.id for n in cw.tickets[ticket.id].notes] == [int(note.id)]  # found after the lost answer


async def test_a_status_patch_whose_answer_was_lost_is_repeated(
    cw: FakeConnectWise, provider: ConnectWiseProvider
) -> None:
    ticket = cw.add_ticket()
    cw.timeout_after_write("patch_ticket")
    await provider.set_status(str(ticket.id), "4")
    assert [r.route for r in cw.requests].count("patch_ticket") == 2
    assert cw.status_name(ticket.id) == "Closed"


async def test_refs_that_are_not_ticket_numbers_are_not_found_without_a_request(
    cw: FakeConnectWise, provider: ConnectWiseProvider
) -> None:
    for ref in ("abc", "0", "-4", "12a", "١٢", "9" * 5000):
        with pytest.raises(PSANotFound, match="is not a ConnectWise ticket number"):
            await provider.get_ticket(ref)
    assert cw.requests == []
    ticket = cw.add_ticket("Hash ref")
    assert (await provider.get_ticket(f"#{ticket.id}")).ref == str(ticket.id)


def test_the_config_is_validated_and_its_repr_hides_the_keys(cw: FakeConnectWise) -> None:
    provider = create_provider(cw.config())
    assert cw.private_key not in repr(provider) and cw.private_key not in repr(provider.config)
    assert cw.public_key not in str(provider.config)
    bad = {
        "client_id": (cw.config(client_id="not-a-guid"), "client_id"),
        "site": (cw.config(site="http://cw.example.com"), "https only"),
        "path": (cw.config(site="https://cw.example.com/v4_6_release/apis/3.0"), "host"),
        "colon": (cw.config(public_key="pub:lic"), "public_key"),
        "unknown": (cw.config(password="x"), "password"),
        "missing": ({"site": "cw.example.com"}, "company"),
    }
    for config, named in bad.values():
        with pytest.raises(ValueError, match=named) as refused:
            create_provider(config)
        assert cw.private_key not in str(refused.value)


def test_cloud_ui_hosts_become_api_hosts() -> None:
    assert base_url("na.myconnectwise.net") == "https://api-na.myconnectwise.net"
    assert base_url("https://api-eu.myconnectwise.net/") == "https://api-eu.myconnectwise.net"
    assert base_url("cw.example.com:8443") == "https://cw.example.com:8443"
    assert base_url("http://127.0.0.1:9000") == "http://127.0.0.1:9000"
    with pytest.raises(ValueError, match="https only"):
        base_url("http://10.0.0.5")


async def test_a_404_on_the_system_information_is_an_authentication_failure(cw: FakeConnectWise) -> None:
    provider = create_provider(cw.config(codebase="v2019_9/"))  # a codebase this server does not have
    try:
        with pytest.raises(PSAAuthFailed, match="check the site, company and keys"):
            await provider.check_connection()
    finally:
        await provider.aclose()


async def test_a_looked_up_codebase_serves_the_next_clients_of_the_process_for_an_hour(
    cw: FakeConnectWise, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writeback builds a provider per confirmation: only the first looks the codebase up, until it is stale."""
    import flowpilot_connectwise.http as cw_http

    now = [1000.0]
    monkeypatch.setattr(cw_http, "clock", lambda: now[0])
    for _ in range(2):
        provider = create_provider(cw.config())
        try:
            await provider.check_connection()
        finally:
            await provider.aclose()
    assert [r.route for r in cw.requests] == ["companyinfo", "system_info", "system_info"]
    now[0] += cw_http.CODEBASE_TTL
    provider = create_provider(cw.config())
    try:
        await provider.check_connection()
    finally:
        await provider.aclose()
    assert [r.route for r in cw.requests][3:] == ["companyinfo", "system_info"]  # an hour later: looked up again
