"""Usage reports per account, Prometheus metrics, account settings and MCP servers."""

from __future__ import annotations

from datetime import date

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core.accounts import mcp
from flowpilot_core.ai.provider import UsageRecord
from flowpilot_core.ai.types import TokenUsage
from flowpilot_core.db.engine import tenant_session
from flowpilot_core.db.models import McpServer
from flowpilot_core.usage import PostgresUsageSink, UsageMetrics
from tests.conftest import TEST_SECRET_KEY, Tenant

Client = AsyncTestClient[Litestar]


def _record(tenant: Tenant, service: str, *, read: int, cost: float, uncached: float, error: str | None = None):
    return UsageRecord(
        account_id=str(tenant.account_id),
        session_id=None,
        service=service,
        provider="anthropic",
        model="claude-sonnet-4-6",
        usage=TokenUsage(
            input_tokens=50, cache_read_input_tokens=read, cache_creation_input_tokens=0, output_tokens=20
        ),
        latency_ms=321.0,
        cost_usd=cost,
        uncached_cost_usd=uncached,
        error=error,
    )


async def test_usage_report_is_per_account_and_shows_savings(
    client: Client, sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant, other_tenant: Tenant, app: Litestar
) -> None:
    metrics = UsageMetrics()
    sink = PostgresUsageSink(sessionmaker, metrics)
    await sink.record(_record(tenant, "chat", read=4000, cost=0.002, uncached=0.012))
    await sink.record(_record(tenant, "ai_parse", read=0, cost=0.001, uncached=0.001, error="rate_limited"))
    await sink.record(_record(other_tenant, "chat", read=9999, cost=5.0, uncached=9.0))

    report = (await client.get("/api/v1/usage", headers=tenant.headers(role="admin"))).json()
    totals = report["totals"]
    assert totals["calls"] == 2 and totals["failed_calls"] == 1
    assert totals["cache_read_input_tokens"] == 4000
    assert abs(totals["cost_usd"] - 0.003) < 1e-9
    assert abs(totals["saved_usd"] - 0.010) < 1e-9
    assert [row["key"] for row in report["by_service"]] == ["ai_parse", "chat"]
    assert [row["key"] for row in report["by_model"]] == ["claude-sonnet-4-6"]
    assert report["by_day"][0]["key"] == date.today().isoformat()

    other = (await client.get("/api/v1/usage", headers=other_tenant.headers(role="admin"))).json()
    assert other["totals"]["calls"] == 1 and other["totals"]["cost_usd"] == 5.0

    bad = await client.get("/api/v1/usage", params={"since": "2026-02-30"}, headers=tenant.headers(role="admin"))
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "since"
    inverted = await client.get(
        "/api/v1/usage", params={"since": "2026-05-02", "until": "2026-05-01"}, headers=tenant.headers(role="admin")
    )
    assert inverted.status_code == 422

    exposition = metrics.registry
    assert (
        exposition.get_sample_value(
            "flowpilot_ai_calls_total",
            {"service": "chat", "provider": "anthropic", "model": "claude-sonnet-4-6", "outcome": "ok"},
        )
        == 2.0
    )


async def test_metrics_endpoint_speaks_prometheus(client: Client) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE flowpilot_ai_calls_total counter" in response.text


async def test_settings_defaults_and_who_may_change_what(client: Client, tenant: Tenant) -> None:
    url = "/api/v1/account/settings"
    defaults = (await client.get(url, headers=tenant.headers())).json()
    assert defaults == {
        "templatize_prompt_enabled": True,
        "auto_continue_enabled": True,
        "ticket_taxonomy": {"boards": [], "categories": [], "priorities": []},
        "ai": {},
    }

    off = await client.patch(url, json={"templatize_prompt_enabled": False}, headers=tenant.headers())
    assert off.status_code == 200 and off.json()["templatize_prompt_enabled"] is False

    forbidden = await client.patch(url, json={"ticket_taxonomy": {"boards": ["Network"]}}, headers=tenant.headers())
    assert forbidden.status_code == 403
    ok = await client.patch(
        url, json={"ticket_taxonomy": {"boards": ["Network", "Service Desk"]}}, headers=tenant.api_headers
    )
    assert ok.json()["ticket_taxonomy"]["boards"] == ["Network", "Service Desk"]

    bad_ai = await client.patch(
        url, json={"ai": {"services": {"chat": {"tier": "ludicrous"}}}}, headers=tenant.api_headers
    )
    assert bad_ai.status_code == 422
    assert "ai.services.chat.tier" in bad_ai.json()["detail"]
    good_ai = await client.patch(url, json={"ai": {"services": {"chat": {"tier": "deep"}}}}, headers=tenant.api_headers)
    assert good_ai.status_code == 200 and good_ai.json()["ai"] == {"services": {"chat": {"tier": "deep"}}}


async def test_mcp_servers_credentials_are_encrypted_and_admin_only(
    client: Client, tenant: Tenant, other_tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    url = "/api/v1/account/mcp-servers"
    body = {"name": "rmm-tools", "url": "https://mcp.rmm.example.com/sse", "authorization_token": "tok-SECRET-123"}
    assert (await client.post(url, json=body, headers=tenant.headers())).status_code == 403
    created = await client.post(url, json=body, headers=tenant.api_headers)
    assert created.status_code == 201, created.text
    assert created.json()["has_credentials"] is True and "authorization_token" not in created.json()
    assert (await client.post(url, json=body, headers=tenant.api_headers)).status_code == 409
    plain = await client.post(
        url, json={**body, "name": "x", "url": "http://mcp.example.com"}, headers=tenant.api_headers
    )
    assert plain.status_code == 422 and plain.json()["errors"][0]["field"] == "url"

    assert [s["name"] for s in (await client.get(url, headers=tenant.headers())).json()] == ["rmm-tools"]
    assert (await client.get(url, headers=other_tenant.headers())).json() == []

    async with tenant_session(sessionmaker, tenant.account_id) as db:
        stored = (await db.execute(select(McpServer.credentials_encrypted))).scalar_one()
        assert "tok-SECRET-123" not in stored
        definitions = await mcp.connector_definitions(db, tenant.account_id, TEST_SECRET_KEY)
    assert definitions == [
        {"type": "url", "url": body["url"], "name": "rmm-tools", "authorization_token": "tok-SECRET-123"}
    ]

    server_id = created.json()["id"]
    assert (await client.delete(f"{url}/{server_id}", headers=other_tenant.api_headers)).status_code == 404
    assert (await client.delete(f"{url}/{server_id}", headers=tenant.api_headers)).status_code == 204
