"""Fact synthesis quality of the offline model on both labelled splits.

The tuning split (``tests/data/fact_synthesis.json``) is the set the rules were written
from; the held-out split (``tests/data/fact_synthesis_heldout.json``) was written before
the rules and is only measured. Each case goes through the server's path (request
builder, offline model, output parser); scoring is ``tests/offline/fact_scoring.py``.

Prints one line per split, ``split=… precision=… recall=… detail_kept=…``, and with
``-v`` every wrong fact and every missed case.

Run from the repository root: ``.venv/bin/python bench/fact_synthesis.py [-v]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "plugins"):  # runnable from a plain checkout
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from tests.offline.fact_scoring import score  # noqa: E402


def main(verbose: bool) -> None:
    for split in ("tuning", "heldout"):
        result = score(split)
        if verbose:
            for case_id, fact, why in result.wrong:
                print(f"  wrong  {case_id}: {fact!r} ({'; '.join(why)})")
            for case_id in result.missed:
                print(f"  missed {case_id}")
        print(result.line())


if __name__ == "__main__":
    main("-v" in sys.argv[1:])
