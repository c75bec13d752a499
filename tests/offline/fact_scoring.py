"""Scoring the offline fact synthesiser on a labelled split: precision, recall, detail kept.

Shared by the tests (``tests/unit/test_fact_synthesis.py``) and the benchmark
(``bench/fact_synthesis.py``) so both count the same way. Every case goes through the path
the server uses: the request builder, the offline model, the output parser.

* A fact is **correct** when its case expects one, every ``must_include`` string is in it
  (case-insensitive) and no ``must_not_include`` string occurs in it as a whole phrase.
* ``precision`` = correct facts / facts emitted; ``recall`` = correct facts / cases that
  expect a fact; ``detail_kept`` = emitted facts that keep all of their case's ``detail``
  (a number, a name, "only", "new") / emitted facts whose case has a detail.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowpilot_offline.brain import respond

from flowpilot_core.facts.synthesis import build_synthesis_call, parse_synthesis_output

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
SPLITS = {"tuning": DATA_DIR / "fact_synthesis.json", "heldout": DATA_DIR / "fact_synthesis_heldout.json"}


def load_cases(split: str) -> list[dict[str, Any]]:
    """The cases of one split (``tuning`` or ``heldout``)."""
    data = json.loads(SPLITS[split].read_text(encoding="utf-8"))
    cases: list[dict[str, Any]] = data["cases"]
    return cases


def item_and_answer(case: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The task-lane item and the technician's text for a case, as the answers engine holds them."""
    if case["kind"] == "question":
        return {"id": case["id"], "kind": "question", "text": case["question"]}, case["answer"]
    if case["kind"] == "action":
        return {"id": case["id"], "kind": "action", "text": case["action"]}, case["result"]
    return {"id": case["id"], "kind": "check", "text": case["title"], "command": case["command"]}, case["output"]


def synthesise(case: dict[str, Any]) -> str | None:
    """The fact the server would record for ``case`` with the offline model (``None``: no fact)."""
    item, answer = item_and_answer(case)
    return parse_synthesis_output(respond(build_synthesis_call(item, answer)))


def _has_phrase(text: str, phrase: str) -> bool:
    return re.search(r"(?<!\w)" + re.escape(phrase.lower()) + r"(?!\w)", text.lower()) is not None


def problems(case: dict[str, Any], fact: str) -> list[str]:
    """Why ``fact`` is not a correct fact for ``case`` (empty: it is correct)."""
    if not case["expect_fact"]:
        return ["no fact is supported by this input"]
    found = [f"missing {w!r}" for w in case["must_include"] if w.lower() not in fact.lower()]
    found += [f"claims {w!r}" for w in case["must_not_include"] if _has_phrase(fact, w)]
    return found


def keeps_detail(case: dict[str, Any], fact: str) -> bool:
    return all(d.lower() in fact.lower() for d in case.get("detail") or [])


@dataclass
class Score:
    split: str
    cases: int = 0
    positives: int = 0
    emitted: int = 0
    correct: int = 0
    with_detail: int = 0
    detail_kept: int = 0
    wrong: list[tuple[str, str, list[str]]] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.correct / self.emitted if self.emitted else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.positives if self.positives else 1.0

    @property
    def detail_share(self) -> float:
        return self.detail_kept / self.with_detail if self.with_detail else 1.0

    def line(self) -> str:
        return (
            f"split={self.split} cases={self.cases} facts={self.emitted} precision={self.precision:.3f} "
            f"recall={self.recall:.3f} ({self.correct}/{self.positives}) "
            f"detail_kept={self.detail_share:.3f} ({self.detail_kept}/{self.with_detail})"
        )


def score(split: str) -> Score:
    """Run every case of ``split`` through the offline model and count."""
    result = Score(split=split)
    for case in load_cases(split):
        result.cases += 1
        result.positives += bool(case["expect_fact"])
        fact = synthesise(case)
        if fact is None:
            if case["expect_fact"]:
                result.missed.append(case["id"])
            continue
        result.emitted += 1
        wrong = problems(case, fact)
        if wrong:
            result.wrong.append((case["id"], fact, wrong))
        else:
            result.correct += 1
        if case.get("detail"):
            result.with_detail += 1
            result.detail_kept += keeps_detail(case, fact)
    return result
