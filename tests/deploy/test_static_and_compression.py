"""What browsers and proxies are told to keep: versioned /static for a year, everything else revalidated; and
responses compressed (brotli or gzip) when the client accepts it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from flowpilot_server.routes.pages import static_dir
from flowpilot_server.static_assets import asset_version
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import Tenant

Client = AsyncTestClient[Litestar]
IMMUTABLE = "public, max-age=31536000, immutable"


async def _pilot_asset_urls(client: Client) -> list[str]:
    page = await client.get("/pilot")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-cache"
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)


async def test_pilot_refers_to_versioned_assets_that_browsers_keep_for_a_year(client: Client) -> None:
    version = client.app.state.static_version
    urls = await _pilot_asset_urls(client)
    assert urls and all(url.startswith(f"/static/v/{version}/") for url in urls), urls
    assert f"/static/v/{version}/js/pilot.js" in urls
    for url in urls:
        response = await client.get(url)
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == IMMUTABLE, url
        on_disk = static_dir() / url.removeprefix(f"/static/v/{version}/")
        assert response.content == on_disk.read_bytes(), url


async def test_unversioned_and_other_versions_are_served_but_revalidated(client: Client) -> None:
    plain = await client.get("/static/js/pilot.js")
    assert plain.status_code == 200
    assert plain.headers["cache-control"] == "no-cache"
    etag = plain.headers["etag"]
    revalidated = await client.get("/static/js/pilot.js", headers={"If-None-Match": etag})
    assert (revalidated.status_code, revalidated.content) == (304, b"")
    assert revalidated.headers["etag"] == etag and revalidated.headers["cache-control"] == "no-cache"
    head = await client.head("/static/js/pilot.js")
    assert head.status_code == 200 and head.headers["etag"] == etag and head.content == b""
    # A page from a replica of another release asks for its version: it still loads, but nothing keeps it.
    other = await client.get("/static/v/0123456789abcdef/js/pilot.js")
    assert other.status_code == 200 and other.content == plain.content
    assert other.headers["cache-control"] == "no-cache"
    gallery = await client.get("/static/design-system.html")
    assert gallery.headers["cache-control"] == "no-cache"
    assert "frame-ancestors 'self'" in gallery.headers["content-security-policy"]


async def test_nothing_outside_the_static_directory_is_reachable(client: Client) -> None:
    version = client.app.state.static_version
    for path in ("/static/v/x/../../../pyproject.toml", f"/static/v/{version}/%2e%2e/%2e%2e/pyproject.toml"):
        response = await client.get(path)
        assert response.status_code == 404, path
    assert (await client.get(f"/static/v/{version}/js/no-such-file.js")).status_code == 404


def test_the_version_changes_when_any_asset_changes(tmp_path: Path) -> None:
    copy = tmp_path / "static"
    shutil.copytree(static_dir(), copy)
    before = asset_version(copy)
    assert asset_version(copy) == before
    (copy / "js" / "dom.js").write_bytes((copy / "js" / "dom.js").read_bytes() + b"\n")
    assert asset_version(copy) != before


async def test_static_files_and_json_are_compressed_for_clients_that_accept_it(client: Client, tenant: Tenant) -> None:
    version = client.app.state.static_version
    script = f"/static/v/{version}/js/pilot.js"
    raw = (static_dir() / "js" / "pilot.js").read_bytes()
    for accept, encoding in (("br", "br"), ("gzip", "gzip"), ("gzip, deflate, br", "br")):
        response = await client.get(script, headers={"Accept-Encoding": accept})
        assert response.headers.get("content-encoding") == encoding, accept
        assert "accept-encoding" in response.headers["vary"].lower()
        assert response.content == raw  # httpx decoded it: the same bytes as on disk
    identity = await client.get(script, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in identity.headers and identity.content == raw

    for n in range(6):
        body = {"problem_statement": f"Outlook keeps asking for the password on laptop {n}"}
        await client.post("/api/v1/ai-sessions", json=body, headers=tenant.headers())
    listed = await client.get("/api/v1/ai-sessions", headers={**tenant.headers(), "Accept-Encoding": "gzip"})
    assert listed.status_code == 200
    assert listed.headers["content-encoding"] == "gzip"
    assert len(listed.json()["items"]) >= 6

    tiny = await client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in tiny.headers  # under 500 bytes: not worth it
