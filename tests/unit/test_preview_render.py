"""Property: every preview line's text is made from the rows it names, whatever those rows say."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from flowpilot_core.previews.render import inline, render, steps

texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=80).filter(
    lambda t: t.strip()
)


def _context(facts: list[str], root_cause: str, title: str, body: str, summary: str, problem: str) -> dict:
    return {
        "session": {"id": "s1", "problem_statement": problem, "title": "t"},
        "ticket": {"summary": summary},
        "facts": [{"id": f"f{i}", "text": text} for i, text in enumerate(facts)],
        "fix": {"id": "x1", "title": title, "root_cause": root_cause, "body": body, "user_decision": None},
        "earlier_fixes": [],
        "scripts": [{"id": "g1", "name": title, "language": "powershell", "values": body}],
        "done_checks": [],
        "done_actions": [],
        "open_questions": [],
        "open_checks": [],
    }


@settings(max_examples=200, deadline=None)
@given(st.lists(texts, max_size=5), texts, texts, texts, texts, texts)
def test_every_line_comes_from_its_sources(
    facts: list[str], root_cause: str, title: str, body: str, summary: str, problem: str
) -> None:
    rows = {("fact", f"f{i}", None): text for i, text in enumerate(facts)} | {
        ("fix", "x1", "root_cause"): root_cause,
        ("fix", "x1", "title"): title,
        ("ticket", "s1", "summary"): summary,
        ("session", "s1", "problem_statement"): problem,
    }
    markdown, lines = render("resolution_note", _context(facts, root_cause, title, body, summary, problem))
    assert [ln for ln in markdown.splitlines() if ln] == [line.text for line in lines]
    assert [ln for ln in markdown.splitlines() if ln.startswith("## ")] == [
        "## Problem",
        "## What we confirmed",
        "## Root cause",
        "## Resolution",
    ]
    fix_steps = [inline(step) for step in steps(body)]
    for line in lines:
        assert line.sources, line
        (source,) = line.sources
        key = (source.kind, source.id, source.field)
        if source.kind == "template":
            assert line.text.startswith("## ")
        elif key == ("session", "s1", "facts"):
            assert not facts and line.text == "Nothing was confirmed during troubleshooting."
        elif key == ("fix", "x1", "body"):
            assert line.text.removeprefix("- ") in fix_steps
        elif key == ("script", "g1", None):
            assert line.text == "- " + inline(f"Ran script: {title} (powershell{', ' + body if body else ''})")
        elif key in rows:
            assert line.text.removeprefix("- ") == inline(rows[key])
        else:
            raise AssertionError(f"unexpected source {key} for {line.text!r}")
