"""The troubleshooting loop under ``/api/v1/ai-sessions/{id}``: chat, the task lane, facts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import JSONBody, Parameter, PathParameter
from litestar.response import ServerSentEvent

from flowpilot_core.ai.errors import RETRY_HINT
from flowpilot_core.errors import DatabaseUnavailable, database_unavailable
from flowpilot_core.facts import crud as facts_engine
from flowpilot_core.sessions import task_lane as lane_engine
from flowpilot_core.sessions.answers import ItemUpdate
from flowpilot_core.sessions.chat import ChatRequest, ChatTurn
from flowpilot_core.sessions.lifecycle import get_task_lane
from flowpilot_core.sessions.transcript import MAX_PAGE, MessageList, read_messages
from flowpilot_server.deps import CallerDep, Ctx, Reads
from flowpilot_server.sse import event_stream

SessionId = Annotated[uuid.UUID, PathParameter(title="Session id")]
ItemId = Annotated[uuid.UUID, PathParameter(title="Task-lane item id")]
FactId = Annotated[uuid.UUID, PathParameter(title="Fact id")]

REPLY_NOT_SAVED = f"FlowPilot lost its database connection before the reply could be saved. {RETRY_HINT}"


def _turn_error(exc: Exception) -> Exception:
    # Once the stream has begun the technician's message is stored (the `user_message`
    # event says so): a lost database can only have cost the reply.
    return DatabaseUnavailable(REPLY_NOT_SAVED) if database_unavailable(exc) is not None else exc


async def _turn_events(events: AsyncIterator[tuple[str, Any]]) -> AsyncIterator[tuple[str, Any]]:
    async for name, payload in events:
        yield name, ({"text": payload} if name == "delta" else payload)


class TroubleshootingController(Controller):
    path = "/api/v1/ai-sessions/{session_id:uuid}"
    tags = ["troubleshooting"]

    @get(
        "/messages",
        operation_id="listMessages",
        summary="The session's transcript, in order",
        description=(
            "Every message, or with `limit` the most recent ones (before `before`, an `older_cursor` of an "
            "earlier answer): `older_cursor` is set when there are older messages still."
        ),
    )
    async def list_messages(
        self,
        reads: Reads,
        session_id: SessionId,
        before: Annotated[
            str | None, Parameter(description="older_cursor of the page after this one", max_length=40)
        ] = None,
        limit: Annotated[int | None, Parameter(ge=1, le=MAX_PAGE, description="page size (default: all)")] = None,
    ) -> MessageList:
        return await read_messages(reads.db, reads.principal, session_id, before=before, limit=limit)

    @post(
        "/messages",
        operation_id="postMessage",
        status_code=200,
        summary="Send the technician's message and get the assistant's turn",
        description=(
            "With `Accept: text/event-stream` the reply streams as server-sent events: `user_message` (the stored "
            "message), `delta` (text as it is generated), then `done` (the turn: reply with markers parsed, task "
            "lane, facts added) or `error` (the problem-details object a plain request would get, with "
            "`retryable` and, for 429, `retry_after`). A comment line is sent after 10 s without an event, so "
            "proxies keep a long turn open. Send `client_message_id` to make retries safe."
        ),
    )
    async def post_message(
        self, request: Request[Any, Any, Any], caller: CallerDep, session_id: SessionId, data: JSONBody[ChatRequest]
    ) -> Response[Any]:
        chat = caller.runtime.chat
        if "text/event-stream" in request.headers.get("accept", ""):
            events = await chat.stream_message(caller.principal, session_id, data)
            return ServerSentEvent(event_stream(_turn_events(events), translate=_turn_error))
        turn: ChatTurn = await chat.post_message(caller.principal, session_id, data)
        return Response(turn)

    @post(
        "/messages/continue",
        operation_id="continueConversation",
        status_code=200,
        summary="Move the conversation on after the technician answered the last reply's items in the task lane",
        description=(
            "Due when every question, check and action the last assistant reply proposed is settled and at least "
            "one was answered or done (item updates say `continue_due`). FlowPilot writes a short lane message "
            "(`origin: lane`) summarising the answers and returns the next assistant turn; streamed like "
            "`postMessage` with `Accept: text/event-stream`. Idempotent per assistant turn; 409 when nothing is "
            "due or the account turned `auto_continue_enabled` off."
        ),
    )
    async def continue_conversation(
        self, request: Request[Any, Any, Any], caller: CallerDep, session_id: SessionId
    ) -> Response[Any]:
        chat = caller.runtime.chat
        if "text/event-stream" in request.headers.get("accept", ""):
            events = await chat.stream_continue(caller.principal, session_id)
            return ServerSentEvent(event_stream(_turn_events(events), translate=_turn_error))
        turn: ChatTurn = await chat.continue_turn(caller.principal, session_id)
        return Response(turn)

    @get("/task-lane", operation_id="getTaskLane", summary="Questions, diagnostic checks and actions")
    async def get_lane(self, reads: Reads, session_id: SessionId) -> lane_engine.TaskLane:
        return await get_task_lane(reads.db, reads.principal, session_id)

    @post(
        "/task-lane/{item_id:uuid}/answer",
        operation_id="answerQuestion",
        status_code=200,
        summary="Answer a question; a clear answer becomes a fact",
    )
    async def answer(
        self, caller: CallerDep, session_id: SessionId, item_id: ItemId, data: JSONBody[lane_engine.AnswerQuestion]
    ) -> ItemUpdate:
        return await caller.runtime.answers.answer(caller.principal, session_id, str(item_id), data.answer)

    @post(
        "/task-lane/{item_id:uuid}/output",
        operation_id="recordCheckOutput",
        status_code=200,
        summary="Record a diagnostic check's output (up to 64 KB); a clear result becomes a fact",
    )
    async def output(
        self, caller: CallerDep, session_id: SessionId, item_id: ItemId, data: JSONBody[lane_engine.RecordOutput]
    ) -> ItemUpdate:
        return await caller.runtime.answers.record_output(caller.principal, session_id, str(item_id), data.output)

    @post(
        "/task-lane/{item_id:uuid}/dismiss",
        operation_id="dismissItem",
        status_code=200,
        summary="Dismiss a task-lane item",
    )
    async def dismiss(self, caller: CallerDep, session_id: SessionId, item_id: ItemId) -> ItemUpdate:
        return await caller.runtime.answers.dismiss(caller.principal, session_id, str(item_id))

    @get("/facts", operation_id="listFacts", summary="What We Know")
    async def list_facts(self, reads: Reads, session_id: SessionId) -> facts_engine.FactList:
        return await facts_engine.list_facts(reads.db, reads.principal, session_id)

    @post("/facts", operation_id="createNote", status_code=201, summary="Add a manual note")
    async def create_fact(
        self, ctx: Ctx, session_id: SessionId, data: JSONBody[facts_engine.CreateFact]
    ) -> facts_engine.FactOut:
        return await facts_engine.create_manual_fact(ctx.db, ctx.principal, session_id, data.text)

    @patch(
        "/facts/{fact_id:uuid}",
        operation_id="updateFact",
        summary="Edit a manual or AI-synthesised fact (facts from questions/checks are read-only: 409)",
    )
    async def update_fact(
        self, ctx: Ctx, session_id: SessionId, fact_id: FactId, data: JSONBody[facts_engine.UpdateFact]
    ) -> facts_engine.FactOut:
        return await facts_engine.update_fact(ctx.db, ctx.principal, session_id, fact_id, data.text)

    @delete("/facts/{fact_id:uuid}", operation_id="deleteFact", summary="Remove a fact (soft delete)")
    async def delete_fact(self, ctx: Ctx, session_id: SessionId, fact_id: FactId) -> None:
        await facts_engine.delete_fact(ctx.db, ctx.principal, session_id, fact_id)

    @post("/facts/promote", operation_id="promoteItem", summary="Promote a task-lane item to a fact (idempotent)")
    async def promote(
        self, caller: CallerDep, session_id: SessionId, data: JSONBody[facts_engine.PromoteItem]
    ) -> Response[facts_engine.FactOut]:
        fact, created = await caller.runtime.answers.promote_item(
            caller.principal, session_id, data.source_ref, data.text
        )
        return Response(fact, status_code=201 if created else 200)
