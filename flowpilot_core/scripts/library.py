"""The script library: ``script_templates`` CRUD, search, provenance and the pending-drafts count.

Writes are validated before anything is stored: the parameter schema
(:func:`~flowpilot_core.scripts.schema.check_schema`) and the body, which may use only
declared parameters and must parse (:func:`~flowpilot_core.scripts.render.check_body`).
Names are unique per account (a 409 names the clash). Every query filters on the caller's
account as well as RLS guarding it, so another account's id is a 404 like a missing one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec
from sqlalchemy import String, and_, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from flowpilot_core.accounts import Principal
from flowpilot_core.db.models import DraftTemplate, ScriptTemplate
from flowpilot_core.errors import Conflict, InvalidInput, NotFound
from flowpilot_core.events import TemplateCreated, emit
from flowpilot_core.scripts.commands import CommandUse, check_commands
from flowpilot_core.scripts.render import check_body
from flowpilot_core.scripts.schema import Language, ParameterSchema, check_schema, parse_schema, schema_builtins
from flowpilot_core.sessions.lifecycle import get_session_row

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Description = Annotated[str, msgspec.Meta(max_length=5000)]
Body = Annotated[str, msgspec.Meta(min_length=1, max_length=100_000)]
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
Tags = Annotated[list[Tag], msgspec.Meta(max_length=20)]


class TemplateIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Body of ``POST /api/v1/script-templates``."""

    name: Name
    body: Body
    language: Language = "powershell"
    description: Description = ""
    parameter_schema: ParameterSchema = msgspec.field(default_factory=ParameterSchema)
    tags: Tags = msgspec.field(default_factory=list)
    source_session_id: uuid.UUID | None = None
    """The session the template was built in ("Build as template now"): provenance. The
    technician and the session's ticket are recorded with it."""


class TemplatePatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Body of ``PATCH /api/v1/script-templates/{id}``: only the keys present change."""

    name: Name | None = None
    body: Body | None = None
    language: Language | None = None
    description: Description | None = None
    parameter_schema: ParameterSchema | None = None
    tags: Tags | None = None


class Provenance(msgspec.Struct, frozen=True):
    source_session_id: uuid.UUID | None
    source_user_id: uuid.UUID | None
    source_ticket_ref: str | None


class TemplateOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    description: str
    language: Language
    body: str
    parameter_schema: ParameterSchema
    tags: list[str]
    source_session_id: uuid.UUID | None
    source_user_id: uuid.UUID | None
    source_ticket_ref: str | None
    created_at: datetime
    updated_at: datetime
    commands: list[CommandUse]
    """Every command the body runs; ``known=False`` ones are not in FlowPilot's list: check them."""
    unknown_commands: list[str]


