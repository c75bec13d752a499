"""Matchers score the account's templates against the active fix; their results merge best-first."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence

import pytest

from flowpilot_core.scripts import FixQuery, TemplateDoc, TemplateScore, merge_matches
from flowpilot_core.scripts.keyword_matcher import KeywordMatcher


def doc(name: str, description: str = "", body: str = "", tags: tuple[str, ...] = ()) -> TemplateDoc:
    return TemplateDoc(id=uuid.uuid4(), name=name, description=description, tags=tags, body=body, language="powershell")


SPOOLER = doc("Restart-PrintSpooler", "Restarts the Print Spooler service on a PC", "Restart-Service -Name Spooler")
OUTLOOK = doc("New-OutlookProfile", "Creates a fresh Outlook profile", "New-Item HKCU:\\Software\\Microsoft\\Office")
DNS = doc("Set-DnsServers", "Points a network adapter at the right DNS servers", "Set-DnsClientServerAddress", ("dns",))
LIBRARY = (SPOOLER, OUTLOOK, DNS)
FIX = FixQuery(
    title="Restart the Print Spooler service", root_cause="The spooler stopped", body="Start-Service Spooler"
)


def test_the_keyword_matcher_ranks_the_template_sharing_the_fixes_words_first_and_says_why() -> None:
    (best, *rest) = merge_matches({"keywords": KeywordMatcher()}, FIX, LIBRARY)
    assert best.template_id == SPOOLER.id
    assert best.matched_by == ["keywords"]
    assert "spooler" in best.reasons[0].reason and "print" in best.reasons[0].reason
    assert all(m.template_id != OUTLOOK.id for m in rest)  # nothing in common: not offered


def test_no_template_clears_the_bar_when_the_fix_is_about_something_else() -> None:
    fix = FixQuery(title="Replace the toner cartridge", body="Order a new cartridge from the vendor.")
    assert merge_matches({"keywords": KeywordMatcher()}, fix, LIBRARY) == []


class FixedMatcher:
    def __init__(self, scores: dict[uuid.UUID, float], reason: str) -> None:
        self.scores, self.reason = scores, reason

    def __call__(self, fix: FixQuery, templates: Sequence[TemplateDoc]) -> Iterable[TemplateScore]:
        return [TemplateScore(template_id=t, score=s, reasons=(self.reason,)) for t, s in self.scores.items()]


def test_matchers_merge_best_score_first_with_every_matchers_reasons() -> None:
    history = FixedMatcher({DNS.id: 0.9, SPOOLER.id: 0.5}, "used for this ticket type before")
    titles = FixedMatcher({SPOOLER.id: 0.7, uuid.uuid4(): 1.0}, "title words")  # an id it was not offered: ignored
    merged = merge_matches({"history": history, "titles": titles}, FIX, LIBRARY, min_score=0.0)
    assert [(m.name, m.score, m.matched_by) for m in merged] == [
        ("Set-DnsServers", 0.9, ["history"]),
        ("Restart-PrintSpooler", 0.7, ["history", "titles"]),
    ]
    assert [r.reason for r in merged[1].reasons] == ["title words", "used for this ticket type before"]


def test_a_failing_matcher_is_logged_and_the_others_still_count(caplog: pytest.LogCaptureFixture) -> None:
    def broken(fix: FixQuery, templates: Sequence[TemplateDoc]) -> Iterable[TemplateScore]:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="flowpilot.scripts"):
        merged = merge_matches({"broken": broken, "keywords": KeywordMatcher()}, FIX, LIBRARY)
    assert merged[0].template_id == SPOOLER.id
    assert "template matcher 'broken' failed" in caplog.text


def test_scores_are_clamped_to_zero_one() -> None:
    merged = merge_matches({"loud": FixedMatcher({DNS.id: 7.0}, "loud")}, FIX, LIBRARY)
    assert merged[0].score == 1.0
