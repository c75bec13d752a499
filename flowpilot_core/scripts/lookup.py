"""The session side of the script generator: templates matched to the active fix, and prefilled values.

Both read stored rows only: the fix, the session's live facts and ticket, the account's name
and templates. Matching runs every registered matcher plugin (:func:`merge_matches`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from flowpilot_core.accounts import Principal, get_account
from flowpilot_core.facts import crud as facts_engine
from flowpilot_core.scripts.generations import fix_of_session
from flowpilot_core.scripts.library import get_template_row, template_rows
from flowpilot_core.scripts.matching import (
    MIN_MATCH_SCORE,
    FixQuery,
    TemplateDoc,
    TemplateMatch,
    TemplateMatcher,
    merge_matches,
)
from flowpilot_core.scripts.prefill import Prefill, PrefillContext, context_from, prefill
from flowpilot_core.scripts.schema import ParameterSchema, parse_schema
from flowpilot_core.sessions.lifecycle import get_session_row


class TemplateMatches(msgspec.Struct, kw_only=True):
    fix_id: uuid.UUID
    matches: list[TemplateMatch]
    """Best first; only scores of at least ``min_score``. Empty: offer the no-template options."""
    min_score: float
    templates_considered: int


async def match_templates(
    db: AsyncSession,
    principal: Principal,
    session_id: uuid.UUID,
    fix_id: uuid.UUID,
    matchers: Mapping[str, TemplateMatcher],
) -> TemplateMatches:
    session = await get_session_row(db, principal, session_id)
    fix = await fix_of_session(db, session_id, fix_id)
    rows = await template_rows(db, principal.account_id)
    docs = [
        TemplateDoc(
            id=r.id,
            name=r.name,
            description=r.description,
            tags=tuple(str(t) for t in r.tags or ()),
            body=r.body,
            language=r.language,
        )
        for r in rows
    ]
    query = FixQuery(title=fix.title, root_cause=fix.root_cause or "", body=fix.body, problem=session.problem_statement)
    return TemplateMatches(
        fix_id=fix.id,
        matches=merge_matches(matchers, query, docs),
        min_score=MIN_MATCH_SCORE,
        templates_considered=len(docs),
    )


async def prefill_inputs(
    db: AsyncSession, principal: Principal, session_id: uuid.UUID, template_id: uuid.UUID
) -> tuple[ParameterSchema, PrefillContext, uuid.UUID]:
    session = await get_session_row(db, principal, session_id)
    template = await get_template_row(db, principal, template_id)
    facts = await facts_engine.live_facts(db, session_id)
    account = await get_account(db, principal.account_id)
    return parse_schema(template.parameter_schema), context_from(session, facts, account.name), template.id


async def prefill_template(
    db: AsyncSession, principal: Principal, session_id: uuid.UUID, template_id: uuid.UUID
) -> Prefill:
    schema, ctx, tid = await prefill_inputs(db, principal, session_id, template_id)
    return prefill(tid, schema, ctx)
