"""Deterministic, conservative fact synthesis for the offline model.

Turns one answered task-lane item into at most ONE short fact, from exactly two sources:

* a **bare yes or no** to a **yes/no question** ("yes", "no", "nope, it isn't"): the
  statement it confirms, taken from the playbook step that asked the question when there
  is one (its branch's fact is written in ``playbooks.json``), otherwise the question
  restated by :func:`flowpilot_offline.statements.restate`;
* **tool output** a reader in :mod:`flowpilot_offline.tool_output` recognises (a check's
  output, or an action's result that is itself such output).

Anything else (a sentence that merely starts like a yes, an open question's answer, a
hedge, a remark or placeholder pasted as output, an action's "done") yields no fact and a
reason: the answer stays on the item, where the technician can promote it by hand. A
missing fact costs one click; a wrong one ends up in a resolution note.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import msgspec

from flowpilot_core.facts.synthesis import MAX_SYNTHESIS_CHARS
from flowpilot_offline.answers import bare_yes_no
from flowpilot_offline.statements import auxiliary_of, restate
from flowpilot_offline.tool_output import read_tool_output

__all__ = ["SynthesisResult", "synthesize_fact"]



class SynthesisResult(msgspec.Struct, frozen=True, kw_only=True):
    """A synthesised fact (or ``None``) and why."""

    fact: str | None
    reason: str


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


@functools.lru_cache(maxsize=1)
def _playbook_facts() -> dict[str, dict[str, str]]:
    """Question text → {"yes": fact, "no": fact} from the playbooks' yes/no branches."""
    from flowpilot_offline.playbooks import load_playbooks

    library = load_playbooks()
    table: dict[str, dict[str, str]] = {}
    for playbook in (*library.playbooks, library.triage):
        for step in playbook.steps:
            if step.kind != "question":
                continue
            facts: dict[str, str] = {
                str(b.when.answer): b.promote
                for b in step.branches
                if b.when.answer is not None and b.promote and "{value}" not in b.promote
            }
            if facts:
                table[_norm(step.text)] = facts
    return table


def _question_fact(question: str, answer: str) -> SynthesisResult:
    if not answer.strip():
        return SynthesisResult(fact=None, reason="no answer")
    auxiliary = auxiliary_of(question)
    if auxiliary is None:
        return SynthesisResult(fact=None, reason="not a yes/no question: the answer is kept on the item")
    reading = bare_yes_no(answer, auxiliary)
    if reading is None:
        return SynthesisResult(fact=None, reason="not a bare yes or no: the answer is kept on the item")
    known = _playbook_facts().get(_norm(question), {})
    fact = known.get(reading) or restate(question, reading)
    if fact is None:
        return SynthesisResult(fact=None, reason=f"a clear {reading}, but the question cannot be restated safely")
    return SynthesisResult(fact=fact, reason=f"a bare {reading} to a yes/no question")


def _output_fact(output: str, command: str, what: str) -> SynthesisResult:
    if not output.strip():
        return SynthesisResult(fact=None, reason=f"the {what} is empty")
    read = read_tool_output(output, command)
    if read is None:
        return SynthesisResult(fact=None, reason=f"the {what} is not tool output the offline model can read")
    fact, reader = read
    return SynthesisResult(fact=fact, reason=f"read as {reader.replace('_', ' ')} output")


def synthesize_fact(payload: Mapping[str, Any]) -> SynthesisResult:
    """At most one fact from an answered question, a completed check or an action's result."""
    kind = payload.get("kind")
    if kind == "question":
        result = _question_fact(str(payload.get("question") or ""), str(payload.get("answer") or ""))
    elif kind == "check":
        result = _output_fact(str(payload.get("output") or ""), str(payload.get("command") or ""), "output")
    elif kind == "action":
        result = _output_fact(str(payload.get("result") or ""), str(payload.get("action") or ""), "result")
    else:
        return SynthesisResult(fact=None, reason=f"unknown item kind {kind!r}")
    if result.fact is not None and len(result.fact) > MAX_SYNTHESIS_CHARS:
        return SynthesisResult(fact=None, reason="the fact would be too long to be one short statement")
    return result
