"""``/api/v1/ai-sessions``: create, list and read FlowPilot sessions."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get, post
from litestar.params import JSONBody, Parameter, PathParameter

from flowpilot_core.sessions import from_ticket, opening
from flowpilot_core.sessions import lifecycle as engine
from flowpilot_server.deps import CallerDep, Reads

SessionId = Annotated[uuid.UUID, PathParameter(title="Session id", description="A FlowPilot session id")]
_CREATE = (
    "With `psa_connection` (a connection id, or `default`) and `ticket_ref`, FlowPilot reads the ticket from "
    "that PSA and snapshots it; an embed token whose ticket claim names a provider the account has a connection "
    "for does the same. A ticket the PSA does not have is a 404 in the PSA's words; a PSA that is down is a 503 "
    'with Retry-After, and `"unlinked": true` opens the session without the PSA (it resolves locally). A PSA '
    "failure's problem carries `can_open_unlinked: true` and `psa_detail` (the PSA's reason without that advice), "
    "so a client can offer the technician to start without the ticket."
)


class SessionController(Controller):
    path = "/api/v1/ai-sessions"
    tags = ["sessions"]

    @post(
        "/",
        operation_id="createSession",
        summary="Open a FlowPilot session, optionally on a ticket read from the PSA",
        description=_CREATE,
        status_code=201,
    )
    async def create(self, caller: CallerDep, data: JSONBody[engine.CreateSession]) -> engine.SessionOut:
        runtime = caller.runtime
        return await from_ticket.open_session(
            runtime.sessionmaker,
            caller.principal,
            data,
            secret_key=runtime.secret_key,
            providers=runtime.plugins.psa_providers,
        )

    @post(
        "/{session_id:uuid}/ticket/refresh",
        operation_id="refreshSessionTicket",
        summary="Re-read the session's ticket from its PSA",
        description="Replaces the ticket snapshot's PSA fields with the PSA's current ones and bumps "
        "`state_version` (previews follow). A ticket the PSA no longer has is a 404 in the PSA's words; a PSA "
        "that is down is a 503 with Retry-After. A closed or unlinked session is a 409.",
        status_code=200,
    )
    async def refresh_ticket(self, caller: CallerDep, session_id: SessionId) -> engine.SessionOut:
        runtime = caller.runtime
        return await from_ticket.refresh_ticket(
            runtime.sessionmaker,
            caller.principal,
            session_id,
            secret_key=runtime.secret_key,
            providers=runtime.plugins.psa_providers,
        )

    @get("/", operation_id="listSessions", summary="List sessions, most recently updated first, a page at a time")
    async def list(
        self,
        reads: Reads,
        status: Annotated[engine.SessionStatus | None, Parameter(description="open, resolved or escalated")] = None,
        session_type: Annotated[str | None, Parameter(description="filter by session_type")] = None,
        q: Annotated[str | None, Parameter(description="search title, problem, ticket", max_length=200)] = None,
        limit: Annotated[int, Parameter(ge=1, le=200, description="page size")] = 50,
        cursor: Annotated[str | None, Parameter(description="the next_cursor of the previous page")] = None,
    ) -> engine.SessionList:
        return await engine.list_sessions(
            reads.db, reads.principal, status=status, session_type=session_type, q=q, limit=limit, cursor=cursor
        )

    @get(
        "/{session_id:uuid}/open",
        operation_id="openSession",
        summary="Everything shown when a session opens, in one read",
        description=(
            "The session (its task lane in `pending_task_lane`), its live facts, its suggested fixes and the most "
            "recent `messages` messages of its transcript, read in one transaction: each part has the shape of "
            "`getSession`, `listFacts`, `listSuggestedFixes` and `listMessages`. When older messages exist, "
            "`messages.older_cursor` reads them: `GET .../messages?before=<older_cursor>`."
        ),
    )
    async def open_session(
        self,
        reads: Reads,
        session_id: SessionId,
        messages: Annotated[
            int, Parameter(ge=1, le=500, description="how many of the most recent messages to include")
        ] = opening.DEFAULT_MESSAGES,
    ) -> opening.OpenedSession:
        return await opening.open_session(reads.db, reads.principal, session_id, messages=messages)

    @get("/{session_id:uuid}", operation_id="getSession", summary="Read one session")
    async def get(self, reads: Reads, session_id: SessionId) -> engine.SessionOut:
        return await engine.get_session(reads.db, reads.principal, session_id)
