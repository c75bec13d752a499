"""The /pilot pages, the /assistant redirects, health."""

from __future__ import annotations

import uuid

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import Tenant

Client = AsyncTestClient[Litestar]


@pytest.mark.parametrize(
    ("path", "target"),
    (
        ("/assistant", "/pilot"),
        ("/assistant/", "/pilot"),
        ("/assistant/4b0f6a1e-0000-4000-8000-000000000001", "/pilot/4b0f6a1e-0000-4000-8000-000000000001"),
        ("/assistant/abc?tab=facts&x=1", "/pilot/abc?tab=facts&x=1"),
        ("/assistant?embed=1", "/pilot?embed=1"),
    ),
)
async def test_assistant_redirects_permanently_keeping_id_and_query(client: Client, path: str, target: str) -> None:
    response = await client.get(path, follow_redirects=False)
    assert response.status_code == 308
    assert response.headers["location"] == target


async def test_pilot_serves_the_flowpilot_page_with_a_strict_csp(client: Client) -> None:
    for path in ("/pilot", f"/pilot/{uuid.uuid4()}"):
        response = await client.get(path)
        assert response.status_code == 200
        assert "FlowPilot" in response.text
        assert "AI Assistant" not in response.text
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'self';" in csp


async def test_frame_ancestors_come_from_the_accounts_allowed_origins(client: Client, tenant: Tenant) -> None:
    tenant.allow_origin("https://portal.example.com")
    csp = (await client.get("/pilot", params={"account": str(tenant.account_id)})).headers["content-security-policy"]
    assert "frame-ancestors 'self' https://portal.example.com;" in csp
    other = (await client.get("/pilot", params={"account": str(uuid.uuid4())})).headers["content-security-policy"]
    assert "portal.example.com" not in other


async def test_healthz(client: Client) -> None:
    body = (await client.get("/healthz")).json()
    assert body["status"] == "ok" and body["database"] == "ok"


async def test_unknown_route_is_a_problem_not_a_page(client: Client) -> None:
    response = await client.get("/api/v1/nope")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_static_html_gets_the_strict_csp_too(client: Client) -> None:
    response = await client.get("/static/design-system.html")
    assert response.status_code == 200
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_embed_tokens_do_not_see_the_accounts_embedding_settings(client: Client, tenant: Tenant) -> None:
    tenant.allow_origin("https://portal.example.com")
    assert (await client.get("/api/v1/me", headers=tenant.headers())).json()["account"]["allowed_origins"] is None
    admin = (await client.get("/api/v1/me", headers=tenant.api_headers)).json()
    assert admin["account"]["allowed_origins"] == ["https://portal.example.com"]


async def test_pages_and_the_loader_send_one_charset_and_no_download_header(client: Client) -> None:
    pilot = await client.get("/pilot")
    assert pilot.headers["content-type"] == "text/html; charset=utf-8"
    loader = await client.get("/embed.js")
    assert loader.status_code == 200 and "FlowPilot" in loader.text
    assert loader.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "content-disposition" not in loader.headers
    assert loader.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("path", ("/pilot", "/pilot/", f"/pilot/{uuid.uuid4()}", "/embed.js"))
async def test_head_answers_like_get_without_a_body(client: Client, path: str) -> None:
    head = await client.head(path)
    get = await client.get(path)
    assert head.status_code == 200 and head.content == b""
    for header in ("content-type", "content-security-policy", "content-length"):
        assert head.headers.get(header) == get.headers.get(header), header


def test_example_portal_serves_its_favicon() -> None:
    import httpx
    from flowpilot_embed.host_portal import make_host_portal_server, serve_in_thread

    server = make_host_portal_server("127.0.0.1", 0, "http://127.0.0.1:9", str(uuid.uuid4()), "s" * 32)
    serve_in_thread(server)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        page = httpx.get(base + "/")
        assert '<link rel="icon" href="/favicon.svg"' in page.text
        for path in ("/favicon.svg", "/favicon.ico"):
            icon = httpx.get(base + path)
            assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
            assert icon.content.lstrip().startswith(b"<svg")
    finally:
        server.shutdown()
        server.server_close()
