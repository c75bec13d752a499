"""Offline playbooks: the data (``playbooks.json``), recognising a problem, and reading a step's answer.

Playbooks live in ``playbooks.json`` (data, loaded once into msgspec structs): the clue
words and patterns that recognise each problem, its steps (questions and checks) with the
branches their answers take, and its conclusions (root cause, fix, verification, the next
hypothesis when the fix fails). The conversation that walks them is
:mod:`flowpilot_offline.conversation`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec

from flowpilot_offline.answers import is_uncertain, leading_yes_no, mentions
from flowpilot_offline.statements import auxiliary_of

__all__ = [
    "Branch",
    "Clue",
    "Conclusion",
    "Condition",
    "Playbook",
    "PlaybookLibrary",
    "PlaybookScript",
    "ScriptParameter",
    "Step",
    "choose_branch",
    "find_playbook",
    "load_playbooks",
    "score_playbooks",
]

PLAYBOOKS_PATH = Path(__file__).with_name("playbooks.json")
MIN_SCORE = 4  # below this, a keyword hit is too weak to name the problem


# ---------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------


class Condition(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """When a branch applies. Every criterion given must hold.

    ``answer``: a clear yes or no. ``contains``: any of these phrases, not negated
    (the matched phrase becomes ``{value}``). ``regex``: searched case-insensitively,
    multi-line; group 1 (or the whole match) becomes ``{value}``. ``number_below`` /
    ``number_at_least``: compare ``{value}`` (or the first number in the answer).
    ``any_answer``: any clear, non-empty answer.
    """

    answer: Literal["yes", "no"] | None = None
    contains: tuple[str, ...] = ()
    regex: str | None = None
    number_below: float | None = None
    number_at_least: float | None = None
    any_answer: bool = False


class Branch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One way a step's answer moves the conversation.

    ``promote`` is the fact template confirmed by the answer; then either ``next``
    (a step id) or ``conclude`` (a conclusion id); neither means the playbook is
    exhausted. ``examples`` are answers that take this branch (documentation and tests).
    """

    when: Condition
    promote: str | None = None
    next: str | None = None
    conclude: str | None = None
    say: str | None = None
    examples: tuple[str, ...] = ()
    stated: tuple[str, ...] = ()
    """Regexes (case-insensitive) meaning the ticket, a fact or the technician already gave this answer."""


