"""Suggested fixes under ``/api/v1/ai-sessions/{id}/suggested-fixes``: the active fix, its history, decisions."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get, post
from litestar.params import JSONBody, PathParameter

from flowpilot_core import fixes
from flowpilot_server.deps import Ctx, Reads

SessionId = Annotated[uuid.UUID, PathParameter(title="Session id")]
FixId = Annotated[uuid.UUID, PathParameter(title="Suggested fix id")]


class FixesController(Controller):
    path = "/api/v1/ai-sessions/{session_id:uuid}/suggested-fixes"
    tags = ["fixes"]

    @get("", operation_id="listSuggestedFixes", summary="The active suggested fix and every earlier one")
    async def list_fixes(self, reads: Reads, session_id: SessionId) -> fixes.SuggestedFixes:
        return await fixes.list_fixes(reads.db, reads.principal, session_id)

    @post(
        "/{fix_id:uuid}/decision",
        operation_id="decideSuggestedFix",
        status_code=200,
        summary="Record what the technician decided to do with the active fix",
        description=(
            "`one_off` (run a one-off script), `draft_template` (run now, templatize after resolve), "
            "`build_template` (build a template now) or `dismissed`. Records who decided and when and bumps the "
            "session's `state_version`. A decision on a superseded fix is a 409."
        ),
    )
    async def decide(
        self, ctx: Ctx, session_id: SessionId, fix_id: FixId, data: JSONBody[fixes.DecideFix]
    ) -> fixes.SuggestedFixOut:
        return await fixes.decide_fix(ctx.db, ctx.principal, session_id, fix_id, data.decision)
