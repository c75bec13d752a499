"""Fact synthesis: the conservative offline synthesiser measured on a held-out labelled set, and the call helpers.

Two labelled splits (``tests/offline/fact_scoring.py`` counts): the *tuning* split
(``tests/data/fact_synthesis.json``) is the one the rules were written from; the
*held-out* split (``tests/data/fact_synthesis_heldout.json``) was written before the rules
and no rule may be written from it. The thresholds gate the held-out split.
"""

from __future__ import annotations

import json

import pytest
from flowpilot_offline.answers import bare_yes_no, is_uncertain
from flowpilot_offline.brain import respond
from flowpilot_offline.synthesis import synthesize_fact

from flowpilot_core.ai.types import CallSpec
from flowpilot_core.facts.synthesis import (
    SYNTHESIS_INSTRUCTIONS,
    build_synthesis_call,
    parse_synthesis_output,
)
from tests.offline.fact_scoring import SPLITS, load_cases, problems, score, synthesise

HELDOUT = load_cases("heldout")
TUNING = load_cases("tuning")

# Measured 2026-12-01: held-out precision 1.000, recall 0.667 (52/78); the floor sits a bit below.
HELDOUT_MIN_PRECISION = 0.98
HELDOUT_MIN_RECALL = 0.62


def test_the_heldout_split_is_marked_and_big_enough() -> None:
    data = json.loads(SPLITS["heldout"].read_text(encoding="utf-8"))
    assert data["split"] == "heldout" and "No rule" in data["description"]
    assert len(HELDOUT) >= 80
    kinds = {c["kind"] for c in HELDOUT}
    assert kinds == {"question", "check", "action"}
    assert len({c["id"] for c in HELDOUT}) == len(HELDOUT)
    assert sum(not c["expect_fact"] for c in HELDOUT) >= 20


def test_heldout_precision_and_recall() -> None:
    """The gate: facts on data no rule was written from are right (or absent); numbers printed with -s."""
    result = score("heldout")
    print(result.line())
    assert result.precision >= HELDOUT_MIN_PRECISION, result.wrong
    assert result.recall >= HELDOUT_MIN_RECALL, result.missed
    assert result.detail_share >= 0.9, result.line()


def test_tuning_split_is_reported_and_stays_precise() -> None:
    result = score("tuning")
    print(result.line())
    assert result.precision >= HELDOUT_MIN_PRECISION, result.wrong


NO_FACT_HELDOUT = [c for c in HELDOUT if not c["expect_fact"]]


@pytest.mark.parametrize("case", NO_FACT_HELDOUT, ids=[c["id"] for c in NO_FACT_HELDOUT])
def test_no_fact_when_only_null_is_right(case: dict[str, object]) -> None:
    """Hedges, remarks, placeholders, "done": the answer stays on the item and no fact is written."""
    assert synthesise(case) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("Is the DNS server set to the DC?", "It is set to 8.8.8.8"),
        ("Has the password expired?", "it has been reset already"),
        ("Does the user have admin rights?", "they did last month"),
        ("Is the VPN connected?", "yes but only on the home Wi-Fi"),
        ("Is the printer online?", "It was this morning"),
    ],
)
def test_a_sentence_that_starts_like_yes_is_not_a_yes(question: str, answer: str) -> None:
    """The trust issue's wrong facts: a leading "it is / they did" is not a yes, so no fact at all."""
    item = {"kind": "question", "text": question}
    assert parse_synthesis_output(respond(build_synthesis_call(item, answer))) is None


@pytest.mark.parametrize(
    ("question", "answer", "fact"),
    [
        ("Is the DNS server set to the DC?", "no", "The DNS server is not set to the DC."),
        ("Has the password expired?", "Yes", "The password has expired."),
        ("Does the user have admin rights?", "nope", "The user does not have admin rights."),
        ("Does the user have admin rights?", "yes they do", "The user has admin rights."),
        ("Can other people in the office print?", "no, they can't", "Other people in the office cannot print."),
        ("Did the backup complete?", "yes", "The backup did complete."),
        ("Is the laptop on the office network?", "yes", None),  # "on ..." could be subject or predicate
        ("Is it the same printer?", "yes", None),  # "it" needs the conversation
        ("Is the laptop on Wi-Fi or wired?", "yes", None),  # not a yes/no question
        ("What is the printer's IP?", "10.0.0.5", None),  # open question: the answer stays on the item
    ],
)
def test_bare_answers_restate_the_question(question: str, answer: str, fact: str | None) -> None:
    assert synthesize_fact({"kind": "question", "question": question, "answer": answer}).fact == fact


def test_playbook_questions_use_the_facts_written_in_the_playbook() -> None:
    result = synthesize_fact(
        {"kind": "question", "question": "Can other people print to the same printer?", "answer": "no"}
    )
    assert result.fact == "Other users cannot print to the same printer either."


