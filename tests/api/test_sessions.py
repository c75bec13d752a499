"""/api/v1/ai-sessions: create, list, read; tenancy and bad input."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core.db.engine import tenant_session
from flowpilot_core.db.models import AiSession
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


# ==== Pagination ==========================================================================


async def _create(client: Client, tenant: Tenant, count: int, prefix: str = "Session") -> list[str]:
    """Create `count` sessions; returns their ids, oldest first."""
    ids = []
    for n in range(count):
        body = {"problem_statement": f"{prefix} {n}"}
        response = await client.post(BASE, json=body, headers=tenant.api_headers)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


async def _all_pages(client: Client, tenant: Tenant, **params: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        body = (await client.get(BASE, params=query, headers=tenant.api_headers)).json()
        pages.append([s["id"] for s in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "pagination never ended"


async def test_the_list_pages_past_50_with_a_cursor(client: Client, tenant: Tenant) -> None:
    ids = await _create(client, tenant, 53)
    first = (await client.get(BASE, headers=tenant.api_headers)).json()
    assert [s["id"] for s in first["items"]] == ids[::-1][:50]  # default page: the 50 most recent
    second = (await client.get(BASE, params={"cursor": first["next_cursor"]}, headers=tenant.api_headers)).json()
    assert [s["id"] for s in second["items"]] == ids[::-1][50:]
    assert second["next_cursor"] is None


async def test_pages_keep_filters_and_end_exactly(client: Client, tenant: Tenant) -> None:
    printers = await _create(client, tenant, 5, "Printer jam")
    await _create(client, tenant, 3, "VPN drops")
    pages = await _all_pages(client, tenant, q="printer", limit=2)
    assert pages == [printers[::-1][0:2], printers[::-1][2:4], printers[::-1][4:5]]
    exact = await _all_pages(client, tenant, q="vpn", limit=3)
    assert len(exact) == 1 and len(exact[0]) == 3  # a full last page has no next_cursor


async def test_pages_are_stable_while_sessions_are_created(client: Client, tenant: Tenant) -> None:
    ids = await _create(client, tenant, 6)
    first = (await client.get(BASE, params={"limit": 3}, headers=tenant.api_headers)).json()
    newer = await _create(client, tenant, 2, "Created while paging")
    second = (
        await client.get(BASE, params={"limit": 3, "cursor": first["next_cursor"]}, headers=tenant.api_headers)
    ).json()
    seen = [s["id"] for s in first["items"]] + [s["id"] for s in second["items"]]
    assert seen == ids[::-1]  # no repeat, no skip: the new sessions sort before the cursor
    assert second["next_cursor"] is None
    assert [s["id"] for s in (await client.get(BASE, headers=tenant.api_headers)).json()["items"][:2]] == newer[::-1]


async def test_sessions_updated_at_the_same_instant_page_by_id(
    client: Client, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ids = await _create(client, tenant, 5)
    async with tenant_session(sessionmaker, tenant.account_id) as db:
        first = await db.get(AiSession, uuid.UUID(ids[0]))
        assert first is not None
        await db.execute(
            update(AiSession).where(AiSession.id.in_([uuid.UUID(i) for i in ids])).values(updated_at=first.created_at)
        )
    pages = await _all_pages(client, tenant, limit=2)
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [i for p in pages for i in p] == sorted(ids, key=uuid.UUID, reverse=True)


@pytest.mark.parametrize(
    "cursor",
    (
        "not-a-cursor",
        base64.urlsafe_b64encode(b"2026-01-01T00:00:00+00:00|not-a-uuid").decode(),
        base64.urlsafe_b64encode(f"yesterday|{uuid.uuid4()}".encode()).decode(),
        base64.urlsafe_b64encode(f"2026-01-01T00:00:00|{uuid.uuid4()}".encode()).decode(),  # no time zone
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        "x" * 500,
    ),
)
async def test_a_malformed_cursor_is_a_422_naming_cursor(client: Client, tenant: Tenant, cursor: str) -> None:
    response = await client.get(BASE, params={"cursor": cursor}, headers=tenant.api_headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == ["cursor"]


async def test_a_cursor_never_reveals_another_accounts_sessions(
    client: Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    await _create(client, tenant, 3)
    mine = (await client.get(BASE, params={"limit": 1}, headers=tenant.api_headers)).json()
    theirs = await client.get(BASE, params={"cursor": mine["next_cursor"]}, headers=other_tenant.api_headers)
    assert theirs.status_code == 200 and theirs.json() == {"items": [], "next_cursor": None}
