"""Draft templates and the post-resolve templatize prompt.

"Run now, templatize after resolve" leaves a pending draft (the extraction of the one-off
script). After a successful resolve the prompt is shown only when all hold: the session is
resolved, the account allows the prompt (``account_settings.preferences.templatize_prompt_enabled``,
true by default), the session has pending drafts, and the technician chose that option on a
fix of the session. Accept creates a real template with the session, technician and ticket
as provenance and the technician's edits; Skip rejects the draft and creates nothing;
"Don't ask me again" also writes ``templatize_prompt_enabled: false`` (an administrator
turns it back on with ``PATCH /api/v1/account/settings``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flowpilot_core.accounts import Principal, get_setting, set_setting
from flowpilot_core.db.models import DraftTemplate, SessionSuggestedFix
from flowpilot_core.errors import Conflict, NotFound
from flowpilot_core.events import DraftTemplateDecided, emit
from flowpilot_core.scripts.library import Description, Name, Tags, TemplateIn, TemplateOut, create_template
from flowpilot_core.scripts.schema import Language, ParameterSchema, parse_schema
from flowpilot_core.sessions.lifecycle import get_session_row

DraftStatus = Literal["pending", "accepted", "rejected"]
PROMPT_SETTING = "templatize_prompt_enabled"


class DraftOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    session_id: uuid.UUID
    suggested_fix_id: uuid.UUID | None
    script_generation_id: uuid.UUID | None
    name: str
    description: str
    language: Language
    body: str
    parameter_schema: ParameterSchema
    status: DraftStatus
    template_id: uuid.UUID | None
    decided_by_user_id: uuid.UUID | None
    decided_at: datetime | None
    created_at: datetime


class DraftList(msgspec.Struct):
    items: list[DraftOut]
    pending: int
    """The account's pending drafts (whatever ``status`` filtered the list)."""


class AcceptDraft(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Body of ``POST /api/v1/draft-templates/{id}/accept``: the technician's edits (absent: the draft's)."""

    name: Name | None = None
    description: Description | None = None
    body: str | None = None
    parameter_schema: ParameterSchema | None = None
    tags: Tags = msgspec.field(default_factory=list)


class SkipDraft(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Body of ``POST /api/v1/draft-templates/{id}/skip``."""

    dont_ask_again: bool = False
    """"Don't ask me again for this team": also turn the prompt off for the account."""


class PromptConditions(msgspec.Struct, kw_only=True):
    resolved: bool
    prompt_enabled: bool
    has_pending_drafts: bool
    chose_templatize_after_resolve: bool


class TemplatizePrompt(msgspec.Struct, kw_only=True):
    show: bool
    conditions: PromptConditions
    drafts: list[DraftOut]
    """The session's pending drafts (listed even when the prompt is not shown)."""


def draft_out(row: DraftTemplate) -> DraftOut:
    return DraftOut(
        id=row.id,
        session_id=row.session_id,
        suggested_fix_id=row.suggested_fix_id,
        script_generation_id=row.script_generation_id,
        name=row.name,
        description=row.description,
        language=row.language,  # type: ignore[arg-type]
        body=row.body,
        parameter_schema=parse_schema(row.parameter_schema),
        status=row.status,  # type: ignore[arg-type]
        template_id=row.template_id,
        decided_by_user_id=row.decided_by_user_id,
        decided_at=row.decided_at,
        created_at=row.created_at,
    )


async def _pending_count(db: AsyncSession, account_id: uuid.UUID) -> int:
    from flowpilot_core.scripts.library import pending_draft_count

    return await pending_draft_count(db, account_id)


async def list_drafts(db: AsyncSession, principal: Principal, status: DraftStatus | None = None) -> DraftList:
    query = select(DraftTemplate).where(DraftTemplate.account_id == principal.account_id)
    if status is not None:
        query = query.where(DraftTemplate.status == status)
    rows = (await db.execute(query.order_by(DraftTemplate.created_at.desc(), DraftTemplate.id))).scalars()
    return DraftList(items=[draft_out(r) for r in rows], pending=await _pending_count(db, principal.account_id))