class Step(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A question or a diagnostic check. For checks, ``text`` is the check's title."""

    id: str
    kind: Literal["question", "check"]
    text: str
    why: str = ""
    command: str | None = None
    shell: Literal["powershell", "cmd"] | None = None
    branches: tuple[Branch, ...] = ()
    rephrase: str = ""
    """The question put differently, for when the first prompt did not get an answer."""


class ScriptParameter(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A script parameter; ``sensitive`` ones are redacted from notes and previews."""

    name: str
    description: str
    sensitive: bool = False
    required: bool = True


class PlaybookScript(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A PowerShell script that applies a fix, with its parameters."""

    name: str
    description: str
    body: str
    shell: Literal["powershell"] = "powershell"
    parameters: tuple[ScriptParameter, ...] = ()


class Conclusion(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A diagnosis: root cause, fix steps, how to verify, and an optional script."""

    id: str
    title: str
    root_cause: str
    fix_steps: tuple[str, ...]
    verify: str
    script: PlaybookScript | None = None
    fallback: str | None = None
    """The conclusion to try next when this fix does not work (none: escalate)."""


class Clue(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A detail that, seen anywhere in the conversation, points straight to a conclusion (or just deserves a remark)."""

    pattern: str
    say: str
    conclude: str | None = None


class Playbook(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One common MSP problem: how to recognise it, diagnose it and fix it."""

    id: str
    title: str
    category: str
    intro: str
    keywords: dict[str, int] = msgspec.field(default_factory=dict)
    patterns: tuple[str, ...] = ()
    steps: tuple[Step, ...] = ()
    conclusions: tuple[Conclusion, ...] = ()
    clues: tuple[Clue, ...] = ()

    def step(self, step_id: str) -> Step | None:
        """The step with ``step_id``."""
        return next((s for s in self.steps if s.id == step_id), None)

    def conclusion(self, conclusion_id: str) -> Conclusion | None:
        """The conclusion with ``conclusion_id``."""
        return next((c for c in self.conclusions if c.id == conclusion_id), None)

    @property
    def primary(self) -> Conclusion | None:
        """The most common diagnosis (the first conclusion)."""
        return self.conclusions[0] if self.conclusions else None

    @property
    def root_cause(self) -> str | None:
        """Root cause of the primary conclusion."""
        return self.primary.root_cause if self.primary else None

    @property
    def fix_steps(self) -> tuple[str, ...]:
        """Fix steps of the primary conclusion."""
        return self.primary.fix_steps if self.primary else ()

    @property
    def script(self) -> PlaybookScript | None:
        """Script of the primary conclusion, if it has one."""
        return self.primary.script if self.primary else None


class PlaybookLibrary(msgspec.Struct, frozen=True, kw_only=True):
    """All playbooks plus the general triage playbook used when none is recognised."""

    version: int
    playbooks: tuple[Playbook, ...]
    triage: Playbook
    description: str = ""

    def get(self, playbook_id: str) -> Playbook | None:
        """The playbook (or triage) with ``playbook_id``."""
        if playbook_id == self.triage.id:
            return self.triage
        return next((p for p in self.playbooks if p.id == playbook_id), None)


@functools.lru_cache(maxsize=4)
def load_playbooks(path: Path = PLAYBOOKS_PATH) -> PlaybookLibrary:
    """Load and decode the playbook file (cached; the file is read-only data)."""
    return msgspec.json.decode(path.read_bytes(), type=PlaybookLibrary)


# ---------------------------------------------------------------------------------------
# Recognition
# ---------------------------------------------------------------------------------------


def _phrase_re(phrase: str) -> re.Pattern[str]:
    # Word boundaries only where the phrase starts/ends with a word character, so
    # "c: drive" and "-7200" work as well as "vpn".
    start = r"(?<![\w])" if re.match(r"\w", phrase) else ""
    end = r"(?![\w])" if re.search(r"\w$", phrase) else ""
    return re.compile(start + re.escape(phrase) + end, re.I)


@functools.lru_cache(maxsize=1024)
def _cached_phrase_re(phrase: str) -> re.Pattern[str]:
    return _phrase_re(phrase)


def _score(playbook: Playbook, summary: str, body: str) -> int:
    score = 0
    for phrase, weight in playbook.keywords.items():
        pattern = _cached_phrase_re(phrase)
        # The ticket summary is the requester's own one-line diagnosis: it counts double.
        if pattern.search(summary):
            score += 2 * weight
        elif pattern.search(body):
            score += weight
    for regex in playbook.patterns:
        if re.search(regex, summary) or re.search(regex, body):
            score += 4
    return score


def score_playbooks(summary: str, body: str, library: PlaybookLibrary | None = None) -> list[tuple[str, int]]:
    """Every playbook with a positive score, best first (ties keep file order)."""
    library = library or load_playbooks()
    scored = [(p.id, _score(p, summary, body)) for p in library.playbooks]
    ranked = sorted(enumerate(scored), key=lambda item: (-item[1][1], item[0]))
    return [pair for _, pair in ranked if pair[1] > 0]


def find_playbook(
    text: str = "",
    *,
    summary: str = "",
    ticket: Mapping[str, Any] | None = None,
    library: PlaybookLibrary | None = None,
) -> Playbook | None:
    """The playbook that best matches a problem description, or ``None``.

    Pass free ``text`` (and optionally the one-line ``summary``), or a ``ticket`` dict
    (its ``summary`` and ``description`` are used). Later phases use the result's
    conclusions (root cause, fix steps, script).
    """
    library = library or load_playbooks()
    if ticket is not None:
        summary = f"{summary} {ticket.get('summary') or ticket.get('problem_statement') or ''}".strip()
        text = f"{text}\n{ticket.get('description') or ''}\n{ticket.get('problem_statement') or ''}"
    ranked = score_playbooks(summary, text, library)
    if not ranked or ranked[0][1] < MIN_SCORE:
        return None
    return library.get(ranked[0][0])


# ---------------------------------------------------------------------------------------
# Reading an answer to a step
# ---------------------------------------------------------------------------------------


def _evaluate(condition: Condition, answer: str, auxiliary: str | None = None) -> tuple[bool, str]:
    text = answer.strip()
    value = ""
    if not text:
        return False, ""
    if condition.answer is not None and leading_yes_no(text, auxiliary) != condition.answer:
        return False, ""
    if condition.contains:
        hit = next((term for term in condition.contains if mentions(text, term)), None)
        if hit is None:
            return False, ""
        found = re.search(re.escape(hit), text, re.I)
        value = found.group(0) if found else hit
    if condition.regex is not None:
        m = re.search(condition.regex, text, re.I | re.M)
        if m is None:
            return False, ""
        value = (m.group(1) if m.re.groups else m.group(0)).strip()
    if condition.number_below is not None or condition.number_at_least is not None:
        number_text = value if re.fullmatch(r"-?\d+(?:\.\d+)?", value or "") else None
        if number_text is None:
            first = re.search(r"-?\d+(?:\.\d+)?", text)
            number_text = first.group(0) if first else None
        if number_text is None:
            return False, ""
        number = float(number_text)
        if condition.number_below is not None and not number < condition.number_below:
            return False, ""
        if condition.number_at_least is not None and not number >= condition.number_at_least:
            return False, ""
    if condition.any_answer and not value:
        value = text
    return True, value


def _looks_like_output(text: str) -> bool:
    return "\n" in text.strip() or bool(re.search(r"\S\s*:\s*\S|\s{3,}", text))


def choose_branch(step: Step, answer: str) -> tuple[Branch, str] | None:
    """The branch ``answer`` takes at ``step`` and the captured value, or ``None`` if unclear."""
    if not answer.strip():
        return None
    # A hedged answer ("I think so", "not sure") confirms nothing. Pasted command output
    # is exempt: words like "wait" or "may be" inside it are not the technician hedging.
    if (step.kind == "question" or not _looks_like_output(answer)) and is_uncertain(answer):
        return None
    for branch in step.branches:
        ok, value = _evaluate(branch.when, answer, auxiliary_of(step.text))
        if ok:
            return branch, value
    return None
