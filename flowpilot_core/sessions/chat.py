"""The chat turn: one pipeline for the server and the library.

A turn runs in two short transactions around the model call, so no transaction is
held open while the model thinks:

1. persist the technician's message (idempotent on ``client_message_id``) and gather
   the session's stable context: if the model then fails, nothing typed is lost and
   a retry with the same ``client_message_id`` continues the same turn; a message that
   explicitly answers a lane item (``answers_item_id``) records that answer on the item
   in the same transaction, and its fact is synthesised before the model is asked;
2. call the model through the cached wrapper (streamed or not);
3. persist the assistant's message directly after the message it answers and run the
   effect of each of its markers (:mod:`flowpilot_core.markers.effects`).

Only assistant output goes through the marker pipeline; what the technician types
and what a ticket says are plain text.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core.accounts import Principal
from flowpilot_core.ai.errors import AIError
from flowpilot_core.ai.gateway import AIGateway, BoundAI
from flowpilot_core.ai.types import CallSpec, Completion
from flowpilot_core.db.engine import tenant_session
from flowpilot_core.db.models import AiMessage, AiSession
from flowpilot_core.errors import Conflict, InvalidInput
from flowpilot_core.facts import crud as facts_engine
from flowpilot_core.fixes.suggested import SuggestedFixOut
from flowpilot_core.markers import default_parsers, parse_assistant_output
from flowpilot_core.markers.effects import MarkerEffect, TurnContext, apply_effects
from flowpilot_core.sessions import continuation
from flowpilot_core.sessions import task_lane as lane_engine
from flowpilot_core.sessions.answers import auto_continue_enabled, learn_from_item, retire_item_facts
from flowpilot_core.sessions.chat_prompt import SYSTEM_SECTIONS, build_chat_spec
from flowpilot_core.sessions.lifecycle import get_session_row
from flowpilot_core.sessions.marker_effects import BUILTIN_EFFECTS
from flowpilot_core.sessions.transcript import MessageList, MessageOut, message_out, read_messages

log = logging.getLogger("flowpilot.chat")

MAX_MESSAGE_CHARS = 32_000


class ChatRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``POST /api/v1/ai-sessions/{id}/messages``."""

    content: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_MESSAGE_CHARS)]
    client_message_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None
    """Set it to make retries safe: the same id never creates a second message."""
    answers_item_id: uuid.UUID | None = None
    """The open task-lane question this message answers, when the technician says so; the message
    becomes the question's answer (``answered_via = "chat"``). Without it, a chat message answers nothing."""


class ChatTurn(msgspec.Struct):
    user_message: MessageOut
    assistant_message: MessageOut
    task_lane: lane_engine.TaskLane
    added_items: list[lane_engine.TaskLaneItem]
    facts_added: list[facts_engine.FactOut]
    state_version: int
    suggested_fix: SuggestedFixOut | None = None
    """The fix this turn proposed and made active (a repeat of the active fix is not reported again)."""


async def _next_seq(db: AsyncSession, session_id: uuid.UUID) -> int:
    """The next arrival position; callers hold the session row lock, so positions never collide."""
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
    learned: list[facts_engine.FactOut] = field(default_factory=list)
    """The fact of the lane question this message answered (``answers_item_id``), if one was made."""


@dataclass(frozen=True)
class _NewMessage:
    content: str
    client_message_id: str | None
    origin: Literal["chat", "lane"] = "chat"
    answers_item_id: str | None = None


