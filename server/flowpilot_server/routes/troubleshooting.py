"""The troubleshooting loop under ``/api/v1/ai-sessions/{id}``: chat, the task lane, facts."""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import JSONBody, PathParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from flowpilot_core.ai.errors import AIError, AIRateLimited
from flowpilot_core.errors import RateLimited, UpstreamUnavailable
from flowpilot_core.facts import crud as facts_engine
from flowpilot_core.sessions import task_lane as lane_engine
from flowpilot_core.sessions.answers import ItemUpdate
from flowpilot_core.sessions.chat import ChatRequest, ChatTurn, MessageList
from flowpilot_core.sessions.lifecycle import get_session_row
from flowpilot_server.deps import CallerDep, Ctx

SessionId = Annotated[uuid.UUID, PathParameter(title="Session id")]
ItemId = Annotated[uuid.UUID, PathParameter(title="Task-lane item id")]
FactId = Annotated[uuid.UUID, PathParameter(title="Fact id")]


def ai_problem(exc: AIError) -> UpstreamUnavailable:
    """A model failure as the technician sees it: what happened, that their message is safe, whether to retry."""
    if not exc.retryable:
        return UpstreamUnavailable(f"{exc.message} Nothing you sent was lost.", retryable=False)
    detail = f"{exc.message} Nothing you sent was lost; send it again to retry."
    if isinstance(exc, AIRateLimited):
        return RateLimited(detail, retry_after=math.ceil(exc.retry_after) if exc.retry_after else None)
    return UpstreamUnavailable(detail)


def _sse(event: str, payload: Any) -> ServerSentEventMessage:
    return ServerSentEventMessage(event=event, data=msgspec.json.encode(payload).decode())


class TroubleshootingController(Controller):
    path = "/api/v1/ai-sessions/{session_id:uuid}"
    tags = ["troubleshooting"]

    @get("/messages", operation_id="listMessages", summary="The session's transcript, in order")
    async def list_messages(self, caller: CallerDep, session_id: SessionId) -> MessageList:
        return await caller.runtime.chat.list_messages(caller.principal, session_id)

    @post(
        "/messages",
        operation_id="postMessage",
        status_code=200,
        summary="Send the technician's message and get the assistant's turn",
        description=(
            "With `Accept: text/event-stream` the reply streams as server-sent events: `user_message` (the stored "
            "message), `delta` (text as it is generated), then `done` (the turn: reply with markers parsed, task "
            "lane, facts added) or `error` (a problem-details object). Send `client_message_id` to make retries "
            "safe."
        ),
    )
    async def post_message(
        self, request: Request[Any, Any, Any], caller: CallerDep, session_id: SessionId, data: JSONBody[ChatRequest]
    ) -> Response[Any]:
        chat = caller.runtime.chat
        if "text/event-stream" in request.headers.get("accept", ""):
            events = await chat.stream_message(caller.principal, session_id, data)
            return ServerSentEvent(self._stream(events))
        try:
            turn: ChatTurn = await chat.post_message(caller.principal, session_id, data)
        except AIError as exc:
            raise ai_problem(exc) from exc
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
            return ServerSentEvent(self._stream(events))
        try:
            turn: ChatTurn = await chat.continue_turn(caller.principal, session_id)
        except AIError as exc:
            raise ai_problem(exc) from exc
        return Response(turn)

    @staticmethod
    async def _stream(events: AsyncIterator[tuple[str, Any]]) -> AsyncIterator[ServerSentEventMessage]:
        try:
            async for name, payload in events:
                yield _sse(name, {"text": payload} if name == "delta" else payload)
        except AIError as exc:
            problem = ai_problem(exc)
            yield _sse(
                "error",
                {
                    "status": problem.status,
                    "title": problem.title,
                    "detail": problem.detail,
                    "retryable": exc.retryable,
                },
            )

    @get("/task-lane", operation_id="getTaskLane", summary="Questions, diagnostic checks and actions")
    async def get_lane(self, ctx: Ctx, session_id: SessionId) -> lane_engine.TaskLane:
        session = await get_session_row(ctx.db, ctx.principal, session_id)
        return lane_engine.lane_of(session)

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
    async def list_facts(self, ctx: Ctx, session_id: SessionId) -> facts_engine.FactList:
        return await facts_engine.list_facts(ctx.db, ctx.principal, session_id)

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