@pytest.mark.parametrize(
    ("answer", "auxiliary", "reading"),
    [
        ("yes", None, "yes"),
        ("Yep.", None, "yes"),
        ("No", None, "no"),
        ("nope", "is", "no"),
        ("yes it is", "is", "yes"),
        ("no, it isn't", "is", "no"),
        ("no they can't", "can", "no"),
        ("yes it was", "is", None),  # another tense: not an echo
        ("yes it isn't", "is", None),
        ("It is", "is", None),
        ("it has been reset", "has", None),
        ("not sure", None, None),
        ("yes and no", None, None),
        ("yes... no wait", None, None),
        ("probably", None, None),
        ("", None, None),
        ("Why?", None, None),
        ("yes, on Monday", "did", None),
    ],
)
def test_bare_yes_no(answer: str, auxiliary: str | None, reading: str | None) -> None:
    assert bare_yes_no(answer, auxiliary) == reading


def test_hedges_are_uncertain() -> None:
    assert is_uncertain("I think so") and is_uncertain("only on Wi-Fi") and is_uncertain("what do you mean?")
    assert not is_uncertain("yes")


def test_garbled_table_is_not_a_fact_and_real_output_reads_as_english() -> None:
    custom = (
        "Port           Address     Reachable\n----           -------     ---------\n"
        "IP_10.0.20.45  10.0.20.45      False\n"
    )
    assert (
        synthesize_fact({"kind": "check", "title": "Printer port", "command": "custom", "output": custom}).fact is None
    )
    tnc = (
        "ComputerName     : 10.0.20.45\nRemoteAddress    : 10.0.20.45\nRemotePort       : 9100\n"
        "InterfaceAlias   : Ethernet\nSourceAddress    : 10.0.20.112\nTcpTestSucceeded : False\n"
    )
    fact = synthesize_fact(
        {"kind": "check", "title": "Printer port", "command": "Test-NetConnection", "output": tnc}
    ).fact
    assert fact == "Test-NetConnection: the TCP connection to 10.0.20.45 on port 9100 failed."


def test_an_action_result_is_a_fact_only_when_it_is_tool_output() -> None:
    said = synthesize_fact({"kind": "action", "action": "Restart the spooler", "result": "restarted, printing again"})
    assert said.fact is None and said.reason
    output = (
        "Status   Name               DisplayName\n------   ----               -----------\n"
        "Running  Spooler            Print Spooler\n"
    )
    shown = synthesize_fact({"kind": "action", "action": "Restart the spooler", "result": output})
    assert shown.fact == "The Print Spooler service (Spooler) is running."


def test_problems_names_what_is_wrong() -> None:
    case = {"expect_fact": True, "must_include": ["8.8.8.8"], "must_not_include": ["is set to the DC"]}
    assert problems(case, "The DNS server is set to the DC.") == ["missing '8.8.8.8'", "claims 'is set to the DC'"]
    assert problems(case, "The DNS server is set to 8.8.8.8.") == []


def test_deterministic() -> None:
    case = HELDOUT[0]
    payload = {"kind": "question", "question": case["question"], "answer": case["answer"]}
    assert synthesize_fact(payload) == synthesize_fact(payload)
    assert TUNING


# ==== the model call and its output =========================================================


def test_build_synthesis_call_for_a_question_and_a_check() -> None:
    spec = build_synthesis_call(
        {"id": "i1", "kind": "question", "text": "Is the VPN connected?"}, "yes", account_id="a1", session_id="s1"
    )
    assert isinstance(spec, CallSpec) and spec.service == "fact_synthesis"
    assert spec.system == (SYNTHESIS_INSTRUCTIONS,) and spec.context == {} and spec.history == ()
    assert json.loads(spec.request) == {"kind": "question", "question": "Is the VPN connected?", "answer": "yes"}
    assert (spec.account_id, spec.session_id) == ("a1", "s1")
    check = build_synthesis_call(
        {"kind": "check", "text": "Spooler status", "command": "Get-Service Spooler"}, "Running"
    )
    assert json.loads(check.request) == {
        "kind": "check",
        "title": "Spooler status",
        "command": "Get-Service Spooler",
        "output": "Running",
    }
    # Byte-identical requests for identical inputs (sorted keys).
    again = build_synthesis_call(
        {"command": "Get-Service Spooler", "text": "Spooler status", "kind": "check"}, "Running"
    )
    assert again.request == check.request
    action = build_synthesis_call({"kind": "action", "text": "Restart the spooler"}, "restarted it")
    assert json.loads(action.request) == {"kind": "action", "action": "Restart the spooler", "result": "restarted it"}
    with pytest.raises(ValueError, match="a question, a check or an action"):
        build_synthesis_call({"kind": "note", "text": "Restart"}, "done")


def test_instructions_state_the_conservative_rules() -> None:
    for phrase in ("no more than", "null", "not sure", "partially", "contradictory", "ONE short declarative"):
        assert phrase in SYNTHESIS_INSTRUCTIONS


@pytest.mark.parametrize(
    ("raw", "fact"),
    [
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
    ],
)
def test_parse_synthesis_output_is_conservative(raw: str, fact: str | None) -> None:
    assert parse_synthesis_output(raw) == fact


def test_offline_model_rejects_a_malformed_request() -> None:
    out = json.loads(respond(CallSpec(service="fact_synthesis", request="not json")))
    assert out["fact"] is None and out["reason"]
