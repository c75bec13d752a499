"""Answering the task lane: a question's answer or a check's output, and the fact it may become.

Like a chat turn, an answer runs in two short transactions around the model call:
the answer is stored first (so it is never lost, even if synthesis fails), then
``FactSynthesisService`` asks the model, conservatively, whether the answer
establishes a fact, and a fact is promoted from the item (``source_ref`` = item id).

A fact never contradicts its item. Storing a new answer retires the fact of the old
one in the same transaction; the fact synthesised from an answer is promoted only
if, under the session's row lock, the item still holds that answer (its ``revision``
is unchanged). Two answers racing (a double click, "Yes" then "No") leave the fact of
the answer that is stored, or none.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core.accounts import Principal, get_setting
from flowpilot_core.ai.errors import AIError
from flowpilot_core.ai.gateway import AIGateway, BoundAI
from flowpilot_core.db.engine import tenant_session
from flowpilot_core.errors import Conflict
from flowpilot_core.facts import crud as facts_engine
from flowpilot_core.facts.synthesis import FactSynthesisService
from flowpilot_core.sessions import continuation
from flowpilot_core.sessions import task_lane as lane_engine
from flowpilot_core.sessions.lifecycle import bump_state_version, get_session_row
from flowpilot_core.sessions.task_lane import TaskLane, TaskLaneItem

log = logging.getLogger("flowpilot.answers")


class ItemUpdate(msgspec.Struct):
    """What answering, recording or dismissing an item changed."""

    item: TaskLaneItem
    fact: facts_engine.FactOut | None
    task_lane: TaskLane
    state_version: int
    synthesis_error: str | None = None
    """Set when the model could not be asked; the answer is stored and can be promoted by hand."""
    continue_due: bool = False
    """The technician has settled everything the last assistant turn asked: post a continuation
    (``POST .../messages/continue``) to move the conversation on. Always false when the account turned
    ``auto_continue_enabled`` off."""


async def retire_item_facts(db: AsyncSession, session_id: uuid.UUID, item: TaskLaneItem) -> None:
    """The item's answer changed: the fact the old answer produced no longer holds."""
    if await facts_engine.retire_facts_from(db, session_id, item.id):
        await bump_state_version(db, session_id)


async def learn_from_item(
    sessionmaker: async_sessionmaker[AsyncSession],
    ai: BoundAI,
    principal: Principal,
    session_id: uuid.UUID,
    item: TaskLaneItem,
) -> tuple[facts_engine.FactOut | None, str | None]:
    """Synthesise the fact ``item`` (as stored, at its revision) establishes and promote it if it still holds.

    Returns (fact, synthesis error). The model is asked outside any transaction; the
    promotion is a compare-and-set under the session's row lock.
    """
    given = item.given
    if not given or not given.strip():  # nothing said (an action marked done): nothing to learn from
        return None, None
    try:
        text = await FactSynthesisService(ai).synthesize(
            item, given, account_id=str(principal.account_id), session_id=str(session_id)
        )
    except AIError as exc:
        log.warning("fact synthesis failed for item %s: %s", item.id, exc)
        return None, str(exc)
    if not text:
        return None, None
    async with tenant_session(sessionmaker, principal.account_id) as db:
        session = await get_session_row(db, principal, session_id, lock=True)
        current = lane_engine.lane_of(session).find(item.id)
        if current is None or current.revision != item.revision:
            log.info("item %s changed while its fact was synthesised: the newer answer decides", item.id)
            return None, None
        fact, _ = await facts_engine.promote(
            db, principal, session_id, text=text, origin=item.rules.fact_origin, source_ref=item.id
        )
        return fact, None


async def auto_continue_enabled(db: AsyncSession, principal: Principal) -> bool:
    return bool(await get_setting(db, principal.account_id, "auto_continue_enabled", True))


class AnswerService:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], ai: AIGateway) -> None:
        self.sessionmaker = sessionmaker
        self.ai = ai

    async def answer(self, principal: Principal, session_id: uuid.UUID, item_id: str, answer: str) -> ItemUpdate:
        return await self._record(
            principal, session_id, lambda lane, after: lane_engine.record_answer(lane, item_id, answer, after=after)
        )

    async def record_output(self, principal: Principal, session_id: uuid.UUID, item_id: str, output: str) -> ItemUpdate:
        return await self._record(
            principal, session_id, lambda lane, after: lane_engine.record_output(lane, item_id, output, after=after)
        )

    async def dismiss(self, principal: Principal, session_id: uuid.UUID, item_id: str) -> ItemUpdate:
        async with tenant_session(self.sessionmaker, principal.account_id) as db:
            session = await get_session_row(db, principal, session_id, lock=True)
            lane = lane_engine.lane_of(session)
            item = lane_engine.dismiss(lane, item_id, after=await continuation.last_message_id(db, session_id))
            lane_engine.save(session, lane)
            await db.flush()
            return await self._update(db, principal, session_id, item, None, None)

    async def promote_item(
        self, principal: Principal, session_id: uuid.UUID, item_id: str, text: str | None
    ) -> tuple[facts_engine.FactOut, bool]:
        """Promote an item by hand; without ``text`` the fact states the answer or output as given."""
        async with tenant_session(self.sessionmaker, principal.account_id) as db:
            session = await get_session_row(db, principal, session_id, lock=True)
            item = lane_engine.lane_of(session).require(item_id)
            if text is None:
                text = _default_fact_text(item)
            return await facts_engine.promote(
                db, principal, session_id, text=text, origin=item.rules.fact_origin, source_ref=item_id
            )

    async def _record(
        self, principal: Principal, session_id: uuid.UUID, change: Callable[[TaskLane, str | None], TaskLaneItem]
    ) -> ItemUpdate:
        async with tenant_session(self.sessionmaker, principal.account_id) as db:
            session = await get_session_row(db, principal, session_id, lock=True)
            lane = lane_engine.lane_of(session)
            item = change(lane, await continuation.last_message_id(db, session_id))
            lane_engine.save(session, lane)
            await retire_item_facts(db, session_id, item)
            ai = await self.ai.bind(db, principal.account_id)
        fact, error = await learn_from_item(self.sessionmaker, ai, principal, session_id, item)
        async with tenant_session(self.sessionmaker, principal.account_id) as db:
            return await self._update(db, principal, session_id, item, fact, error)

    async def _update(
        self,
        db: AsyncSession,
        principal: Principal,
        session_id: uuid.UUID,
        item: TaskLaneItem,
        fact: facts_engine.FactOut | None,
        error: str | None,
    ) -> ItemUpdate:
        session = await get_session_row(db, principal, session_id)
        lane = lane_engine.lane_of(session)
        due = await auto_continue_enabled(db, principal) and (
            await continuation.continuation_due(db, session, lane) is not None
        )
        return ItemUpdate(
            item=lane.find(item.id) or item,
            fact=fact,
            task_lane=lane,
            state_version=session.state_version,
            synthesis_error=error,
            continue_due=due,
        )


def _default_fact_text(item: TaskLaneItem) -> str:
    if item.kind == "question":
        if not item.answer:
            raise Conflict("this question has no answer yet: answer it before promoting it")
        return f"{item.text.rstrip('?')}: {item.answer}"
    if not item.output:
        raise Conflict(f"this {item.kind} has no output yet: record its output before promoting it")
    first = next((line.strip() for line in str(item.output).splitlines() if line.strip()), "")
    return f"{item.text}: {first[:300]}"
