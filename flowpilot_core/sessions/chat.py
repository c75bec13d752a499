"""The chat turn: one pipeline for the server and the library.

A turn runs in two short transactions around the model call, so no transaction is
held open while the model thinks:

1. persist the technician's message (idempotent on ``client_message_id``) and gather
   the session's stable context: if the model then fails, nothing typed is lost and
   a retry with the same ``client_message_id`` continues the same turn;
2. call the model through the cached wrapper (streamed or not);
3. persist the assistant's message, apply its markers (task-lane items with stable
   ids, ``[PROMOTE]`` facts through the same promote path as the API).

Only assistant output goes through the marker pipeline; what the technician types
and what a ticket says are plain text.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core.accounts.accounts import Principal, get_account
from flowpilot_core.ai.errors import AIError
from flowpilot_core.ai.gateway import AIGateway, BoundAI
from flowpilot_core.ai.types import CallSpec, ChatMessage, Completion
from flowpilot_core.db.engine import tenant_session
from flowpilot_core.db.models import AiMessage, AiSession
from flowpilot_core.errors import Conflict, InvalidInput
from flowpilot_core.facts import crud as facts_engine
from flowpilot_core.markers import MARKER_GRAMMAR_PROMPT, PromoteMarker, default_parsers, parse_assistant_output
from flowpilot_core.sessions import task_lane as lane_engine
from flowpilot_core.sessions.lifecycle import get_session_row

log = logging.getLogger("flowpilot.chat")

MAX_MESSAGE_CHARS = 32_000

ROLE_PROMPT = """You are FlowPilot, a troubleshooting copilot for technicians at IT managed-service providers.
You help one technician resolve one ticket. Work like a senior engineer: form hypotheses from the ticket,
ask one or two precise questions at a time, and propose diagnostic checks with the exact command to run
(PowerShell unless the platform says otherwise). Be conservative: state as known only what the technician
confirmed or a check showed, and promote such confirmed statements into facts. Never invent ticket details,
outputs or results. Keep replies short and practical; the technician is busy."""

SYSTEM_SECTIONS: tuple[str, ...] = (ROLE_PROMPT, MARKER_GRAMMAR_PROMPT)


class ChatRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``POST /api/v1/ai-sessions/{id}/messages``."""

    content: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_MESSAGE_CHARS)]
    client_message_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None
    """Set it to make retries safe: the same id never creates a second message."""


class MessageOut(msgspec.Struct):
    id: uuid.UUID
    seq: int
    role: str
    content: str
    """What to show: for the assistant, the reply with markers rendered as text."""
    markers: list[dict[str, Any]]
    client_message_id: str | None
    reply_to_id: uuid.UUID | None
    created_at: datetime


class MessageList(msgspec.Struct):
    items: list[MessageOut]


class ChatTurn(msgspec.Struct):
    user_message: MessageOut
    assistant_message: MessageOut
    task_lane: lane_engine.TaskLane
    added_items: list[lane_engine.TaskLaneItem]
    facts_added: list[facts_engine.FactOut]
    state_version: int


def message_out(row: AiMessage) -> MessageOut:
    content = row.display_content if row.role == "assistant" and row.display_content is not None else row.content
    return MessageOut(
        id=row.id,
        seq=row.seq,
        role=row.role,
        content=content,
        markers=list(row.markers or []),
        client_message_id=row.client_message_id,
        reply_to_id=row.reply_to_id,
        created_at=row.created_at,
    )


def stable_context(session: AiSession, account_name: str | None = None) -> dict[str, Any]:
    """The parts of the session that do not change turn to turn (cached)."""
    ticket = {k: v for k, v in (session.ticket_snapshot or {}).items() if v}
    ticket["problem_statement"] = session.problem_statement
    if session.ticket_ref:
        ticket["ref"] = session.ticket_ref
    context: dict[str, Any] = {"ticket": ticket}
    if account_name:
        context["account"] = {"name": account_name}
    return context


