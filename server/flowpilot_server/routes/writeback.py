"""Confirm & post under ``/api/v1/ai-sessions/{id}``, and the account's PSA connections."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.params import JSONBody, PathParameter

from flowpilot_core import psa
from flowpilot_core.errors import Forbidden
from flowpilot_core.psa.check import CheckConnection, ConnectionCheck, check_connection
from flowpilot_core.writeback import PostNote, WritebackResult, get_writeback
from flowpilot_core.writeback.engine import IDEMPOTENCY_KEY
from flowpilot_core.writeback.quality import NoteQualityReport, note_quality
from flowpilot_server.deps import CallerDep, Ctx, require_api_key

SessionId = Annotated[uuid.UUID, PathParameter(title="Session id")]
ConnectionId = Annotated[uuid.UUID, PathParameter(title="PSA connection id")]
IdempotencyKey = Annotated[
    str,
    PathParameter(title="Idempotency key", description="The `idempotency_key` the confirmation was posted with",
                  min_length=8, max_length=100, pattern=IDEMPOTENCY_KEY),
]  # fmt: skip
_POST = (
    "Stores the markdown and a writeback record first, then posts it to the session's PSA ticket as an internal "
    "note carrying an idempotency marker, sets the ticket's status from the connection's mapping and re-reads it "
    "(twice). The session is {done} only when the note is posted and the status verified; a 502 `Ticket status "
    "not verified` carries the partial result, and a retry with the same `idempotency_key` re-does only the status. "
    "A session without a ticket is {done} locally. A `state_version` older than the session's is a 409."
)


class WritebackController(Controller):
    path = "/api/v1/ai-sessions/{session_id:uuid}"
    tags = ["writeback"]

    @post(
        "/resolution-note/post",
        operation_id="postResolutionNote",
        status_code=200,
        summary="Confirm & post the resolution note; resolve the ticket, verified",
        description=_POST.format(done="resolved"),
    )
    async def resolve(self, caller: CallerDep, session_id: SessionId, data: JSONBody[PostNote]) -> WritebackResult:
        return await caller.runtime.writeback.post(caller.principal, session_id, "resolution", data)

    @post(
        "/escalation-package/post",
        operation_id="postEscalationPackage",
        status_code=200,
        summary="Confirm & post the escalation package; move the ticket to the escalation status, verified",
        description=_POST.format(done="escalated"),
    )
    async def escalate(self, caller: CallerDep, session_id: SessionId, data: JSONBody[PostNote]) -> WritebackResult:
        return await caller.runtime.writeback.post(caller.principal, session_id, "escalation", data)

    @get(
        "/writebacks/{idempotency_key:str}",
        operation_id="getWriteback",
        summary="Where a confirm & post stands, by its idempotency key (readable while the post runs)",
        description=(
            "`pending`: the note is being posted; `posted`: the note is on the ticket and its status is being set "
            "and verified; then `done`, `local` or `status_unverified`. The widget polls it while its POST runs to "
            "show posting → verifying."
        ),
    )
    async def get_writeback(self, ctx: Ctx, session_id: SessionId, idempotency_key: IdempotencyKey) -> WritebackResult:
        return await get_writeback(ctx.db, ctx.principal, session_id, idempotency_key)


@get(
    "/api/v1/note-quality",
    operation_id="noteQuality",
    tags=["writeback"],
    summary="How much technicians edit FlowPilot's notes before posting, per kind",
)
async def get_note_quality(ctx: Ctx) -> NoteQualityReport:
    return await note_quality(ctx.db, ctx.principal.account_id)


class PsaConnectionController(Controller):
    path = "/api/v1/psa-connections"
    tags = ["psa"]

    @get("", operation_id="listPsaConnections", summary="The account's PSA connections (credentials never shown)")
    async def list_connections(self, ctx: Ctx) -> list[psa.PsaConnectionOut]:
        return await psa.list_connections(ctx.db, ctx.principal.account_id, ctx.runtime.secret_key)

    @post("", operation_id="createPsaConnection", status_code=201, summary="Add a PSA connection; API key only")
    async def create(self, ctx: Ctx, data: JSONBody[psa.CreatePsaConnection]) -> psa.PsaConnectionOut:
        require_api_key(ctx)
        return await psa.create_connection(
            ctx.db, ctx.principal.account_id, data, ctx.runtime.secret_key, ctx.runtime.plugins.psa_providers
        )

    @patch(
        "/{connection_id:uuid}",
        operation_id="updatePsaConnection",
        summary="Change a PSA connection; API key only",
        description="Omitted fields stay as they are. `config` holds the keys to change (null removes one); the "
        "merged config is validated by the provider before it is stored, encrypted. `statuses` replaces the "
        "mapping. `is_default: true` makes it the account's one default connection.",
    )
    async def update(
        self, ctx: Ctx, connection_id: ConnectionId, data: JSONBody[psa.UpdatePsaConnection]
    ) -> psa.PsaConnectionOut:
        require_api_key(ctx)
        return await psa.update_connection(
            ctx.db, ctx.principal.account_id, connection_id, data, ctx.runtime.secret_key,
            ctx.runtime.plugins.psa_providers,
        )  # fmt: skip

    @post(
        "/{connection_id:uuid}/test",
        operation_id="testPsaConnection",
        status_code=200,
        summary="Test a PSA connection: authenticate, read a ticket's statuses, show the mapped ones; API key only",
        description="Writes nothing. The body may be `{}`. With `ticket_ref`, reads that ticket and the statuses "
        "it can take, and shows the status a resolution and an escalation would get (`ok` is false when the "
        "mapping names none of them). "
        "A PSA failure is its problem (rejected credentials, unreachable, rate-limited with Retry-After); a ticket "
        "the PSA does not have is a 404.",
    )
    async def test(
        self, caller: CallerDep, connection_id: ConnectionId, data: JSONBody[CheckConnection]
    ) -> ConnectionCheck:
        if caller.principal.via != "api_key":
            raise Forbidden("this endpoint is for server-to-server calls with an API key, not for embed tokens")
        runtime = caller.runtime
        return await check_connection(
            runtime.sessionmaker, caller.principal.account_id, connection_id, data,
            secret_key=runtime.secret_key, providers=runtime.plugins.psa_providers,
        )  # fmt: skip

    @delete("/{connection_id:uuid}", operation_id="deletePsaConnection", summary="Remove a PSA connection")
    async def remove(self, ctx: Ctx, connection_id: ConnectionId) -> None:
        require_api_key(ctx)
        await psa.delete_connection(ctx.db, ctx.principal.account_id, connection_id)
