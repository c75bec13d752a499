"""Template matching: every matcher plugin scores the account's templates against the active fix.

A matcher is a callable ``matcher(fix, templates)`` returning :class:`TemplateScore` items
(registered through ``register_template_matchers``). Scores are in ``[0, 1]`` (clamped);
a score for a template that was not offered is ignored. The merged list keeps, per template,
the best score any matcher gave and every matcher's reasons, best first (ties by name).
A matcher that raises is logged with its name and left out: one broken plugin never hides
the others' matches.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

import msgspec

log = logging.getLogger("flowpilot.scripts")

MIN_MATCH_SCORE = 0.35
"""A merged score below this is not offered as a match (the no-template dialog opens instead)."""


class FixQuery(msgspec.Struct, frozen=True, kw_only=True):
    """What a template is matched against: the active suggested fix, and the session's problem."""

    title: str
    root_cause: str = ""
    body: str = ""
    problem: str = ""


class TemplateDoc(msgspec.Struct, frozen=True, kw_only=True):
    """A template as matchers see it (no parameter values: a template stores none in clear)."""

    id: uuid.UUID
    name: str
    description: str
    tags: tuple[str, ...]
    body: str
    language: str


class TemplateScore(msgspec.Struct, frozen=True, kw_only=True):
    template_id: uuid.UUID
    score: float
    reasons: tuple[str, ...] = ()


class TemplateMatcher(Protocol):
    def __call__(self, fix: FixQuery, templates: Sequence[TemplateDoc]) -> Iterable[TemplateScore]: ...


class MatchReason(msgspec.Struct, frozen=True):
    matcher: str
    score: float
    reason: str


class TemplateMatch(msgspec.Struct, frozen=True, kw_only=True):
    template_id: uuid.UUID
    name: str
    description: str
    language: str
    score: float
    """The best score any matcher gave, in [0, 1]."""
    matched_by: list[str]
    reasons: list[MatchReason]


def merge_matches(
    matchers: Mapping[str, TemplateMatcher],
    fix: FixQuery,
    templates: Sequence[TemplateDoc],
    *,
    min_score: float = MIN_MATCH_SCORE,
    limit: int = 10,
) -> list[TemplateMatch]:
    """Run every matcher and merge their scores, best first; only scores of at least ``min_score``."""
    by_id = {t.id: t for t in templates}
    best: dict[uuid.UUID, float] = {}
    reasons: dict[uuid.UUID, list[MatchReason]] = {}
    for name in sorted(matchers):
        try:
            scores = list(matchers[name](fix, templates))
        except Exception:
            log.exception("template matcher %r failed; its scores are left out", name)
            continue
        for item in scores:
            if not isinstance(item, TemplateScore) or item.template_id not in by_id:
                continue
            score = min(1.0, max(0.0, float(item.score)))
            if score <= 0:
                continue
            best[item.template_id] = max(best.get(item.template_id, 0.0), score)
            texts = item.reasons or ("scored it",)
            reasons.setdefault(item.template_id, []).extend(MatchReason(name, round(score, 3), r) for r in texts)
    ranked = sorted(best, key=lambda tid: (-best[tid], by_id[tid].name.lower()))
    out = []
    for tid in ranked:
        if best[tid] < min_score:
            continue
        template = by_id[tid]
        found = sorted(reasons[tid], key=lambda r: -r.score)
        out.append(
            TemplateMatch(
                template_id=tid,
                name=template.name,
                description=template.description,
                language=template.language,
                score=round(best[tid], 3),
                matched_by=sorted({r.matcher for r in found}),
                reasons=found,
            )
        )
    return out[:limit]
