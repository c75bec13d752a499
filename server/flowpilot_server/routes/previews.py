"""Previews under ``/api/v1/ai-sessions/{id}``: the resolution note and the escalation package."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import PathParameter

from flowpilot_core.db.engine import tenant_session
from flowpilot_core.db.read_tx import read_transaction
from flowpilot_core.previews import Preview, PreviewKind, WordedPreview
from flowpilot_server.deps import Caller, CallerDep

SessionId = Annotated[uuid.UUID, PathParameter(title="Session id")]
_DESCRIPTION = (
    "Built from stored rows only. `lines` lists every non-blank line of `markdown` with the rows it came from "
    "(fact, fix, task-lane item, session or ticket field, or the template's own section heading). Send "
    "`If-None-Match` with the `ETag` of a preview you hold: 304 while the session's state is unchanged."
)


async def _preview(
    request: Request[Any, Any, Any], caller: Caller, session_id: uuid.UUID, kind: PreviewKind
) -> Response[Any]:
    """Whether the caller's copy is current is one read of the session's row; a warm preview is the cache's
    bytes; only a cold one opens a unit of work to render (after the read has given its connection back)."""
    runtime, principal = caller.runtime, caller.principal
    async with read_transaction(runtime.engine, principal.account_id) as tx:
        key = await runtime.previews.current_key(tx, principal, session_id, kind)
    etag = f'"{key}"'
    if request.headers.get("if-none-match") == etag:
        return Response(content=b"", status_code=304, headers=_headers(etag))
    body = await runtime.previews.cached_json(key, kind)
    if body is None:
        async with tenant_session(runtime.sessionmaker, principal.account_id) as db:
            etag, body = await runtime.previews.build_json(db, principal, session_id, kind)
    return Response(content=body, media_type="application/json", headers=_headers(etag))


def _headers(etag: str) -> dict[str, str]:
    return {"ETag": etag, "Cache-Control": "private, no-cache"}


_PREVIEW_RESPONSES = {
    200: ResponseSpec(Preview, description="The preview, with every line's sources", generate_examples=False),
    304: ResponseSpec(None, description="Unchanged since the preview whose ETag was sent", generate_examples=False),
}
_WORDING = (
    "The model rephrases the deterministic preview's lines (the kind's own service and model tier). A reworded "
    "line is kept only if every number, IP address, host, path, error code, command and quoted string in it occurs "
    "in the rows the line came from; `refused` lists the others, which keep their deterministic text. Sources and "
    "headings never change."
)


class PreviewsController(Controller):
    path = "/api/v1/ai-sessions/{session_id:uuid}"
    tags = ["previews"]

    @get(
        "/resolution-note/preview",
        operation_id="previewResolutionNote",
        summary="The resolution note: Problem, What we confirmed, Root cause, Resolution",
        description=_DESCRIPTION,
        responses=_PREVIEW_RESPONSES,
    )
    async def resolution_note(
        self, request: Request[Any, Any, Any], caller: CallerDep, session_id: SessionId
    ) -> Response[Any]:
        return await _preview(request, caller, session_id, "resolution_note")

    @get(
        "/escalation-package/preview",
        operation_id="previewEscalationPackage",
        summary="The escalation package: Problem, What we've confirmed, What we've tried, Current hypothesis, "
        "Suggested next steps",
        description=_DESCRIPTION,
        responses=_PREVIEW_RESPONSES,
    )
    async def escalation_package(
        self, request: Request[Any, Any, Any], caller: CallerDep, session_id: SessionId
    ) -> Response[Any]:
        return await _preview(request, caller, session_id, "escalation_package")

    @post(
        "/resolution-note/preview/improve",
        operation_id="improveResolutionNoteWording",
        status_code=200,
        summary="Improve the resolution note's wording with the model; lines that would add anything are refused",
        description=_WORDING,
    )
    async def improve_resolution_note(self, caller: CallerDep, session_id: SessionId) -> WordedPreview:
        return await caller.runtime.wording.improve(caller.principal, session_id, "resolution_note")

    @post(
        "/escalation-package/preview/improve",
        operation_id="improveEscalationPackageWording",
        status_code=200,
        summary="Improve the escalation package's wording with the model; lines that would add anything are refused",
        description=_WORDING,
    )
    async def improve_escalation_package(self, caller: CallerDep, session_id: SessionId) -> WordedPreview:
        return await caller.runtime.wording.improve(caller.principal, session_id, "escalation_package")
