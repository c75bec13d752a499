"""Ticket-parse quality of the offline model on both labelled splits.

The tuning split (``tests/data/ai_parse/``) is the set the parser's rules were written
from; the held-out splits (``tests/data/ai_parse_heldout.json``) are only measured, and
``heldout-2`` is the one nobody has read the failures of. Scoring is
``tests/offline/ai_parse_scoring.py``.

Prints one line per split (field accuracies, error-message precision and recall) and,
with ``-v``, every field the parser got wrong on the tuning and heldout-1 splits.

Run from the repository root: ``.venv/bin/python bench/ai_parse.py [-v]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "plugins"):  # runnable from a plain checkout
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from tests.offline.ai_parse_scoring import SPLITS, score  # noqa: E402


def main(verbose: bool) -> None:
    for split in SPLITS:
        result = score(split)
        if verbose and split != "heldout-2":  # the unseen split's failures stay unread, so it stays unseen
            for case_id, name, got, want in result.wrong:
                print(f"  {case_id} {name}: got {got!r}, want {want!r}")
        print(result.line())


if __name__ == "__main__":
    main("-v" in sys.argv[1:])
