"""ai-parse: the call, the output parser, and the offline extractor on labelled tickets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from flowpilot_offline.brain import respond
from flowpilot_offline.ticket_parse import extract_emails, extract_error_messages, find_devices, parse_ticket_text

from flowpilot_core.ai.types import CallSpec
from flowpilot_core.tickets.intake import (
    MAX_TEXT_BYTES,
    PARSE_INSTRUCTIONS,
    AIParseError,
    TicketDraft,
    TicketTextEmpty,
    TicketTextError,
    TicketTextTooLarge,
    build_call,
    clamp_summary,
    parse_model_output,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "ai_parse"
CASES = sorted(DATA.glob("*.json"))
FIELDS = ("priority", "category", "affected_user", "affected_device", "suggested_board")


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def test_there_are_enough_labelled_tickets() -> None:
    assert len(CASES) >= 15


def _draft(case: dict[str, Any]) -> TicketDraft:
    """The draft as the server would get it: offline model -> JSON -> validated parser."""
    spec = build_call(case["text"], case["taxonomy"])
    raw = respond(spec)
    return parse_model_output(raw, source_text=case["text"], taxonomy=case["taxonomy"])


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_labelled_ticket(path: Path) -> None:
    case = _load(path)
    expect = case["expect"]
    draft = _draft(case)
    for field in FIELDS:
        got, want = getattr(draft, field), expect[field]
        assert (got or "").lower() == (want or "").lower(), f"{field}: got {got!r}, want {want!r}"
    assert draft.error_messages == expect["error_messages"]
    for message in draft.error_messages:
        assert message in case["text"], "error messages are quoted verbatim"
    assert len(draft.summary) <= 100
    for word in expect["summary_contains"]:
        assert word.lower() in draft.summary.lower(), draft.summary
    for word in expect["symptoms_include"]:
        assert any(word.lower() in s.lower() for s in draft.symptoms), (word, draft.symptoms)
    assert draft.priority_reason and "\n" not in draft.priority_reason
    assert draft.description
    assert all(line in case["text"] for line in draft.description.splitlines()), "the description invents nothing"
    assert not any(line.lower().startswith(("from:", "to:", "subject:")) for line in draft.description.splitlines())


def test_field_accuracy_over_the_labelled_set() -> None:
    """Per-field accuracy, printed for the report (run with -s); every field must be perfect."""
    totals = dict.fromkeys((*FIELDS, "error_messages"), 0)
    for path in CASES:
        case = _load(path)
        draft = _draft(case)
        for field in FIELDS:
            totals[field] += (getattr(draft, field) or "").lower() == (case["expect"][field] or "").lower()
        totals["error_messages"] += draft.error_messages == case["expect"]["error_messages"]
    print({field: f"{count}/{len(CASES)}" for field, count in totals.items()})
    assert all(count == len(CASES) for count in totals.values())


def test_offline_extraction_is_deterministic() -> None:
    case = _load(CASES[0])
    assert parse_ticket_text(case["text"], case["taxonomy"]) == parse_ticket_text(case["text"], case["taxonomy"])


# ==== extractor details =====================================================================


def test_extract_emails_devices_and_codes() -> None:
    text = ('From: Jane <jane.doe@contoso.com>\nLaptop LAPTOP-7F3K2 and WS-ACC-04 cannot reach srv01.contoso.local; '
            'see \\\\fs01.contoso.local\\share and https://portal.contoso.local/x. SSID is CONTOSO-5G2. '
            'Errors: 0x80070005, AADSTS50076, Event ID 4625, Error 800, "The trust relationship failed" and KB5034441.')
    assert extract_emails(text) == ["jane.doe@contoso.com"]
    assert find_devices(text) == ["LAPTOP-7F3K2", "WS-ACC-04", "srv01.contoso.local"]
    assert extract_error_messages(text) == [
        "0x80070005", "AADSTS50076", "Event ID 4625", "Error 800", "The trust relationship failed"]


def test_code_inside_a_quoted_message_is_not_repeated() -> None:
    text = 'Subject: error AADSTS50126\nIt says "AADSTS50126: Error validating credentials due to invalid password."'
    assert extract_error_messages(text) == ["AADSTS50126: Error validating credentials due to invalid password."]


@pytest.mark.parametrize(("text", "priority"), [
    ("The whole office has no internet, nobody can work.", "critical"),
    ("I clicked a link in a phishing email and typed my password", "critical"),
    ("Our CEO can't get email on her phone, please look ASAP", "high"),
    ("Excel crashes sometimes, no rush", "low"),
    ("Outlook shows the wrong signature", "medium"),
    ('The error says "urgent: server down" but it is only my test VM, not urgent', "low"),
])
def test_priority_words(text: str, priority: str) -> None:
    assert parse_ticket_text(text).priority == priority


def test_no_taxonomy_means_generic_category_and_no_board() -> None:
    draft = parse_ticket_text("The printer in finance is offline again")
    assert draft.category == "Printing" and draft.suggested_board is None


# ==== build_call ============================================================================


def test_build_call_separates_stable_and_volatile_parts() -> None:
    taxonomy = {"boards": ["Service Desk", " ", "Service Desk", "Projects"], "categories": [], "extra": "ignored"}
    spec = build_call("Printer offline", taxonomy, account_id="acct-1")
    assert spec.service == "ai_parse"
    assert spec.system == (PARSE_INSTRUCTIONS,)
    assert spec.context == {"taxonomy": {"boards": ["Service Desk", "Projects"]}}
    assert spec.request == "Printer offline" and spec.history == ()
    assert spec.account_id == "acct-1"
    assert build_call("x", None).context == {"taxonomy": {}}
    assert "JSON" in PARSE_INSTRUCTIONS and "VERBATIM" in PARSE_INSTRUCTIONS


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_text_is_rejected(text: str) -> None:
    with pytest.raises(TicketTextEmpty, match="empty"):
        build_call(text, {})


def test_size_limit_counts_utf8_bytes() -> None:
    at_limit = "é" * (MAX_TEXT_BYTES // 2)  # two bytes each
    assert build_call(at_limit, {}).request == at_limit
    with pytest.raises(TicketTextTooLarge, match=r"32770 bytes.*32768 bytes") as info:
        build_call(at_limit + "é", {})
    assert isinstance(info.value, TicketTextError) and isinstance(info.value, ValueError)
    assert info.value.size == MAX_TEXT_BYTES + 2


# ==== parse_model_output ====================================================================

GOOD = {"summary": "Outlook keeps asking for password - Jane Doe", "description": "d", "category": "Email",
        "priority": "High", "priority_reason": "CEO blocked", "affected_user": "Jane Doe",
        "affected_device": "LAPTOP-7F3K2", "symptoms": ["prompt loops"], "error_messages": ["0x800CCC0E"],
        "suggested_board": "service desk"}


def test_parse_plain_json_and_fenced_json() -> None:
    draft = parse_model_output(json.dumps(GOOD))
    assert draft.priority == "high" and draft.summary == GOOD["summary"]
    fenced = "```json\n" + json.dumps(GOOD, indent=2) + "\n```"
    assert parse_model_output(fenced) == draft
    chatty = "Here is the draft:\n" + json.dumps(GOOD) + "\nLet me know!"
    assert parse_model_output(chatty) == draft


def test_summary_is_clamped_on_a_word_boundary() -> None:
    long = "Outlook " + "keeps asking for the password again and again " * 4
    draft = parse_model_output(json.dumps({**GOOD, "summary": long}))
    assert len(draft.summary) <= 100
    assert draft.summary.endswith("…")
    assert long.startswith(draft.summary[:-1]) and long[len(draft.summary) - 1] == " "
    assert clamp_summary("a" * 150) == "a" * 99 + "…"  # no word boundary: cut mid-word
    assert clamp_summary("  short   summary ") == "short summary"


@pytest.mark.parametrize(("value", "expected"), [("critical", "critical"), ("LOW", "low"), ("P1", "critical"),
                                                 ("normal", "medium"), ("Priority 2", "high")])
def test_priority_is_normalised(value: str, expected: str) -> None:
    assert parse_model_output(json.dumps({**GOOD, "priority": value})).priority == expected


@pytest.mark.parametrize("value", ["extreme", "", None, 3])
def test_invalid_priority_is_an_error(value: Any) -> None:
    with pytest.raises(AIParseError, match="priority"):
        parse_model_output(json.dumps({**GOOD, "priority": value}))


@pytest.mark.parametrize(("raw", "message"), [
    ("Sorry, I can't help with that.", "did not return JSON"),
    ("", "did not return JSON"),
    ("[1, 2]", "not an object"),
    (json.dumps({**GOOD, "summary": "  "}), "no summary"),
    (json.dumps({**GOOD, "symptoms": {"a": 1}}), "symptoms"),
])
def test_unusable_output_is_a_clear_error(raw: str, message: str) -> None:
    with pytest.raises(AIParseError, match=message):
        parse_model_output(raw)


def test_error_messages_must_be_verbatim_and_board_must_exist() -> None:
    source = "Outlook shows 0x800CCC0E when sending"
    draft = parse_model_output(json.dumps({**GOOD, "error_messages": ["0x800CCC0E", "Cannot connect to server"]}),
                               source_text=source, taxonomy={"boards": ["Service Desk", "Projects"]})
    assert draft.error_messages == ["0x800CCC0E"]
    assert draft.suggested_board == "Service Desk"
    unknown = parse_model_output(json.dumps({**GOOD, "suggested_board": "Made Up"}), taxonomy={"boards": ["Projects"]})
    assert unknown.suggested_board is None


def test_offline_output_round_trips_through_the_parser() -> None:
    case = _load(CASES[2])
    raw = respond(CallSpec(service="ai_parse", context={"taxonomy": case["taxonomy"]}, request=case["text"]))
    direct = msgspec.json.decode(raw.encode(), type=TicketDraft)
    assert parse_model_output(raw, source_text=case["text"], taxonomy=case["taxonomy"]) == direct
