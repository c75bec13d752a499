"""The offline ticket parser measured on tickets it was not written from.

The thresholds are floors under the measured held-out numbers (``bench/ai_parse.py``
prints them), not targets: they catch a change that makes the parser worse on unseen
tickets. The tuning split is checked case by case in ``tests/api/test_ai_parse_api.py``;
its perfect score says nothing about quality, this one does.
"""

from __future__ import annotations

import pytest

from tests.offline.ai_parse_scoring import load_cases, score

FLOORS = {
    "priority": 0.40,
    "category": 0.60,
    "affected_user": 0.75,
    "affected_device": 0.90,
    "suggested_board": 0.65,
}


@pytest.fixture(scope="module")
def heldout():  # type: ignore[no-untyped-def]
    return score("heldout")


def test_the_heldout_split_is_not_the_tuning_split() -> None:
    tuning = {case["text"] for case in load_cases("tuning")}
    heldout = load_cases("heldout")
    assert len(heldout) >= 30
    assert not tuning & {case["text"] for case in heldout}


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_field_accuracy_on_unseen_tickets(heldout, name: str) -> None:  # type: ignore[no-untyped-def]
    assert heldout.accuracy(name) >= FLOORS[name], heldout.line()


def test_error_messages_are_quoted_not_invented(heldout) -> None:  # type: ignore[no-untyped-def]
    assert heldout.error_precision >= 0.85, heldout.line()
    assert heldout.error_recall >= 0.55, heldout.line()
