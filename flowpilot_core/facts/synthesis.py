"""The model side of fact synthesis: the conservative instructions, the call, the output parser.

``FactSynthesisService`` (facts engine) turns an answered task-lane question, a
completed check or what happened when an action was carried out into at most one fact. It describes the model call with
:func:`build_synthesis_call` and reads the reply with :func:`parse_synthesis_output`.
The offline model answers the same call deterministically
(``flowpilot_offline.synthesis``).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from flowpilot_core.ai.gateway import BoundAI
from flowpilot_core.ai.replies import json_reply
from flowpilot_core.ai.types import CallSpec
from flowpilot_core.markers import defuse_markers

__all__ = [
    "MAX_SYNTHESIS_CHARS",
    "SYNTHESIS_INSTRUCTIONS",
    "FactSynthesisService",
    "build_synthesis_call",
    "parse_synthesis_output",
    "synthesis_request",
]

log = logging.getLogger("flowpilot.facts")

MAX_SYNTHESIS_CHARS = 240
"""A synthesised fact is one short sentence; a fact's text itself may be longer (``crud.MAX_FACT_CHARS``)."""

SYNTHESIS_INSTRUCTIONS = """\
You record confirmed facts for an IT troubleshooting session ("What We Know").

You receive ONE answered item as JSON, one of
  {"kind": "question", "question": "...", "answer": "..."}   (the technician's answer),
  {"kind": "check", "title": "...", "command": "...", "output": "..."}   (the command's output), or
  {"kind": "action", "action": "...", "result": "..."}   (what happened when the technician did it).

Reply with ONE JSON object and nothing else: {"fact": string or null, "reason": string}.

Rules, strictest first:
1. A fact says no more than the question and answer (or the command and output)
   support. No causes, no diagnoses, no fixes, no guesses about what it means
   ("the spooler is stopped", never "the spooler crashed" or "the driver is faulty").
2. Return "fact": null when the answer is uncertain or deferred ("not sure", "I think",
   "maybe", "probably", "let me check", "as far as I know"), partial or qualified
   ("partially", "sometimes", "only for some users", "except"), contradictory ("yes
   and no", "no, it's running" to "is it running?"), empty, a question back, or does
   not answer the question; when the command failed (an error instead of output) or
   printed nothing; when the output needs interpretation you cannot state plainly; and
   when an action's result only says it was done ("done", "ok") or is a remark.
3. Otherwise write ONE short declarative sentence (at most 240 characters) that stands
   on its own: name the thing (not "it"), keep names, numbers, codes and quoted error
   text exactly as given, and refer to the end user as "the user".
4. "reason" is one short line saying why there is or is not a fact.
"""


def _field(item: Any, name: str) -> Any:
    if isinstance(item, Mapping):
        return item.get(name)
    return getattr(item, name, None)


def synthesis_request(item: Any, answer: str) -> dict[str, str]:
    """The request object for one answered task-lane item (question, check or action).

    ``item`` is a task-lane item (mapping or object) with ``kind`` and ``text`` and, for
    checks, ``title``/``command``; ``answer`` is the technician's answer, the check's
    output, or what happened when the action was carried out ("What happened?").
    Any other kind is a programming error (``ValueError``): the lane has only these three.
    """
    kind = str(_field(item, "kind") or "")
    text = str(_field(item, "text") or "")
    if kind == "question":
        return {"kind": "question", "question": text, "answer": answer}
    if kind == "check":
        title = str(_field(item, "title") or text)
        return {"kind": "check", "title": title, "command": str(_field(item, "command") or ""), "output": answer}
    if kind == "action":
        return {"kind": "action", "action": text, "result": answer}
    raise ValueError(f"fact synthesis needs a question, a check or an action, not {kind!r}")


def build_synthesis_call(
    item: Any, answer: str, *, account_id: str | None = None, session_id: str | None = None
) -> CallSpec:
    """Describe the fact-synthesis model call for one answered item.

    The instructions are static (cached); the item and answer are the volatile request,
    serialised with sorted keys so identical inputs give byte-identical requests.
    """
    request = json.dumps(synthesis_request(item, answer), sort_keys=True, ensure_ascii=False)
    return CallSpec(
        service="fact_synthesis",
        system=(SYNTHESIS_INSTRUCTIONS,),
        request=request,
        max_tokens=300,
        account_id=account_id,
        session_id=session_id,
    )


def parse_synthesis_output(raw: str) -> str | None:
    """The fact from the model's reply, or ``None``.

    Conservative by design: anything that is not a JSON object with a non-empty string
    ``fact`` of at most 240 characters on one line yields ``None`` (and is logged) -
    a missing fact costs a click, a wrong one ends up in a resolution note.
    Marker-like text in the fact is defused.
    """
    try:
        data = json_reply(raw)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        log.warning("fact synthesis output is not a JSON object; no fact recorded")
        return None
    fact = data.get("fact")
    if fact is None:
        return None
    if not isinstance(fact, str):
        log.warning("fact synthesis returned a non-string fact; no fact recorded")
        return None
    fact = re.sub(r"[ \t]+", " ", fact).strip()
    if not fact or fact.lower() in ("null", "none", "n/a"):
        return None
    if "\n" in fact or len(fact) > MAX_SYNTHESIS_CHARS:
        log.warning("fact synthesis returned more than one short sentence; no fact recorded")
        return None
    return defuse_markers(fact)


class FactSynthesisService:
    """Turns an answered question or a completed check into at most one short, supported fact."""

    def __init__(self, ai: BoundAI) -> None:
        self.ai = ai

    async def synthesize(self, item: Any, given: str, *, account_id: str, session_id: str) -> str | None:
        """The fact ``given`` (the answer or output) establishes for ``item``, or ``None``."""
        spec = build_synthesis_call(item, given, account_id=account_id, session_id=session_id)
        completion = await self.ai.call(spec)
        return parse_synthesis_output(completion.text)
