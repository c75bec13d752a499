"""Template extraction quality (the deterministic pass) on both labelled splits.

The tuning split (``tests/data/script_extraction.json``) is the set the rules were written
from; the held-out split (``tests/data/script_extraction_heldout.json``) was written after
the rules and is only measured. Scoring is ``tests/scripts/extraction_scoring.py``.

Prints one line per split, ``split=… precision=… recall=… kept=…``, and with ``-v`` every
missed literal and every wrong parameter.

Run from the repository root: ``.venv/bin/python bench/script_extraction.py [-v]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "plugins"):  # runnable from a plain checkout
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from tests.scripts.extraction_scoring import score  # noqa: E402


def main(verbose: bool) -> None:
    for split in ("tuning", "heldout"):
        result = score(split)
        if verbose:
            for missed in result.missed:
                print(f"  missed {missed}")
            for wrong in result.wrong:
                print(f"  wrong  {wrong}")
        print(result.line())


if __name__ == "__main__":
    main("-v" in sys.argv[1:])
