"""``ScriptService``: the no-template options, whose one-off script the model writes.

Like the chat turn, the work runs in short transactions around the model call: read the
session, fix, facts and ticket; call the model with no transaction open; then, in one
transaction, re-check that the fix is still the active one, record the technician's
decision and its side effects together, so a failure half-way leaves neither:

- ``one_off``: the script is stored as a generation (path ``one_off``);
- ``draft_template``: the generation (path ``draft_template``) and a pending draft template
  from the extraction of the script (the rules, then the model's suggestions:
  :mod:`~flowpilot_core.scripts.model_extraction`);
- ``build_template``: nothing is stored but the decision; the extraction is returned for the
  template editor, and saving it (``POST /api/v1/script-templates`` with
  ``source_session_id``) creates the template with its provenance.

The same choice again on the same fix (a retry after a lost response, a second click) returns
what the first one stored instead of a second script and draft. A retried one-off returns the
stored (redacted) copy of its script.
"""

from __future__ import annotations

import uuid
from typing import Literal

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core.accounts import Principal
from flowpilot_core.ai.gateway import AIGateway, BoundAI
from flowpilot_core.db.engine import tenant_session
from flowpilot_core.db.models import DraftTemplate, ScriptGeneration
from flowpilot_core.errors import Conflict
from flowpilot_core.facts import crud as facts_engine
from flowpilot_core.fixes.suggested import SuggestedFixOut, decide_fix, fix_out
from flowpilot_core.scripts import lookup
from flowpilot_core.scripts.drafts import DraftOut, draft_out
from flowpilot_core.scripts.extraction import ExtractionResult, TemplateExtractionService, redact_secret_literals
from flowpilot_core.scripts.generations import GenerationOut, fix_of_session, generation_out, store_generation
from flowpilot_core.scripts.generator import build_script_call, parse_script_reply
from flowpilot_core.scripts.model_extraction import build_extraction_call, parse_suggestions
from flowpilot_core.scripts.prefill import Prefill, prefill
from flowpilot_core.scripts.prefill_suggestions import apply_suggestions, build_prefill_call, wanted
from flowpilot_core.scripts.schema import Language, schema_builtins
from flowpilot_core.sessions.lifecycle import get_session_row

NoTemplateDecision = Literal["one_off", "draft_template", "build_template"]


