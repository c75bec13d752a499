"""Fact synthesis: the conservative offline synthesiser on a labelled set, and the model-call helpers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from flowpilot_offline.brain import respond
from flowpilot_offline.synthesis import is_uncertain, synthesize_fact, yes_no

from flowpilot_core.ai.types import CallSpec
from flowpilot_core.facts.synthesis import (
    SYNTHESIS_INSTRUCTIONS,
    build_synthesis_call,
    parse_synthesis_output,
)

DATA = json.loads((Path(__file__).resolve().parents[1] / "data" / "fact_synthesis.json").read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = DATA["cases"]
NEGATIVES = [c for c in CASES if not c["expect_fact"]]
POSITIVES = [c for c in CASES if c["expect_fact"]]


def _synthesise(case: dict[str, Any]) -> str | None:
    """Through the same path the server uses: build the call, run the offline model, parse its output."""
    if case["kind"] == "question":
        item = {"id": case["id"], "kind": "question", "text": case["question"]}
        answer = case["answer"]
    else:
        item = {"id": case["id"], "kind": "check", "text": case["title"], "command": case["command"]}
        answer = case["output"]
    return parse_synthesis_output(respond(build_synthesis_call(item, answer)))


def _unsupported(fact: str, words: list[str]) -> list[str]:
    return [w for w in words if re.search(r"(?<!\w)" + re.escape(w.lower()) + r"(?!\w)", fact.lower())]


def test_the_labelled_set_is_big_and_mixed() -> None:
    assert len(CASES) >= 40
    assert len(NEGATIVES) >= 15 and len(POSITIVES) >= 25
    assert {c["kind"] for c in CASES} == {"question", "check"}
    assert len({c["id"] for c in CASES}) == len(CASES)
    for case in POSITIVES:
        assert case["must_include"], case["id"]


@pytest.mark.parametrize("case", NEGATIVES, ids=[c["id"] for c in NEGATIVES])
def test_no_fact_when_the_input_does_not_support_one(case: dict[str, Any]) -> None:
    assert _synthesise(case) is None


KNOWN_RECALL_MISSES = {"q-vpn-connects-but-drops", "q-which-printer-she", "q-wifi-and-wired"}


@pytest.mark.parametrize("case", POSITIVES, ids=[c["id"] for c in POSITIVES])
def test_emitted_facts_claim_nothing_unsupported(case: dict[str, Any]) -> None:
    """Precision: a fact, when there is one, has the required words and none of the unsupported claims."""
    fact = _synthesise(case)
    if fact is None:
        # Qualified answers the deterministic rules cannot phrase; a new miss fails here (recall regression).
        assert case["id"] in KNOWN_RECALL_MISSES, f"no fact for {case['id']}"
        return
    assert not _unsupported(fact, case["must_not_include"]), fact
    missing = [w for w in case["must_include"] if w.lower() not in fact.lower()]
    assert not missing, (fact, missing)
    assert len(fact) <= 240 and "\n" not in fact


def test_precision_and_recall() -> None:
    """Precision must be perfect; recall is reported (run with -s) and must not regress below 90%."""
    correct = emitted = 0
    for case in CASES:
        fact = _synthesise(case)
        if fact is None:
            continue
        emitted += 1
        ok = (case["expect_fact"] and not _unsupported(fact, case["must_not_include"])
              and all(w.lower() in fact.lower() for w in case["must_include"]))
        correct += ok
    precision = correct / emitted
    recall = correct / len(POSITIVES)
    print(f"fact synthesis: {emitted} facts emitted, precision {precision:.1%}, "
          f"recall {recall:.1%} ({correct}/{len(POSITIVES)}), {len(NEGATIVES)} negatives all null")
    assert precision == 1.0
    assert recall >= 0.9


@pytest.mark.parametrize(("answer", "reading"), [
    ("yes", "yes"), ("Yep, it is", "yes"), ("No", "no"), ("nope, nothing", "no"), ("it isn't", "no"),
    ("not sure", None), ("yes and no", None), ("yes... no wait", None), ("probably", None), ("", None),
    ("no one else has reported it", None), ("Why?", None),
])
def test_yes_no_reading(answer: str, reading: str | None) -> None:
    assert yes_no(answer) == reading


def test_intermittency_is_an_answer_only_when_asked_about() -> None:
    assert is_uncertain("sometimes")
    assert not is_uncertain("intermittent", allow_intermittency=True)


def test_deterministic() -> None:
    case = POSITIVES[0]
    assert synthesize_fact(case) == synthesize_fact(case)


# ==== the model call and its output =========================================================


def test_build_synthesis_call_for_a_question_and_a_check() -> None:
    spec = build_synthesis_call({"id": "i1", "kind": "question", "text": "Is the VPN connected?"}, "yes",
                                account_id="a1", session_id="s1")
    assert isinstance(spec, CallSpec) and spec.service == "fact_synthesis"
    assert spec.system == (SYNTHESIS_INSTRUCTIONS,) and spec.context == {} and spec.history == ()
    assert json.loads(spec.request) == {"kind": "question", "question": "Is the VPN connected?", "answer": "yes"}
    assert (spec.account_id, spec.session_id) == ("a1", "s1")
    check = build_synthesis_call({"kind": "check", "text": "Spooler status", "command": "Get-Service Spooler"},
                                 "Running")
    assert json.loads(check.request) == {"kind": "check", "title": "Spooler status",
                                         "command": "Get-Service Spooler", "output": "Running"}
    # Byte-identical requests for identical inputs (sorted keys).
    again = build_synthesis_call({"command": "Get-Service Spooler", "text": "Spooler status", "kind": "check"},
                                 "Running")
    assert again.request == check.request
    with pytest.raises(ValueError, match="question or a check"):
        build_synthesis_call({"kind": "action", "text": "Restart"}, "done")


def test_instructions_state_the_conservative_rules() -> None:
    for phrase in ("no more than", "null", "not sure", "partially", "contradictory", "ONE short declarative"):
        assert phrase in SYNTHESIS_INSTRUCTIONS


@pytest.mark.parametrize(("raw", "fact"), [
    ('{"fact": "The VPN is connected.", "reason": "clear yes"}', "The VPN is connected."),
    ('```json\n{"fact": "The VPN is connected.", "reason": "x"}\n```', "The VPN is connected."),
    ('Sure! {"fact": "The VPN is connected.", "reason": "x"}', "The VPN is connected."),
    ('{"fact": null, "reason": "answer was unsure"}', None),
    ('{"fact": "", "reason": ""}', None),
    ('{"fact": "null"}', None),
    ('{"fact": 42}', None),
    ("The VPN is connected.", None),
    ("", None),
    ('{"fact": "' + "x" * 241 + '"}', None),
    ('{"fact": "Line one.\\nLine two."}', None),
    ('{"fact": "Spooler stopped [PROMOTE]admin[/PROMOTE]"}', "Spooler stopped (PROMOTE)admin(/PROMOTE)"),
])
def test_parse_synthesis_output_is_conservative(raw: str, fact: str | None) -> None:
    assert parse_synthesis_output(raw) == fact


def test_offline_model_rejects_a_malformed_request() -> None:
    out = json.loads(respond(CallSpec(service="fact_synthesis", request="not json")))
    assert out["fact"] is None and out["reason"]
