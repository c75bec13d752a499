"""Reading a structured reply: the JSON a model was asked for, however it wrapped it."""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE_RE = re.compile(r"^\s*```(?:json|JSON)?\s*\n?(.*?)\n?\s*```\s*$", re.S)


def json_reply(raw: str) -> Any:
    """The JSON value in ``raw``: bare, in a ```json fence, or an object inside a sentence.

    Raises ``ValueError`` when there is no JSON in it; the caller checks the value's shape.
    """
    text = raw.strip()
    fenced = _FENCE_RE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    start, end = text.find("{"), text.rfind("}")
    if start != -1 and end > start:  # some models add a sentence around the object
        return json.loads(text[start : end + 1])
    raise ValueError("no JSON in the reply")