async def _draft_row(
    db: AsyncSession, principal: Principal, draft_id: uuid.UUID, *, lock: bool = False
) -> DraftTemplate:
    query = select(DraftTemplate).where(DraftTemplate.id == draft_id, DraftTemplate.account_id == principal.account_id)
    if lock:
        query = query.with_for_update()
    row = (await db.execute(query)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"draft template {draft_id} not found")
    return row


async def get_draft(db: AsyncSession, principal: Principal, draft_id: uuid.UUID) -> DraftOut:
    return draft_out(await _draft_row(db, principal, draft_id))


async def templatize_prompt(db: AsyncSession, principal: Principal, session_id: uuid.UUID) -> TemplatizePrompt:
    session = await get_session_row(db, principal, session_id)
    drafts = list(
        (
            await db.execute(
                select(DraftTemplate)
                .where(DraftTemplate.session_id == session_id, DraftTemplate.status == "pending")
                .order_by(DraftTemplate.created_at, DraftTemplate.id)
            )
        ).scalars()
    )
    chose = (
        await db.execute(
            select(SessionSuggestedFix.id).where(
                SessionSuggestedFix.session_id == session_id, SessionSuggestedFix.user_decision == "draft_template"
            )
        )
    ).first() is not None
    conditions = PromptConditions(
        resolved=session.status == "resolved",
        prompt_enabled=bool(await get_setting(db, principal.account_id, PROMPT_SETTING)),
        has_pending_drafts=bool(drafts),
        chose_templatize_after_resolve=chose,
    )
    show = all(msgspec.to_builtins(conditions).values())
    return TemplatizePrompt(show=show, conditions=conditions, drafts=[draft_out(d) for d in drafts])


def _decide(row: DraftTemplate, principal: Principal, status: DraftStatus, template_id: uuid.UUID | None) -> None:
    if row.status != "pending":
        raise Conflict(f"draft template {row.id} was already {row.status}")
    row.status = status
    row.template_id = template_id
    row.decided_by_user_id = principal.user_id
    row.decided_at = datetime.now(UTC)


async def accept_draft(db: AsyncSession, principal: Principal, draft_id: uuid.UUID, edits: AcceptDraft) -> TemplateOut:
    """Create the template from the draft and the technician's edits, with the session as provenance."""
    row = await _draft_row(db, principal, draft_id, lock=True)
    if row.status != "pending":
        raise Conflict(f"draft template {row.id} was already {row.status}")
    data = TemplateIn(
        name=edits.name if edits.name is not None else row.name,
        description=edits.description if edits.description is not None else row.description,
        body=edits.body if edits.body is not None else row.body,
        language=row.language,  # type: ignore[arg-type]
        parameter_schema=edits.parameter_schema or parse_schema(row.parameter_schema),
        tags=edits.tags,
        source_session_id=row.session_id,
    )
    template = await create_template(db, principal, data, draft_id=row.id)
    _decide(row, principal, "accepted", template.id)
    await db.flush()
    emit(
        db,
        DraftTemplateDecided(
            account_id=principal.account_id,
            draft_id=row.id,
            session_id=row.session_id,
            decision="accepted",
            template_id=template.id,
            user_id=principal.user_id,
        ),
    )
    return template


async def skip_draft(db: AsyncSession, principal: Principal, draft_id: uuid.UUID, data: SkipDraft) -> DraftOut:
    """Reject the draft (nothing is created); with ``dont_ask_again`` also turn the prompt off for the account."""
    row = await _draft_row(db, principal, draft_id, lock=True)
    _decide(row, principal, "rejected", None)
    if data.dont_ask_again:
        await set_setting(db, principal.account_id, PROMPT_SETTING, False)
    await db.flush()
    await db.refresh(row)
    emit(
        db,
        DraftTemplateDecided(
            account_id=principal.account_id,
            draft_id=row.id,
            session_id=row.session_id,
            decision="rejected",
            template_id=None,
            user_id=principal.user_id,
        ),
    )
    return draft_out(row)
