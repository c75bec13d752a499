"""How much technicians edit FlowPilot's notes before posting: the measure of whether the notes are good."""

from __future__ import annotations

import uuid

import msgspec
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flowpilot_core.db.models import Writeback

POSTED_STATES = ("posted", "done", "status_unverified", "local")


class NoteQuality(msgspec.Struct):
    kind: str
    """``resolution`` or ``escalation``."""
    confirmed: int
    """Notes the technician confirmed (posted, or resolved locally)."""
    unedited: int
    """Of those, posted exactly as FlowPilot wrote them."""
    mean_lines_changed: float
    """Lines changed, added or removed per note, on average."""
    max_lines_changed: int


class NoteQualityReport(msgspec.Struct):
    items: list[NoteQuality]


async def note_quality(db: AsyncSession, account_id: uuid.UUID) -> NoteQualityReport:
    rows = await db.execute(
        select(
            Writeback.kind,
            func.count(),
            func.sum(case((Writeback.edit_distance == 0, 1), else_=0)),
            func.avg(Writeback.edit_distance),
            func.max(Writeback.edit_distance),
        )
        .where(Writeback.account_id == account_id, Writeback.state.in_(POSTED_STATES))
        .group_by(Writeback.kind)
        .order_by(Writeback.kind)
    )
    return NoteQualityReport(
        items=[
            NoteQuality(
                kind=kind,
                confirmed=int(count),
                unedited=int(unedited or 0),
                mean_lines_changed=round(float(mean or 0), 2),
                max_lines_changed=int(most or 0),
            )
            for kind, count, unedited, mean, most in rows
        ]
    )
