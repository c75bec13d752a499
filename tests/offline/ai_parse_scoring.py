"""Scoring the offline ticket parser on a labelled split, field by field.

Shared by the held-out test (``tests/offline/test_ai_parse_heldout.py``) and the benchmark
(``bench/ai_parse.py``) so both count the same way. Every case goes through the path the
server uses: the request builder, the offline model, the output parser.

The tuning split is the 24 files in ``tests/data/ai_parse/`` the parser's rules were
written from (each is also a regression test in ``tests/api/test_ai_parse_api.py``). The
held-out splits (``tests/data/ai_parse_heldout.json``) are only measured: ``heldout-1`` was
written before it was first run, and its failures were read afterwards, so it is no longer
unseen; ``heldout-2`` was written before the parser's next change and is the honest number.

* ``priority``, ``category``, ``affected_user``, ``affected_device`` and ``suggested_board``
  score as accuracy: the share of cases where the field equals the label (case-insensitive;
  ``None`` must match ``None``).
* ``error_messages`` scores as precision (quoted messages that are labelled) and recall
  (labelled messages that were quoted), over all cases of the split.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowpilot_offline.brain import respond

from flowpilot_core.tickets.intake import TicketDraft, build_call, parse_model_output

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
ACCURACY_FIELDS = ("priority", "category", "affected_user", "affected_device", "suggested_board")


SPLITS = ("tuning", "heldout-1", "heldout-2")


def load_cases(split: str) -> list[dict[str, Any]]:
    """The cases of one split: ``tuning``, ``heldout-1`` (seen since), ``heldout-2`` (unseen), ``heldout`` (both)."""
    if split.startswith("heldout"):
        cases: list[dict[str, Any]] = json.loads((DATA_DIR / "ai_parse_heldout.json").read_text("utf-8"))["cases"]
        return [c for c in cases if split == "heldout" or c["split"] == split]
    if split == "tuning":
        paths = sorted((DATA_DIR / "ai_parse").glob("*.json"))
        return [{"id": p.stem, **json.loads(p.read_text("utf-8"))} for p in paths]
    raise ValueError(f"unknown split {split!r}")


def parse(case: dict[str, Any]) -> TicketDraft:
    """The draft the server would return for ``case`` with the offline model."""
    spec = build_call(case["text"], case["taxonomy"])
    return parse_model_output(respond(spec), source_text=case["text"], taxonomy=case["taxonomy"])


def _same(got: str | None, want: str | None) -> bool:
    return (got or "").strip().lower() == (want or "").strip().lower()


@dataclass
class Score:
    split: str
    cases: int = 0
    right: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ACCURACY_FIELDS, 0))
    quoted: int = 0
    quoted_right: int = 0
    labelled: int = 0
    wrong: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)

    def accuracy(self, name: str) -> float:
        return self.right[name] / self.cases if self.cases else 0.0

    @property
    def error_precision(self) -> float:
        return self.quoted_right / self.quoted if self.quoted else 1.0

    @property
    def error_recall(self) -> float:
        return self.quoted_right / self.labelled if self.labelled else 1.0

    def line(self) -> str:
        fields = " ".join(f"{name}={self.accuracy(name):.3f}" for name in ACCURACY_FIELDS)
        return (
            f"split={self.split} cases={self.cases} {fields} "
            f"error_precision={self.error_precision:.3f} error_recall={self.error_recall:.3f}"
        )


def score(split: str) -> Score:
    result = Score(split)
    for case in load_cases(split):
        draft, expect = parse(case), case["expect"]
        result.cases += 1
        for name in ACCURACY_FIELDS:
            got, want = getattr(draft, name), expect[name]
            if _same(got, want):
                result.right[name] += 1
            else:
                result.wrong.append((case["id"], name, got, want))
        labelled = set(expect["error_messages"])
        result.quoted += len(draft.error_messages)
        result.quoted_right += sum(1 for message in draft.error_messages if message in labelled)
        result.labelled += len(labelled)
        for message in draft.error_messages:
            if message not in labelled:
                result.wrong.append((case["id"], "error_messages", message, None))
        for message in labelled - set(draft.error_messages):
            result.wrong.append((case["id"], "error_messages", None, message))
    return result
