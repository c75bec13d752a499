"""What a preview is built from: stored rows only, read in one transaction."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flowpilot_core.accounts import Principal
from flowpilot_core.db.models import AiSession, ScriptGeneration, SessionFact, SessionSuggestedFix
from flowpilot_core.facts import crud as facts_engine
from flowpilot_core.sessions.lifecycle import get_session_row
from flowpilot_core.sessions.task_lane import TaskLane, lane_of


@dataclass(frozen=True)
class PreviewSources:
    session: AiSession
    facts: list[SessionFact]
    active_fix: SessionSuggestedFix | None
    earlier_fixes: list[SessionSuggestedFix]
    """Superseded and dismissed fixes, oldest first: what was proposed and set aside."""
    lane: TaskLane
    scripts: list[ScriptGeneration]
    """The session's script generations, oldest first, as stored: sensitive parameters already redacted."""


def lane_digest(session: AiSession) -> str:
    """A short digest of the lane: check and action outcomes change a preview without a state_version write."""
    return digest_of_lane(session.pending_task_lane)


def digest_of_lane(lane: dict[str, Any] | None) -> str:
    """:func:`lane_digest` of a lane as stored (``pending_task_lane``, decoded)."""
    return hashlib.sha256(msgspec.json.encode(lane or {})).hexdigest()[:16]


async def read_session(db: AsyncSession, principal: Principal, session_id: uuid.UUID) -> AiSession:
    return await get_session_row(db, principal, session_id)


async def load_sources(db: AsyncSession, session: AiSession) -> PreviewSources:
    facts = await facts_engine.live_facts(db, session.id)
    fixes = list(
        (
            await db.execute(
                select(SessionSuggestedFix)
                .where(SessionSuggestedFix.session_id == session.id)
                .order_by(SessionSuggestedFix.created_at, SessionSuggestedFix.id)
            )
        ).scalars()
    )
    active = next((f for f in fixes if f.status == "active" and f.user_decision != "dismissed"), None)
    earlier = [f for f in fixes if f is not active]
    scripts = list(
        (
            await db.execute(
                select(ScriptGeneration)
                .where(ScriptGeneration.ai_session_id == session.id)
                .order_by(ScriptGeneration.created_at, ScriptGeneration.id)
            )
        ).scalars()
    )
    return PreviewSources(
        session=session, facts=facts, active_fix=active, earlier_fixes=earlier, lane=lane_of(session), scripts=scripts
    )
