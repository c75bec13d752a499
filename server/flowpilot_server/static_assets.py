"""/static: the widget's assets under versioned URLs browsers may keep for a year, and unversioned ones they revalidate.

``/static/v/<version>/js/pilot.js`` is cached ``immutable`` for a year when ``<version>`` is this build's content
hash of the static directory (:func:`asset_version`), so a changed file is a new URL and nothing stale is ever
served from a cache. /pilot refers to its assets through these URLs (:func:`versioned_html`); the JS modules import
each other by relative paths, so they stay inside the same version. A URL naming another version (a page rendered
by a replica of another release, during a rolling deploy) still gets this build's file, but ``no-cache``, so no
cache keeps it under a name it does not match. Unversioned ``/static/...`` (the design-system gallery, the example
host portal, anything linked by hand) is ``no-cache``: revalidated by ETag on every use.
"""

from __future__ import annotations

import hashlib
import re
from inspect import iscoroutine
from pathlib import Path, PurePath
from typing import Any

from litestar import Request, Router, route
from litestar.enums import HttpMethod
from litestar.file_system import BaseLocalFileSystem
from litestar.params import FromPath
from litestar.response.base import ASGIResponse
from litestar.response.file import ASGIFileResponse, create_etag_for_file, get_fsspec_mtime_equivalent
from litestar.static_files.base import StaticFiles

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
_GET_HEAD = [HttpMethod.GET, HttpMethod.HEAD]
_STATIC_REF = re.compile(rb'((?:href|src)=")/static/')


def asset_version(directory: Path) -> str:
    """A short hash of every file's path and bytes under ``directory``: any change to any asset changes it."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def versioned_html(html: bytes, version: str) -> bytes:
    """``html`` with every ``href``/``src`` under /static/ pointing at this version's URLs."""
    return _STATIC_REF.sub(rb"\1/static/v/" + version.encode() + b"/", html)


def static_router(directory: Path, version: str, *, after_request: Any = None) -> Router:
    """The /static router: versioned and unversioned asset URLs, served by Litestar's own file handling, plus the
    conditional GET Litestar's static files lack (a matching ``If-None-Match`` is a 304), so ``no-cache`` costs a
    round trip and not the file."""
    # Litestar's StaticFiles keeps the path checks (no escaping the directory) and sends ETag/Last-Modified.
    files = {
        cache_control: StaticFiles(
            is_html_mode=False,
            directories=[directory],
            file_system=BaseLocalFileSystem(),
            headers={"Cache-Control": cache_control},
        )
        for cache_control in (IMMUTABLE, REVALIDATE)
    }

    async def serve(request: Request[Any, Any, Any], path: PurePath, cache_control: str) -> ASGIResponse:
        is_head = request.method == "HEAD"
        response = await files[cache_control].handle(path=path.as_posix(), is_head_response=is_head)
        etag = await _etag(response)
        if etag in _etags(request.headers.get("if-none-match")):
            return ASGIResponse(status_code=304, headers={"ETag": etag, "Cache-Control": cache_control})
        return response

    def versioned_cache(asset_build: str) -> str:
        return IMMUTABLE if asset_build == version else REVALIDATE

    @route("/v/{asset_build:str}/{file_path:path}", http_method=_GET_HEAD, name="static-versioned")
    async def versioned(
        request: Request[Any, Any, Any], asset_build: FromPath[str], file_path: FromPath[PurePath]
    ) -> ASGIResponse:
        return await serve(request, file_path, versioned_cache(asset_build))

    @route("/{file_path:path}", http_method=_GET_HEAD, name="static")
    async def unversioned(request: Request[Any, Any, Any], file_path: FromPath[PurePath]) -> ASGIResponse:
        return await serve(request, file_path, REVALIDATE)

    return Router(
        "/static",
        route_handlers=[versioned, unversioned],
        include_in_schema=False,
        after_request=after_request,
    )


async def _etag(response: ASGIFileResponse) -> str:
    """The ETag Litestar will send for this file (from its path, size and modification time)."""
    info = response.file_info
    if iscoroutine(info):
        info = response.file_info = await info
    assert isinstance(info, dict)
    mtime = get_fsspec_mtime_equivalent(info)  # type: ignore[arg-type]
    return create_etag_for_file(path=response.file_path, modified_time=mtime, file_size=info["size"])


def _etags(header: str | None) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in (header or "").split(",") if tag.strip()}
