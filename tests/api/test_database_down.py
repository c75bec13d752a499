"""The database going away: every call answers 503 problem details the client may retry, and FlowPilot
recovers by itself when the database is back. The outage is real: the app reaches PostgreSQL through a
socket proxy that the test closes (dropping every connection) and opens again."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from flowpilot_server.app import create_app
from litestar import Litestar
from litestar.testing import AsyncTestClient

from flowpilot_core.config import Settings
from flowpilot_core.db.engine import DatabaseUrls
from tests.conftest import Tenant
from tests.tcp_proxy import TcpProxy

Client = AsyncTestClient[Litestar]


@pytest.fixture
def proxy(db_urls: DatabaseUrls) -> Iterator[TcpProxy]:
    proxy = TcpProxy(TcpProxy.upstream_of(db_urls.app)).start()
    yield proxy
    proxy.close()


@pytest.fixture
async def proxied_client(settings: Settings, db_urls: DatabaseUrls, proxy: TcpProxy) -> AsyncIterator[Client]:
    urls = DatabaseUrls(owner=proxy.url_for(db_urls.owner), app=proxy.url_for(db_urls.app), embedded=False)
    async with AsyncTestClient(app=create_app(settings, urls=urls)) as client:
        yield client


async def test_database_down_is_503_retryable_and_recovers_by_itself(
    proxied_client: Client, proxy: TcpProxy, tenant: Tenant
) -> None:
    pilot = ("/pilot", {"account": str(tenant.account_id)})
    assert (await proxied_client.get("/api/v1/me", headers=tenant.api_headers)).status_code == 200
    assert (await proxied_client.get("/api/v1/ai-sessions", headers=tenant.headers())).status_code == 200

    proxy.kill()
    for response in (
        await proxied_client.get("/api/v1/me", headers=tenant.api_headers),
        await proxied_client.post("/api/v1/ai-sessions", json={"problem_statement": "x"}, headers=tenant.headers()),
        await proxied_client.get(pilot[0], params=pilot[1]),
    ):
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.headers["retry-after"] == "5"
        problem = response.json()
        assert problem["retryable"] is True and "database" in problem["detail"]
        assert "Traceback" not in response.text
    assert (await proxied_client.get("/healthz")).status_code == 503
    assert (await proxied_client.get("/livez")).json()["status"] == "ok"  # out of rotation, not restarted
    metrics = (await proxied_client.get("/metrics")).text
    assert 'flowpilot_database_unavailable_responses_total{reason="unreachable"} 3.0' in metrics

    proxy.restore()
    assert (await proxied_client.get("/api/v1/me", headers=tenant.api_headers)).status_code == 200
    created = await proxied_client.post(
        "/api/v1/ai-sessions", json={"problem_statement": "x"}, headers=tenant.headers()
    )
    assert created.status_code == 201, created.text
    page = await proxied_client.get(pilot[0], params=pilot[1])
    assert page.status_code == 200 and "frame-ancestors" in page.headers["content-security-policy"]