class TemplateSummary(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    description: str
    language: Language
    tags: list[str]
    parameter_count: int
    source_session_id: uuid.UUID | None
    source_user_id: uuid.UUID | None
    source_ticket_ref: str | None
    updated_at: datetime


class TemplateList(msgspec.Struct):
    items: list[TemplateSummary]
    pending_drafts: int
    """The account's draft templates awaiting a decision (the Script Library's badge)."""


def template_out(row: ScriptTemplate) -> TemplateOut:
    commands = check_commands(row.body, row.language)  # type: ignore[arg-type]
    return TemplateOut(
        id=row.id,
        name=row.name,
        description=row.description,
        language=row.language,  # type: ignore[arg-type]
        body=row.body,
        parameter_schema=parse_schema(row.parameter_schema),
        tags=list(row.tags or []),
        source_session_id=row.source_session_id,
        source_user_id=row.source_user_id,
        source_ticket_ref=row.source_ticket_ref,
        created_at=row.created_at,
        updated_at=row.updated_at,
        commands=commands,
        unknown_commands=[c.name for c in commands if not c.known],
    )


def _summary(row: ScriptTemplate) -> TemplateSummary:
    return TemplateSummary(
        id=row.id,
        name=row.name,
        description=row.description,
        language=row.language,  # type: ignore[arg-type]
        tags=list(row.tags or []),
        parameter_count=len((row.parameter_schema or {}).get("parameters") or []),
        source_session_id=row.source_session_id,
        source_user_id=row.source_user_id,
        source_ticket_ref=row.source_ticket_ref,
        updated_at=row.updated_at,
    )


def validate_template(body: str, schema: ParameterSchema, language: Language) -> None:
    if not body.strip():
        raise InvalidInput("the template body is empty", field="body")
    check_schema(schema)
    check_body(body, schema, language)


async def _name_taken(db: AsyncSession, account_id: uuid.UUID, name: str, except_id: uuid.UUID | None = None) -> bool:
    query = select(ScriptTemplate.id).where(ScriptTemplate.account_id == account_id, ScriptTemplate.name == name)
    if except_id is not None:
        query = query.where(ScriptTemplate.id != except_id)
    return (await db.execute(query)).first() is not None


async def pending_draft_count(db: AsyncSession, account_id: uuid.UUID) -> int:
    query = select(func.count()).where(DraftTemplate.account_id == account_id, DraftTemplate.status == "pending")
    return int((await db.execute(query)).scalar_one())


async def list_templates(db: AsyncSession, principal: Principal, q: str | None = None) -> TemplateList:
    """The account's templates by name; ``q``: every word in the name, description, tags or body."""
    query = select(ScriptTemplate).where(ScriptTemplate.account_id == principal.account_id)
    words = (q or "").split()[:10]
    if any("\x00" in w for w in words):
        raise InvalidInput("q must not contain NUL", field="q")
    conditions = []
    for word in words:
        like = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        fields = (
            ScriptTemplate.name,
            ScriptTemplate.description,
            ScriptTemplate.body,
            cast(ScriptTemplate.tags, String),
        )
        conditions.append(or_(*(f.ilike(like, escape="\\") for f in fields)))
    if conditions:
        query = query.where(and_(*conditions))
    rows = (await db.execute(query.order_by(func.lower(ScriptTemplate.name), ScriptTemplate.id))).scalars()
    return TemplateList(
        items=[_summary(r) for r in rows], pending_drafts=await pending_draft_count(db, principal.account_id)
    )


async def get_template_row(db: AsyncSession, principal: Principal, template_id: uuid.UUID) -> ScriptTemplate:
    query = select(ScriptTemplate).where(
        ScriptTemplate.id == template_id, ScriptTemplate.account_id == principal.account_id
    )
    row = (await db.execute(query)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"script template {template_id} not found")
    return row


async def get_template(db: AsyncSession, principal: Principal, template_id: uuid.UUID) -> TemplateOut:
    return template_out(await get_template_row(db, principal, template_id))


async def create_template(
    db: AsyncSession, principal: Principal, data: TemplateIn, *, draft_id: uuid.UUID | None = None
) -> TemplateOut:
    """Store a validated template; ``source_session_id`` records the session, technician and ticket."""
    validate_template(data.body, data.parameter_schema, data.language)
    name = data.name.strip()
    if not name:
        raise InvalidInput("name must not be blank", field="name")
    if await _name_taken(db, principal.account_id, name):
        raise Conflict(f"a script template named {name!r} already exists", field="name")
    provenance = Provenance(None, None, None)
    if data.source_session_id is not None:
        session = await get_session_row(db, principal, data.source_session_id)
        provenance = Provenance(session.id, principal.user_id, session.ticket_ref)
    row = ScriptTemplate(
        account_id=principal.account_id,
        name=name,
        description=data.description,
        language=data.language,
        body=data.body,
        parameter_schema=schema_builtins(data.parameter_schema),
        tags=list(dict.fromkeys(t.strip() for t in data.tags if t.strip())),
        source_session_id=provenance.source_session_id,
        source_user_id=provenance.source_user_id,
        source_ticket_ref=provenance.source_ticket_ref,
    )
    db.add(row)
    await db.flush()
    await db.refresh(row)
    emit(
        db,
        TemplateCreated(
            account_id=principal.account_id,
            template_id=row.id,
            session_id=provenance.source_session_id,
            user_id=principal.user_id,
            draft_id=draft_id,
        ),
    )
    return template_out(row)


async def update_template(
    db: AsyncSession, principal: Principal, template_id: uuid.UUID, patch: TemplatePatch
) -> TemplateOut:
    row = await get_template_row(db, principal, template_id)
    body = patch.body if patch.body is not None else row.body
    schema = patch.parameter_schema if patch.parameter_schema is not None else parse_schema(row.parameter_schema)
    language: Language = patch.language if patch.language is not None else row.language  # type: ignore[assignment]
    validate_template(body, schema, language)
    if patch.name is not None:
        name = patch.name.strip()
        if not name:
            raise InvalidInput("name must not be blank", field="name")
        if await _name_taken(db, principal.account_id, name, except_id=row.id):
            raise Conflict(f"a script template named {name!r} already exists", field="name")
        row.name = name
    row.body = body
    row.parameter_schema = schema_builtins(schema)
    if patch.language is not None:
        row.language = patch.language
    if patch.description is not None:
        row.description = patch.description
    if patch.tags is not None:
        row.tags = list(dict.fromkeys(t.strip() for t in patch.tags if t.strip()))
    await db.flush()
    await db.refresh(row)
    return template_out(row)


async def delete_template(db: AsyncSession, principal: Principal, template_id: uuid.UUID) -> None:
    """Delete a template; generations made from it keep their script (their link becomes empty)."""
    row = await get_template_row(db, principal, template_id)
    await db.delete(row)
    await db.flush()


async def template_rows(db: AsyncSession, account_id: uuid.UUID) -> list[ScriptTemplate]:
    query = select(ScriptTemplate).where(ScriptTemplate.account_id == account_id).order_by(ScriptTemplate.name)
    return list((await db.execute(query)).scalars())
