"""Script generations: every script FlowPilot produced in a session, linked to its session, fix and template.

A generation is stored with its sensitive values redacted, in ``parameters`` and in the
script itself (the template rendered a second time with ``[redacted]`` in place of each
sensitive value); the clear script is returned once, to the technician who generated it.
Every generation bumps the session's ``state_version``, so the resolution preview names
the script that ran. FlowPilot never runs a script: the technician copies or downloads it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flowpilot_core.accounts import Principal
from flowpilot_core.db.models import ScriptGeneration, SessionSuggestedFix
from flowpilot_core.errors import NotFound
from flowpilot_core.scripts.commands import CommandUse, check_commands
from flowpilot_core.scripts.library import get_template_row
from flowpilot_core.scripts.render import render_template
from flowpilot_core.scripts.schema import Language, parse_schema
from flowpilot_core.sessions.lifecycle import bump_state_version, get_session_row

ScriptPath = Literal["template", "one_off", "draft_template"]
ParameterValue = str | int | bool


class GenerateFromTemplate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Body of ``POST /api/v1/ai-sessions/{id}/script-generations``."""

    template_id: uuid.UUID
    suggested_fix_id: uuid.UUID | None = None
    parameters: Annotated[dict[str, ParameterValue], msgspec.Meta(max_length=50)] = msgspec.field(default_factory=dict)


class GenerationOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    session_id: uuid.UUID | None
    template_id: uuid.UUID | None
    suggested_fix_id: uuid.UUID | None
    path: ScriptPath
    name: str
    language: Language
    script: str
    """In the response that generated it: the script to copy, values in clear. Read back later:
    the stored copy, each sensitive value replaced by ``[redacted]``."""
    redacted: bool
    """Whether ``script`` is a stored copy with sensitive values (or a password the model wrote) replaced."""
    parameters: dict[str, ParameterValue]
    """The values used, sensitive ones as ``[redacted]``."""
    commands: list[CommandUse]
    unknown_commands: list[str]
    """Commands FlowPilot does not know: check they exist before running the script."""
    created_at: datetime
    state_version: int | None = None
    """The session's ``state_version`` after this generation (in the response that created it)."""


def generation_out(
    row: ScriptGeneration, *, script: str | None = None, state_version: int | None = None
) -> GenerationOut:
    shown = row.script if script is None else script
    commands = check_commands(shown, row.language)  # type: ignore[arg-type]
    values = dict(row.parameters.get("values") or {}) if isinstance(row.parameters, dict) else {}
    return GenerationOut(
        id=row.id,
        session_id=row.ai_session_id,
        template_id=row.template_id,
        suggested_fix_id=row.suggested_fix_id,
        path=row.path,  # type: ignore[arg-type]
        name=row.name,
        language=row.language,  # type: ignore[arg-type]
        script=shown,
        redacted=script is None and isinstance(row.parameters, dict) and bool(row.parameters.get("redacted")),
        parameters=values,
        commands=commands,
        unknown_commands=[c.name for c in commands if not c.known],
        created_at=row.created_at,
        state_version=state_version,
    )


async def fix_of_session(db: AsyncSession, session_id: uuid.UUID, fix_id: uuid.UUID) -> SessionSuggestedFix:
    query = select(SessionSuggestedFix).where(
        SessionSuggestedFix.id == fix_id, SessionSuggestedFix.session_id == session_id
    )
    row = (await db.execute(query)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"suggested fix {fix_id} not found in session {session_id}")
    return row


async def store_generation(
    db: AsyncSession,
    principal: Principal,
    session_id: uuid.UUID,
    *,
    path: ScriptPath,
    name: str,
    language: Language,
    stored_script: str,
    parameters: dict[str, ParameterValue],
    sensitive: list[str],
    redacted: bool,
    template_id: uuid.UUID | None = None,
    fix_id: uuid.UUID | None = None,
) -> tuple[ScriptGeneration, int]:
    """Insert a generation (already redacted) and bump the session's ``state_version``."""
    row = ScriptGeneration(
        account_id=principal.account_id,
        ai_session_id=session_id,
        template_id=template_id,
        suggested_fix_id=fix_id,
        path=path,
        name=name[:200],
        language=language,
        parameters={"values": parameters, "sensitive": sensitive, "redacted": redacted},
        script=stored_script,
        created_by_user_id=principal.user_id,
    )
    db.add(row)
    await db.flush()
    version = await bump_state_version(db, session_id)
    await db.refresh(row)
    return row, version


async def generate_from_template(
    db: AsyncSession, principal: Principal, session_id: uuid.UUID, data: GenerateFromTemplate
) -> GenerationOut:
    """Render a template with the technician's values (checked first: a 422 names the parameter) and store it."""
    await get_session_row(db, principal, session_id)
    template = await get_template_row(db, principal, data.template_id)
    if data.suggested_fix_id is not None:
        await fix_of_session(db, session_id, data.suggested_fix_id)
    schema = parse_schema(template.parameter_schema)
    language: Language = template.language  # type: ignore[assignment]
    script, stored, redacted_values = render_template(language, template.body, schema, data.parameters)
    row, version = await store_generation(
        db,
        principal,
        session_id,
        path="template",
        name=template.name,
        language=language,
        stored_script=stored,
        parameters=redacted_values,
        sensitive=[p.name for p in schema.parameters if p.is_sensitive],
        redacted=stored != script,
        template_id=template.id,
        fix_id=data.suggested_fix_id,
    )
    out = generation_out(row, script=script, state_version=version)
    out.redacted = False
    return out


async def list_generations(db: AsyncSession, principal: Principal, session_id: uuid.UUID) -> list[GenerationOut]:
    await get_session_row(db, principal, session_id)
    query = (
        select(ScriptGeneration)
        .where(ScriptGeneration.ai_session_id == session_id, ScriptGeneration.account_id == principal.account_id)
        .order_by(ScriptGeneration.created_at, ScriptGeneration.id)
    )
    return [generation_out(r) for r in (await db.execute(query)).scalars()]