class ChatService:
    """Chat turns and transcripts; the REST API and Python callers use the same methods."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        ai: AIGateway,
        marker_parsers: Mapping[str, Any] | None = None,
        marker_effects: Mapping[str, MarkerEffect] | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.ai = ai
        # Parsers and effects contributed by plugins (register_marker_parsers / register_marker_effects);
        # the built-in grammar and effects without a plugin manager.
        self.marker_parsers = dict(marker_parsers) if marker_parsers else default_parsers()
        self.marker_effects: dict[str, MarkerEffect] = dict(marker_effects) if marker_effects else dict(BUILTIN_EFFECTS)

    async def list_messages(
        self, principal: Principal, session_id: uuid.UUID, *, before: str | None = None, limit: int | None = None
    ) -> MessageList:
        """The transcript (:func:`flowpilot_core.sessions.transcript.read_messages`) in a transaction of its own."""
        async with tenant_session(self.sessionmaker, principal.account_id) as db:
            return await read_messages(db, principal, session_id, before=before, limit=limit)

    async def post_message(self, principal: Principal, session_id: uuid.UUID, request: ChatRequest) -> ChatTurn:
        prepared = await self._prepare(principal, session_id, _message(request))
        return await self._complete(principal, session_id, prepared)

    async def stream_message(
        self, principal: Principal, session_id: uuid.UUID, request: ChatRequest
    ) -> AsyncIterator[tuple[str, Any]]:
        """Yields ``("user_message", MessageOut)``, ``("delta", str)``..., then ``("done", ChatTurn)``.

        Raises before the first event when the request is invalid (so the caller can
        answer with a plain 4xx); model failures after that are raised from the iterator.
        """
        prepared = await self._prepare(principal, session_id, _message(request))
        return self._stream(principal, session_id, prepared)

    async def continue_turn(self, principal: Principal, session_id: uuid.UUID) -> ChatTurn:
        """The next assistant turn after the technician settled, in the lane, what the last one asked.

        Idempotent: continuing the same assistant turn again returns the same turn.
        Raises :class:`Conflict` when no continuation is due (or the account turned it off).
        """
        prepared = await self._prepare(principal, session_id, await self._continuation(principal, session_id))
        return await self._complete(principal, session_id, prepared)

    async def stream_continue(self, principal: Principal, session_id: uuid.UUID) -> AsyncIterator[tuple[str, Any]]:
        """:meth:`continue_turn`, streamed like :meth:`stream_message`."""
        prepared = await self._prepare(principal, session_id, await self._continuation(principal, session_id))
        return self._stream(principal, session_id, prepared)

    async def _continuation(self, principal: Principal, session_id: uuid.UUID) -> _NewMessage:
        async with tenant_session(self.sessionmaker, principal.account_id) as db:
            session = await get_session_row(db, principal, session_id)
            lane = lane_engine.lane_of(session)
            last = await continuation.last_message(db, session_id)
            if last is not None and last.origin == "lane" and last.client_message_id:
                # The continuation was sent and its turn has not finished (a retry): send the same one again.
                return _NewMessage(last.content, last.client_message_id, origin="lane")
            if not await auto_continue_enabled(db, principal):
                raise Conflict("automatic continuation is turned off for this account (auto_continue_enabled)")
            if not continuation.is_due(lane, last):
                raise Conflict(
                    "nothing to continue: answer the questions and checks of the last reply first, or send a message"
                )
            assert last is not None
            return _NewMessage(continuation.summary(lane, last), continuation.client_message_id(last), origin="lane")

    async def _complete(self, principal: Principal, session_id: uuid.UUID, prepared: _Prepared) -> ChatTurn:
        if prepared.finished is not None:
            return prepared.finished
        assert prepared.ai is not None and prepared.spec is not None
        completion = await prepared.ai.call(prepared.spec)
        return await self._finish(principal, session_id, prepared.user.id, completion, prepared.learned)

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
        yield "done", await self._finish(principal, session_id, prepared.user.id, completion, prepared.learned)

    async def _prepare(self, principal: Principal, session_id: uuid.UUID, new: _NewMessage) -> _Prepared:
        content = new.content.strip()
        if not content:
            raise InvalidInput("content must not be empty", field="content")
        answered: lane_engine.TaskLaneItem | None = None
        async with tenant_session(self.sessionmaker, principal.account_id) as db:
            # The row lock serialises turns of one session, so message order is the order of arrival.
            session = await get_session_row(db, principal, session_id, lock=True)
            if session.status != "open":
                raise Conflict(f"this session is {session.status}; open a new session to keep troubleshooting")
            user = await self._existing(db, session_id, new, content)
            if user is not None:
                reply = await _reply_to(db, user.id)
                if reply is not None:  # the turn completed before: answer it again, change nothing
                    return _Prepared(user=user, finished=await self._turn(db, session, user, reply, [], []))
            else:
                seq = await _next_seq(db, session_id)
                user = AiMessage(
                    account_id=principal.account_id,
                    session_id=session_id,
                    seq=seq,
                    turn_seq=seq,
                    origin=new.origin,
                    role="user",
                    content=content,
                    client_message_id=new.client_message_id,
                    author_user_id=principal.user_id,
                )
                db.add(user)
                await db.flush()
                await db.refresh(user)
                if new.answers_item_id is not None:
                    answered = self._answer_in_chat(session, new.answers_item_id, content, user)
                    await retire_item_facts(db, session_id, answered)
            ai = await self.ai.bind(db, principal.account_id)
            if answered is None:
                spec = await build_chat_spec(db, principal, session, content, before_turn=user.turn_seq)
                return _Prepared(user=user, spec=spec, ai=ai)
        # Learn the answer's fact first (outside any transaction), so the model's next step is built on it.
        fact, _ = await learn_from_item(self.sessionmaker, ai, principal, session_id, answered)
        async with tenant_session(self.sessionmaker, principal.account_id) as db:
            session = await get_session_row(db, principal, session_id)
            spec = await build_chat_spec(db, principal, session, content, before_turn=user.turn_seq)
        return _Prepared(user=user, spec=spec, ai=ai, learned=[fact] if fact else [])

    @staticmethod
    async def _existing(db: AsyncSession, session_id: uuid.UUID, new: _NewMessage, content: str) -> AiMessage | None:
        """The message a retry with the same ``client_message_id`` refers to."""
        if not new.client_message_id:
            return None
        user = (
            await db.execute(
                select(AiMessage).where(
                    AiMessage.session_id == session_id, AiMessage.client_message_id == new.client_message_id
                )
            )
        ).scalar_one_or_none()
        if user is not None and user.role != "user":
            raise Conflict("client_message_id is already used by another message", field="client_message_id")
        if user is not None and user.content != content:
            raise Conflict("client_message_id was already used for a different message", field="client_message_id")
        return user

    @staticmethod
    def _answer_in_chat(session: AiSession, item_id: str, content: str, message: AiMessage) -> lane_engine.TaskLaneItem:
        lane = lane_engine.lane_of(session)
        item = lane.find(item_id)
        if item is None:
            raise InvalidInput(f"task-lane item {item_id} is not in this session", field="answers_item_id")
        if item.kind != "question":
            raise InvalidInput(
                f"item {item_id} is a {item.kind}: record its output in the task lane", field="answers_item_id"
            )
        answered = lane_engine.record_answer(lane, item_id, content, via="chat", message_id=str(message.id))
        lane_engine.save(session, lane)
        return answered

    async def _finish(
        self,
        principal: Principal,
        session_id: uuid.UUID,
        user_id: uuid.UUID,
        completion: Completion,
        learned: list[facts_engine.FactOut] | None = None,
    ) -> ChatTurn:
        parsed = parse_assistant_output(completion.text, self.marker_parsers)
        async with tenant_session(self.sessionmaker, principal.account_id) as db:
            session = await get_session_row(db, principal, session_id, lock=True)
            user = (await db.execute(select(AiMessage).where(AiMessage.id == user_id))).scalar_one()
            existing = await _reply_to(db, user_id)
            if existing is not None:  # a concurrent retry finished this turn first
                return await self._turn(db, session, user, existing, [], [])
            reply = AiMessage(
                account_id=principal.account_id,
                session_id=session_id,
                seq=await _next_seq(db, session_id),
                turn_seq=user.turn_seq,
                role="assistant",
                content=completion.text,
                display_content=parsed.display,
                reply_to_id=user_id,
            )
            db.add(reply)
            await db.flush()
            turn = TurnContext(
                db=db,
                principal=principal,
                session=session,
                lane=lane_engine.lane_of(session),
                reply=reply,
                facts_added=list(learned or []),
            )
            await apply_effects(turn, parsed.markers, self.marker_effects)
            markers = []
            for marker in parsed.markers:
                data = msgspec.to_builtins(marker)
                item_id = turn.linked_item(marker)
                if item_id:
                    data["item_id"] = item_id
                markers.append(data)
            reply.markers = markers
            lane_engine.save(session, turn.lane)
            await db.flush()
            await db.refresh(reply)
            await db.refresh(session)
            return await self._turn(db, session, user, reply, turn.items_added, turn.facts_added, turn.suggested_fix)

    async def _turn(
        self,
        db: AsyncSession,
        session: AiSession,
        user: AiMessage,
        reply: AiMessage,
        added: list[lane_engine.TaskLaneItem],
        facts_added: list[facts_engine.FactOut],
        suggested_fix: SuggestedFixOut | None = None,
    ) -> ChatTurn:
        return ChatTurn(
            user_message=message_out(user),
            assistant_message=message_out(reply),
            task_lane=lane_engine.lane_of(session),
            added_items=added,
            facts_added=facts_added,
            state_version=session.state_version,
            suggested_fix=suggested_fix,
        )


def _message(request: ChatRequest) -> _NewMessage:
    return _NewMessage(
        content=request.content,
        client_message_id=request.client_message_id,
        answers_item_id=str(request.answers_item_id) if request.answers_item_id else None,
    )


__all__ = [
    "SYSTEM_SECTIONS",
    "AIError",
    "ChatRequest",
    "ChatService",
    "ChatTurn",
    "MessageList",
    "MessageOut",
    "build_chat_spec",
]
