"""Answering the task lane: a question's answer or a check's output, and the fact it may become.

Like a chat turn, an answer runs in two short transactions around the model call:
the answer is stored first (so it is never lost, even if synthesis fails), then
``FactSynthesisService`` asks the model, conservatively, whether the answer
establishes a fact, and a fact is promoted from the item (``source_ref`` = item id).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core.accounts.accounts import Principal
from flowpilot_core.ai.errors import AIError
from flowpilot_core.ai.gateway import AIGateway, BoundAI
from flowpilot_core.db.engine import tenant_session
from flowpilot_core.errors import Conflict, NotFound
from flowpilot_core.facts import crud as facts_engine
from flowpilot_core.sessions import task_lane as lane_engine
from flowpilot_core.sessions.lifecycle import get_session_row

log = logging.getLogger("flowpilot.answers")


class ItemUpdate(msgspec.Struct):
    """What answering, recording or dismissing an item changed."""

    item: lane_engine.TaskLaneItem
    fact: facts_engine.FactOut | None
    task_lane: lane_engine.TaskLane
    state_version: int
    synthesis_error: str | None = None
    """Set when the model could not be asked; the answer is stored and can be promoted by hand."""


class FactSynthesisService:
    """Turns an answered question or a completed check into at most one short, supported fact."""

    def __init__(self, ai: BoundAI) -> None:
        self.ai = ai

    async def synthesize(self, item: dict[str, Any], principal: Principal, session_id: uuid.UUID) -> str | None:
        from flowpilot_core.facts.synthesis import build_synthesis_call, parse_synthesis_output

        answer = item.get("answer") if item["kind"] == "question" else item.get("output")
        spec = build_synthesis_call(item, answer or "")
        spec = msgspec.structs.replace(spec, account_id=str(principal.account_id), session_id=str(session_id))
        completion = await self.ai.call(spec)
        return parse_synthesis_output(completion.text)


class AnswerService:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], ai: AIGateway) -> None:
        self.sessionmaker = sessionmaker
        self.ai = ai

    async def answer(self, principal: Principal, session_id: uuid.UUID, item_id: str, answer: str) -> ItemUpdate:
        return await self._record(
            principal, session_id, item_id, lambda lane: lane_engine.record_answer(lane, item_id, answer)
        )

    async def record_output(self, principal: Principal, session_id: uuid.UUID, item_id: str, output: str) -> ItemUpdate:
        return await self._record(
            principal, session_id, item_id, lambda lane: lane_engine.record_output(lane, item_id, output)
        )

    async def dismiss(self, principal: Principal, session_id: uuid.UUID, item_id: str) -> ItemUpdate:
        async with tenant_session(self.sessionmaker, principal.account_id) as db:
            session = await get_session_row(db, principal, session_id, lock=True)
            lane = lane_engine.lane_of(session)
            item = lane_engine.dismiss(lane, item_id)
            lane_engine.save(session, lane)
            await db.flush()
            return ItemUpdate(
                item=msgspec.convert(item, lane_engine.TaskLaneItem),
                fact=None,
                task_lane=lane_engine.to_struct(lane),
                state_version=session.state_version,
            )

    async def promote_item(
        self, principal: Principal, session_id: uuid.UUID, item_id: str, text: str | None
    ) -> tuple[facts_engine.FactOut, bool]:
        """Promote an item by hand; without ``text`` the fact states the answer or output as given."""
        async with tenant_session(self.sessionmaker, principal.account_id) as db:
            session = await get_session_row(db, principal, session_id, lock=True)
            item = lane_engine.find_item(lane_engine.lane_of(session), item_id)
            if item is None:
                raise NotFound(f"task-lane item {item_id} not found in this session")
            if text is None:
                text = _default_fact_text(item)
            origin = lane_engine.fact_origin(item)
            return await facts_engine.promote(db, principal, session_id, text=text, origin=origin, source_ref=item_id)

    async def _record(
        self,
        principal: Principal,
        session_id: uuid.UUID,
        item_id: str,
        change: Callable[[dict[str, list[dict[str, Any]]]], dict[str, Any]],
    ) -> ItemUpdate:
        async with tenant_session(self.sessionmaker, principal.account_id) as db:
            session = await get_session_row(db, principal, session_id, lock=True)
            lane = lane_engine.lane_of(session)
            item = change(lane)
            lane_engine.save(session, lane)
            # A changed answer retires the fact the old answer produced.
            if await facts_engine.retire_facts_from(db, session_id, item_id):
                await facts_engine.bump_state_version(db, session_id)
            ai = await self.ai.bind(db, principal.account_id)
        fact_text: str | None = None
        error: str | None = None
        said = item.get("answer") if item["kind"] == "question" else item.get("output")
        try:
            if said and said.strip():  # nothing said (an action marked done): nothing to learn from
                fact_text = await FactSynthesisService(ai).synthesize(item, principal, session_id)
        except AIError as exc:
            error = str(exc)
            log.warning("fact synthesis failed for item %s: %s", item_id, exc)
        async with tenant_session(self.sessionmaker, principal.account_id) as db:
            fact = None
            if fact_text:
                origin = lane_engine.fact_origin(item)
                fact, _ = await facts_engine.promote(
                    db, principal, session_id, text=fact_text, origin=origin, source_ref=item_id
                )
            session = await get_session_row(db, principal, session_id)
            lane = lane_engine.lane_of(session)
            current = lane_engine.find_item(lane, item_id) or item
            return ItemUpdate(
                item=msgspec.convert(current, lane_engine.TaskLaneItem),
                fact=fact,
                task_lane=lane_engine.to_struct(lane),
                state_version=session.state_version,
                synthesis_error=error,
            )


def _default_fact_text(item: dict[str, Any]) -> str:
    if item["kind"] == "question":
        if not item.get("answer"):
            raise Conflict("this question has no answer yet: answer it before promoting it")
        return f"{item['text'].rstrip('?')}: {item['answer']}"
    if not item.get("output"):
        raise Conflict("this check has no output yet: record its output before promoting it")
    first = next((line.strip() for line in str(item["output"]).splitlines() if line.strip()), "")
    return f"{item['text']}: {first[:300]}"
