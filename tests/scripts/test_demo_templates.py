"""The demo's script library: what a newcomer finds matches the printing ticket's fix, renders safely,
and is seeded once (a second ``flowpilot demo`` does not duplicate it)."""

from __future__ import annotations

import uuid

from flowpilot_server.demo import SAMPLE_TEMPLATES

from flowpilot_core.scripts.keyword_matcher import KeywordMatcher
from flowpilot_core.scripts.library import validate_template
from flowpilot_core.scripts.matching import MIN_MATCH_SCORE, FixQuery, TemplateDoc
from flowpilot_core.scripts.render import render_template


def _docs() -> list[TemplateDoc]:
    return [
        TemplateDoc(id=uuid.uuid4(), name=t.name, description=t.description, tags=tuple(t.tags), body=t.body,
                    language=t.language)
        for t in SAMPLE_TEMPLATES
    ]  # fmt: skip


def test_the_sample_templates_are_valid_and_render_values_as_literals() -> None:
    (spooler,) = SAMPLE_TEMPLATES
    validate_template(spooler.body, spooler.parameter_schema, spooler.language)
    script, _, _ = render_template(spooler.language, spooler.body, spooler.parameter_schema, {"computer": "WS-ACC-04"})
    assert "$ComputerName = 'WS-ACC-04'" in script
    assert "$ClearQueue = $false" in script


def test_the_printing_fix_matches_the_spooler_template_and_the_outlook_fix_does_not() -> None:
    matcher = KeywordMatcher()
    docs = _docs()
    printing = FixQuery(title="Restart the Print Spooler service", problem="Printing stuck in queue - Accounting")
    outlook = FixQuery(title="Rebuild the OST with a smaller cache", problem="Outlook keeps asking for password")
    assert [s.score >= MIN_MATCH_SCORE for s in matcher(printing, docs)] == [True]
    assert all(s.score < MIN_MATCH_SCORE for s in matcher(outlook, docs))
