"""The offline model's "Improve wording": deterministic and conservative, it only tidies each line.

It never adds a word that carries information: it capitalises the first letter, ends a
sentence with a full stop, and turns the synthesis phrasing "The technician said: X" into
"Reported: X". Anything else stays as written, so the literal check never has to refuse it.
"""

from __future__ import annotations

import json
import re
from typing import Any

_SAID = re.compile(r"^The technician said:\s*", re.I)


def tidy(text: str) -> str:
    line = _SAID.sub("Reported: ", text.strip())
    if line and line[0].islower():
        line = line[0].upper() + line[1:]
    if line and line[-1].isalnum():
        line += "."
    return line


def reword(request: str) -> str | None:
    """The reply to a wording request (``{"kind", "lines": [{"number", "text"}]}``), or ``None`` if it is not one."""
    try:
        data: Any = json.loads(request)
    except ValueError:
        return None
    lines = data.get("lines") if isinstance(data, dict) else None
    if not isinstance(lines, list):
        return None
    out = [
        {"number": line["number"], "text": tidy(str(line.get("text") or ""))}
        for line in lines
        if isinstance(line, dict) and isinstance(line.get("number"), int)
    ]
    return json.dumps({"lines": out}, ensure_ascii=False)