def lane_context(lane: Mapping[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The lane as the model sees it: every item with its id (for ``[PROMOTE ref=…]``) and state."""
    keys = ("id", "kind", "text", "command", "status", "answer", "output")
    return [
        {k: item[k] for k in keys if item.get(k) is not None}
        for name in ("questions", "checks", "actions")
        for item in lane.get(name, [])
    ]


async def build_chat_spec(
    db: AsyncSession, principal: Principal, session: AiSession, request: str, *, before_seq: int | None = None
) -> CallSpec:
    """The chat call for ``session`` with ``request`` as the new technician message.

    Stable parts first (system sections, the ticket, the account), then the transcript
    before ``before_seq`` (all of it by default) echoed verbatim, then the growing facts
    and task lane; the same stored session gives byte-identical requests in any process.
    """
    query = select(AiMessage).where(AiMessage.session_id == session.id)
    if before_seq is not None:
        query = query.where(AiMessage.seq < before_seq)
    history = (await db.execute(query.order_by(AiMessage.seq))).scalars().all()
    live = await facts_engine.live_facts(db, session.id)
    account = await get_account(db, principal.account_id)
    context = stable_context(session, account.name)
    context["facts"] = [{"id": str(f.id), "text": f.text} for f in live]
    context["task_lane"] = lane_context(lane_engine.lane_of(session))
    return CallSpec(
        service="chat",
        system=SYSTEM_SECTIONS,
        context=context,
        history=tuple(
            ChatMessage(role="assistant" if m.role == "assistant" else "user", content=m.content)
            for m in history
            if m.status == "complete"
        ),
        request=request,
        max_tokens=1500,
        account_id=str(principal.account_id),
        session_id=str(session.id),
    )


async def _next_seq(db: AsyncSession, session_id: uuid.UUID) -> int:
    """The next transcript position; callers hold the session row lock, so positions never collide."""
    query = select(func.coalesce(func.max(AiMessage.seq), 0)).where(AiMessage.session_id == session_id)
    return int((await db.execute(query)).scalar_one()) + 1


async def _reply_to(db: AsyncSession, user_message_id: uuid.UUID) -> AiMessage | None:
    """The assistant reply that completed a technician's message, if the turn finished."""
    return (await db.execute(select(AiMessage).where(AiMessage.reply_to_id == user_message_id))).scalar_one_or_none()


@dataclass
class _Prepared:
    user: AiMessage
    spec: CallSpec | None = None
    ai: BoundAI | None = None
    finished: ChatTurn | None = None


class ChatService:
    """Chat turns and transcripts; the REST API and Python callers use the same methods."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        ai: AIGateway,
        marker_parsers: Mapping[str, Any] | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.ai = ai
        # Parsers contributed by plugins (hook register_marker_parsers); the built-in grammar otherwise.
        self.marker_parsers = dict(marker_parsers) if marker_parsers else default_parsers()

    async def list_messages(self, principal: Principal, session_id: uuid.UUID) -> MessageList:
        async with tenant_session(self.sessionmaker, principal.account_id) as db:
            await get_session_row(db, principal, session_id)
            rows = (
                await db.execute(select(AiMessage).where(AiMessage.session_id == session_id).order_by(AiMessage.seq))
            ).scalars()
            return MessageList(items=[message_out(r) for r in rows])

    async def post_message(self, principal: Principal, session_id: uuid.UUID, request: ChatRequest) -> ChatTurn:
        prepared = await self._prepare(principal, session_id, request)
        if prepared.finished is not None:
            return prepared.finished
        assert prepared.ai is not None and prepared.spec is not None
        completion = await prepared.ai.call(prepared.spec)
        return await self._finish(principal, session_id, prepared.user.id, completion)

    async def stream_message(
        self, principal: Principal, session_id: uuid.UUID, request: ChatRequest
    ) -> AsyncIterator[tuple[str, Any]]:
        """Yields ``("user_message", MessageOut)``, ``("delta", str)``..., then ``("done", ChatTurn)``.

        Raises before the first event when the request is invalid (so the caller can
        answer with a plain 4xx); model failures after that are raised from the iterator.
        """
        prepared = await self._prepare(principal, session_id, request)
        return self._stream(principal, session_id, prepared)

    async def _stream(
        self, principal: Principal, session_id: uuid.UUID, prepared: _Prepared
    ) -> AsyncIterator[tuple[str, Any]]:
        yield "user_message", message_out(prepared.user)
        if prepared.finished is not None:
            yield "done", prepared.finished
            return
        assert prepared.ai is not None and prepared.spec is not None
        completion: Completion | None = None
        async for item in prepared.ai.stream(prepared.spec):
            if isinstance(item, Completion):
                completion = item
            else:
                yield "delta", item
        assert completion is not None  # the wrapper raises when a stream ends without one
        yield "done", await self._finish(principal, session_id, prepared.user.id, completion)

    async def _prepare(self, principal: Principal, session_id: uuid.UUID, request: ChatRequest) -> _Prepared:
        content = request.content.strip()
        if not content:
            raise InvalidInput("content must not be empty", field="content")
        async with tenant_session(self.sessionmaker, principal.account_id) as db:
            # The row lock serialises turns of one session, so message order is the order of arrival.
            session = await get_session_row(db, principal, session_id, lock=True)
            if session.status != "open":
                raise Conflict(f"this session is {session.status}; open a new session to keep troubleshooting")
            user = None
            if request.client_message_id:
                user = (
                    await db.execute(
                        select(AiMessage).where(
                            AiMessage.session_id == session_id,
                            AiMessage.client_message_id == request.client_message_id,
                        )
                    )
                ).scalar_one_or_none()
                if user is not None and user.role != "user":
                    raise Conflict("client_message_id is already used by another message", field="client_message_id")
                if user is not None and user.content != content:
                    raise Conflict(
                        "client_message_id was already used for a different message", field="client_message_id"
                    )
            if user is not None:
                reply = await _reply_to(db, user.id)
                if reply is not None:  # the turn completed before: answer it again, change nothing
                    return _Prepared(
                        user=user,
                        finished=await self._turn(db, session, user, reply, [], []),
                    )
            else:
                seq = await _next_seq(db, session_id)
                user = AiMessage(
                    account_id=principal.account_id,
                    session_id=session_id,
                    seq=seq,
                    role="user",
                    content=content,
                    client_message_id=request.client_message_id,
                    author_user_id=principal.user_id,
                )
                db.add(user)
                await db.flush()
                await db.refresh(user)
            spec = await build_chat_spec(db, principal, session, content, before_seq=user.seq)
            ai = await self.ai.bind(db, principal.account_id)
        return _Prepared(user=user, spec=spec, ai=ai)

    async def _finish(
        self, principal: Principal, session_id: uuid.UUID, user_id: uuid.UUID, completion: Completion
    ) -> ChatTurn:
        parsed = parse_assistant_output(completion.text, self.marker_parsers)
        async with tenant_session(self.sessionmaker, principal.account_id) as db:
            session = await get_session_row(db, principal, session_id, lock=True)
            user = (await db.execute(select(AiMessage).where(AiMessage.id == user_id))).scalar_one()
            existing = await _reply_to(db, user_id)
            if existing is not None:  # a concurrent retry finished this turn first
                return await self._turn(db, session, user, existing, [], [])
            seq = await _next_seq(db, session_id)
            reply = AiMessage(
                account_id=principal.account_id,
                session_id=session_id,
                seq=seq,
                role="assistant",
                content=completion.text,
                display_content=parsed.display,
                reply_to_id=user_id,
            )
            db.add(reply)
            await db.flush()
            lane = lane_engine.lane_of(session)
            added, mapping = lane_engine.apply_markers(lane, parsed.markers, str(reply.id))
            facts_added = await self._promotions(db, principal, session_id, lane, parsed.markers)
            markers = []
            for marker, item_id in zip(parsed.markers, mapping, strict=True):
                data = msgspec.to_builtins(marker)
                if item_id:
                    data["item_id"] = item_id
                markers.append(data)
            reply.markers = markers
            lane_engine.save(session, lane)
            await db.flush()
            await db.refresh(reply)
            await db.refresh(session)
            return await self._turn(db, session, user, reply, added, facts_added)

    async def _promotions(
        self,
        db: AsyncSession,
        principal: Principal,
        session_id: uuid.UUID,
        lane: dict[str, list[dict[str, Any]]],
        markers: list[Any],
    ) -> list[facts_engine.FactOut]:
        added = []
        for marker in markers:
            if not isinstance(marker, PromoteMarker):
                continue
            if marker.ref:
                item = lane_engine.find_item(lane, marker.ref)
                if item is None:
                    log.warning("[PROMOTE] names item %s, which is not in session %s: ignored", marker.ref, session_id)
                    continue
                origin: facts_engine.FactOrigin = lane_engine.fact_origin(item)
                source_ref = marker.ref
            else:
                origin, source_ref = "ai_synthesis", facts_engine.statement_ref(marker.text)
            try:
                async with db.begin_nested():  # a bad marker rolls back alone, never the reply
                    fact, created = await facts_engine.promote(
                        db, principal, session_id, text=marker.text, origin=origin, source_ref=source_ref
                    )
            except Exception as exc:  # one bad marker must not lose the reply
                log.warning("[PROMOTE] in session %s not applied: %s", session_id, exc)
                continue
            if created:
                added.append(fact)
        return added

    async def _turn(
        self,
        db: AsyncSession,
        session: AiSession,
        user: AiMessage,
        reply: AiMessage,
        added: list[dict[str, Any]],
        facts_added: list[facts_engine.FactOut],
    ) -> ChatTurn:
        return ChatTurn(
            user_message=message_out(user),
            assistant_message=message_out(reply),
            task_lane=lane_engine.to_struct(lane_engine.lane_of(session)),
            added_items=[msgspec.convert(i, lane_engine.TaskLaneItem) for i in added],
            facts_added=facts_added,
            state_version=session.state_version,
        )


__all__ = ["AIError", "ChatRequest", "ChatService", "ChatTurn", "MessageList", "MessageOut", "build_chat_spec"]