class NoTemplateChoice(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Body of ``POST .../suggested-fixes/{fix_id}/no-template``."""

    decision: NoTemplateDecision
    language: Language = "powershell"


class NoTemplateOutcome(msgspec.Struct, kw_only=True):
    fix: SuggestedFixOut
    generation: GenerationOut | None
    """``one_off`` and ``draft_template``: the script to copy (and its unknown commands)."""
    draft: DraftOut | None
    """``draft_template``: the pending draft the templatize prompt offers after resolve."""
    extraction: ExtractionResult | None
    """``draft_template`` and ``build_template``: the proposed schema and templated body."""


async def _earlier_outcome(
    db: AsyncSession, principal: Principal, session_id: uuid.UUID, fix_id: uuid.UUID, choice: NoTemplateChoice
) -> NoTemplateOutcome | None:
    """What an earlier identical choice on this fix stored, if anything (``build_template`` stores nothing)."""
    if choice.decision == "build_template":
        return None
    query = (
        select(ScriptGeneration)
        .where(ScriptGeneration.suggested_fix_id == fix_id, ScriptGeneration.path == choice.decision)
        .order_by(ScriptGeneration.created_at)
        .limit(1)
    )
    generation = (await db.execute(query)).scalar_one_or_none()
    if generation is None:
        return None
    fix = await fix_of_session(db, session_id, fix_id)
    draft_row = (
        await db.execute(select(DraftTemplate).where(DraftTemplate.script_generation_id == generation.id).limit(1))
    ).scalar_one_or_none()
    extraction = None
    if draft_row is not None:
        extraction = TemplateExtractionService().extract(generation.script, generation.language)  # type: ignore[arg-type]
    return NoTemplateOutcome(
        fix=fix_out(fix),
        generation=generation_out(generation),
        draft=draft_out(draft_row) if draft_row is not None else None,
        extraction=extraction,
    )


class ScriptService:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], ai: AIGateway) -> None:
        self.sessionmaker = sessionmaker
        self.ai = ai
        self.extraction = TemplateExtractionService()

    async def choose_no_template(
        self, principal: Principal, session_id: uuid.UUID, fix_id: uuid.UUID, choice: NoTemplateChoice
    ) -> NoTemplateOutcome:
        async with tenant_session(self.sessionmaker, principal.account_id) as db:
            session = await get_session_row(db, principal, session_id)
            fix = await fix_of_session(db, session_id, fix_id)
            if fix.status != "active":
                raise Conflict(f"suggested fix {fix_id} was superseded by a newer fix; decide on the active one")
            earlier = await _earlier_outcome(db, principal, session_id, fix_id, choice)
            if earlier is not None:  # a retry (or a second click) returns what the first one stored
                return earlier
            facts = [f.text for f in await facts_engine.live_facts(db, session_id)]
            spec = build_script_call(
                language=choice.language,
                fix={"title": fix.title, "root_cause": fix.root_cause or "", "body": fix.body},
                facts=facts,
                ticket=dict(session.ticket_snapshot or {}),
                account_id=str(principal.account_id),
                session_id=str(session_id),
            )
            bound = await self.ai.bind(db, principal.account_id)
            fix_title = fix.title
        completion = await bound.call(spec)
        name, script = parse_script_reply(completion.text, fix_title)
        extraction = None
        if choice.decision != "one_off":
            extraction = await self._extract(bound, script, choice.language, principal, session_id)
        async with tenant_session(self.sessionmaker, principal.account_id) as db:
            decided = await decide_fix(db, principal, session_id, fix_id, choice.decision)
            generation: GenerationOut | None = None
            draft: DraftOut | None = None
            if choice.decision in ("one_off", "draft_template"):
                # The model was told to read secrets at run time; should it write one into the script
                # anyway, the stored copy has it redacted and only this response carries it.
                stored = redact_secret_literals(script, choice.language)
                row, version = await store_generation(
                    db,
                    principal,
                    session_id,
                    path=choice.decision,
                    name=name,
                    language=choice.language,
                    stored_script=stored,
                    parameters={},
                    sensitive=[],
                    redacted=stored != script,
                    fix_id=fix_id,
                )
                generation = generation_out(row, script=script, state_version=version)
            if choice.decision == "draft_template" and extraction is not None:
                draft_row = DraftTemplate(
                    account_id=principal.account_id,
                    session_id=session_id,
                    suggested_fix_id=fix_id,
                    script_generation_id=generation.id if generation else None,
                    name=name,
                    description=f"From the fix: {fix_title}"[:5000],
                    language=choice.language,
                    body=extraction.body,
                    parameter_schema=schema_builtins(extraction.parameter_schema),
                )
                db.add(draft_row)
                await db.flush()
                await db.refresh(draft_row)
                draft = draft_out(draft_row)
            return NoTemplateOutcome(fix=decided, generation=generation, draft=draft, extraction=extraction)

    async def prefill(
        self, principal: Principal, session_id: uuid.UUID, template_id: uuid.UUID, *, suggest: bool
    ) -> Prefill:
        """The prefilled values; with ``suggest``, the model is asked about those still empty (no transaction open)."""
        async with tenant_session(self.sessionmaker, principal.account_id) as db:
            schema, ctx, tid = await lookup.prefill_inputs(db, principal, session_id, template_id)
            bound = await self.ai.bind(db, principal.account_id) if suggest else None
        filled = prefill(tid, schema, ctx)
        asks = wanted(schema, filled)
        if bound is None or not asks:
            return filled
        completion = await bound.call(build_prefill_call(asks, ctx, account_id=str(principal.account_id)))
        return apply_suggestions(completion.text, schema, filled, ctx)

    async def extract(self, principal: Principal, script: str, language: Language) -> ExtractionResult:
        """The rules' extraction of ``script`` plus the model's suggestions (the library's "import a script")."""
        async with tenant_session(self.sessionmaker, principal.account_id) as db:
            bound = await self.ai.bind(db, principal.account_id)
        return await self._extract(bound, script, language, principal, None)

    async def _extract(
        self, bound: BoundAI, script: str, language: Language, principal: Principal, session_id: uuid.UUID | None
    ) -> ExtractionResult:
        found = self.extraction.extract(script, language)
        spec = build_extraction_call(
            script,
            language,
            found,
            account_id=str(principal.account_id),
            session_id=str(session_id) if session_id else None,
        )
        suggestions = parse_suggestions((await bound.call(spec)).text)
        return self.extraction.extract(script, language, suggestions) if suggestions else found
