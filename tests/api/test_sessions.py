"""/api/v1/ai-sessions: create, list, read; tenancy and bad input."""

from __future__ import annotations

import uuid

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import Tenant

Client = AsyncTestClient[Litestar]
BASE = "/api/v1/ai-sessions"


async def test_create_then_read_and_list(client: Client, tenant: Tenant) -> None:
    headers = tenant.headers()
    created = await client.post(
        BASE,
        json={
            "problem_statement": "Outlook asks for the password every few minutes",
            "ticket": {"summary": "Outlook password prompts", "company": "Northwind", "ref": "48220"},
            "psa_provider": "connectwise",
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["title"] == "Outlook password prompts"
    assert body["status"] == "open" and body["session_type"] == "chat"
    assert body["ticket_ref"] == "48220" and body["psa_provider"] == "connectwise"
    assert body["ticket"] == {"summary": "Outlook password prompts", "company": "Northwind"}
    assert body["pending_task_lane"] == {"questions": [], "checks": [], "actions": []}
    assert body["state_version"] == 0
    assert body["owner_user_id"]

    read = (await client.get(f"{BASE}/{body['id']}", headers=headers)).json()
    assert read == body
    listed = (await client.get(BASE, headers=headers)).json()["items"]
    assert [s["id"] for s in listed] == [body["id"]]


async def test_unlinked_session_is_first_class(client: Client, tenant: Tenant) -> None:
    created = (
        await client.post(BASE, json={"problem_statement": "Laptop fan loud\nsince update"}, headers=tenant.api_headers)
    ).json()
    assert created["psa_provider"] is None and created["ticket_ref"] is None
    assert created["title"] == "Laptop fan loud"
    assert created["owner_user_id"] is None  # created server-to-server


async def test_ticket_from_the_embed_token_is_used(client: Client, tenant: Tenant) -> None:
    headers = tenant.headers(ticket={"provider": "connectwise", "ref": "991", "summary": "VPN down"})
    created = (await client.post(BASE, json={"problem_statement": "VPN drops"}, headers=headers)).json()
    assert (created["psa_provider"], created["ticket_ref"], created["ticket"]) == (
        "connectwise",
        "991",
        {"summary": "VPN down"},
    )


async def test_list_filters_by_status_and_search(client: Client, tenant: Tenant) -> None:
    headers = tenant.headers()
    for text in ("Printer offline in Accounting", "DNS fails on WS-01"):
        await client.post(BASE, json={"problem_statement": text}, headers=headers)
    found = (await client.get(BASE, params={"q": "printer"}, headers=headers)).json()["items"]
    assert [s["title"] for s in found] == ["Printer offline in Accounting"]
    assert (await client.get(BASE, params={"status": "resolved"}, headers=headers)).json()["items"] == []
    bad = await client.get(BASE, params={"status": "closed"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "status"


async def test_another_accounts_session_is_404_and_not_listed(
    client: Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = (await client.post(BASE, json={"problem_statement": "secret"}, headers=tenant.headers())).json()
    response = await client.get(f"{BASE}/{mine['id']}", headers=other_tenant.headers())
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (await client.get(BASE, headers=other_tenant.headers())).json()["items"] == []
    assert (await client.get(f"{BASE}/{uuid.uuid4()}", headers=tenant.headers())).status_code == 404


async def test_bad_payloads_are_4xx_naming_the_field(client: Client, tenant: Tenant) -> None:
    headers = tenant.headers()
    cases = [
        ({"title": "x"}, "problem_statement"),
        ({"problem_statement": 5}, "problem_statement"),
        ({"problem_statement": "   "}, "problem_statement"),
        ({"problem_statement": "ok", "ticket": {"summary": 1}}, "ticket.summary"),
        ({"problem_statement": "ok", "ticket": {"colour": "red"}}, "ticket"),
        ({"problem_statement": "ok", "unknown": 1}, "unknown"),
        ({"problem_statement": "x" * 20_001}, "problem_statement"),
    ]
    for payload, field in cases:
        response = await client.post(BASE, json=payload, headers=headers)
        assert response.status_code in (400, 422), (payload, response.text)
        body = response.json()
        assert body["status"] == response.status_code
        assert any(field in e["field"] or field in e["message"] for e in body["errors"]), (payload, body)
    not_json = await client.post(BASE, content=b"{not json", headers={**headers, "content-type": "application/json"})
    assert not_json.status_code == 400


async def test_openapi_documents_the_session_routes(client: Client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    assert {"/api/v1/ai-sessions", "/api/v1/ai-sessions/{session_id}"} <= set(schema["paths"])
    assert "bearer" in schema["components"]["securitySchemes"]
