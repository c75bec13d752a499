"""A ConnectWise pod signs its member in: FlowPilot mints a token only for a member ConnectWise confirms.

Through the API, the built-in ConnectWise plugin and its HTTP fake: the pod's payload is a
claim until ``GET /system/myAccount`` as that member (their ``memberHash``) says it is true.
"""

from __future__ import annotations

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
URL = "/api/v1/embed/connectwise-pod/token"


@pytest.fixture
def cw() -> Iterator[FakeConnectWise]:
    with FakeConnectWise() as fake:
        yield fake


@pytest.fixture
async def client(settings: Settings, db_urls: DatabaseUrls) -> AsyncIterator[Client]:
    async with client_for(settings, db_urls, manager_with()) as test_client:  # the built-in plugins only
        yield test_client


async def _connect(client: Client, tenant: Tenant, cw: FakeConnectWise) -> None:
    body = {"provider": "connectwise", "name": "ConnectWise", "config": cw.config(), "statuses": {"resolved": "Closed"}}
    response = await client.post("/api/v1/psa-connections", json=body, headers=tenant.api_headers)
    assert response.status_code == 201, response.text


def _body(tenant: Tenant, cw: FakeConnectWise, member_hash: str, **member: Any) -> dict[str, Any]:
    return {
        "account_id": str(tenant.account_id),
        "member": {"companyid": cw.company, "memberid": "jdoe", "memberHash": member_hash,
                   "memberEmail": "attacker@example.com", **member},
        "screen": {"id": 5001, "screen": "ticket"},
    }  # fmt: skip


async def test_a_confirmed_member_gets_a_token_for_the_ticket_on_screen(
    client: Client, tenant: Tenant, cw: FakeConnectWise
) -> None:
    await _connect(client, tenant, cw)
    member_hash = cw.add_member("jdoe", email="jane.doe@acme.example", first="Jane", last="Doe")

    minted = await client.post(URL, json=_body(tenant, cw, member_hash))
    assert minted.status_code == 201, minted.text
    body = minted.json()
    assert (body["member"], body["ticket_ref"]) == ("jdoe", "5001")

    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200, me.text
    user = me.json()["user"]
    assert user["external_id"] == "connectwise:jdoe"
    assert user["email"] == "jane.doe@acme.example", "the e-mail ConnectWise confirmed, not the browser's"

    (check,) = [r for r in cw.requests if r.route == "my_account"]
    assert "authorization" not in check.headers, "asked as the member, never with FlowPilot's API keys"
    assert f"memberHash={member_hash}" in check.headers["cookie"]


@pytest.mark.parametrize(
    "case", ["wrong hash", "signed out", "other company", "other member's hash", "no connection", "unknown account"]
)
async def test_anything_connectwise_does_not_confirm_is_a_401(
    client: Client, tenant: Tenant, other_tenant: Tenant, cw: FakeConnectWise, case: str
) -> None:
    await _connect(client, tenant, cw)
    member_hash = cw.add_member("jdoe")
    other_hash = cw.add_member("mallory")
    body = _body(tenant, cw, member_hash)
    if case == "wrong hash":
        body["member"]["memberHash"] = member_hash[::-1]
    elif case == "signed out":
        cw.end_member_session("jdoe")
    elif case == "other company":
        body["member"]["companyid"] = "globex"
    elif case == "other member's hash":
        body["member"]["memberHash"] = other_hash
    elif case == "no connection":
        body["account_id"] = str(other_tenant.account_id)
    else:
        body["account_id"] = "00000000-0000-4000-8000-000000000000"

    refused = await client.post(URL, json=body)
    assert refused.status_code == 401, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert member_hash not in refused.text and cw.private_key not in refused.text


async def test_connectwise_down_is_a_503_and_a_malformed_payload_a_422(
    client: Client, tenant: Tenant, cw: FakeConnectWise
) -> None:
    await _connect(client, tenant, cw)
    member_hash = cw.add_member("jdoe")
    cw.fail("my_account", 503)
    down = await client.post(URL, json=_body(tenant, cw, member_hash))
    assert down.status_code == 503, down.text

    missing = _body(tenant, cw, member_hash)
    del missing["member"]["memberHash"]
    bad = await client.post(URL, json=missing)
    assert bad.status_code in (400, 422), bad.text
    assert "memberHash" in bad.text

    cookie_injection = await client.post(URL, json=_body(tenant, cw, member_hash + "; memberId=admin"))
    assert cookie_injection.status_code == 401, cookie_injection.text


async def test_the_pod_page_may_be_framed_only_by_the_accounts_origins(client: Client, tenant: Tenant) -> None:
    tenant.allow_origin("https://na.myconnectwise.net")
    page = await client.get(f"/connectwise-pod?account={tenant.account_id}")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'self' https://na.myconnectwise.net;" in csp
    assert 'data-parent-origins="[&quot;https://na.myconnectwise.net&quot;]"' in page.text

    nameless = await client.get("/connectwise-pod")
    assert "frame-ancestors 'self';" in nameless.headers["content-security-policy"]
    assert 'data-parent-origins="[]"' in nameless.text
