"""Optional AI wording of a preview: the model may rephrase lines, never add to what they say.

The deterministic preview stays the source of truth. The model gets the content lines
(not the headings) with their numbers and rewrites them through the one cached call path
(the kind's own service: ``resolution_note`` or ``escalation_package``, with its tier).
A rewritten line is kept only if it is one line and every literal in it (numbers, IP
addresses, host and device names, paths, error codes, commands, quoted strings) occurs in
the texts of the rows the line came from; otherwise the line keeps its deterministic text
and the result says which lines were refused and why. The line keeps its sources either way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from flowpilot_core.ai.replies import json_reply
from flowpilot_core.ai.types import CallSpec
from flowpilot_core.previews.render import PreviewLine, inline

WORDING_INSTRUCTIONS = """\
You improve the wording of a note an IT technician is about to post to a ticket.

You receive JSON: {"kind": "...", "lines": [{"number": n, "text": "..."}]}. Reply with ONE JSON
object and nothing else: {"lines": [{"number": n, "text": "..."}]}, one entry per line you
received, same numbers.

Rules:
1. Rephrase for a clear, professional ticket note; keep each line's meaning and keep it one line.
2. Never add anything: no numbers, addresses, names, paths, error codes, commands or quotes that
   the line does not already contain; no causes, guesses or advice of your own.
3. Keep names, numbers, codes, commands and quoted text exactly as written.
4. If a line is fine as it is, return it unchanged.
"""

_LIST_PREFIX = "- "
# Literals a rewrite may only repeat, never introduce.
_LITERALS = (
    re.compile(r"`[^`]+`"),  # inline commands
    re.compile(r'"[^"]+"|\u201c[^\u201d]+\u201d|\'[^\'\s][^\']*\''),  # quoted strings
    re.compile(r"\b0x[0-9A-Fa-f]+\b|\b[A-Z]{2,}[0-9]{2,}\b"),  # error codes: 0x80070005, AADSTS50076
    re.compile(r"[A-Za-z]:\\[^\s,;]*[^\s,;.]|(?<![\w/])/[\w.-]+(?:/[\w.-]*[\w-])+"),  # paths (not a full stop)
    re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"),  # IPv4 addresses
    re.compile(r"\b(?=[A-Za-z0-9-]*\d)(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9]+(?:[-_.][A-Za-z0-9]+)+\b"),  # hosts
    re.compile(r"\b\d+(?:[.,:]\d+)*\b"),  # numbers, times, versions
)


class RefusedLine(msgspec.Struct):
    number: int
    reason: str


class WordingResult(msgspec.Struct):
    markdown: str
    lines: list[PreviewLine]
    reworded: list[int]
    """Numbers of the lines whose text the model's wording replaced."""
    refused: list[RefusedLine]
    """Lines the model changed in a way the check did not accept: they keep their deterministic text."""


def literals(text: str) -> list[str]:
    """The literals in ``text`` that a rewrite must not invent (longest patterns first, no overlaps)."""
    found: list[str] = []
    taken: list[tuple[int, int]] = []
    for pattern in _LITERALS:
        for match in pattern.finditer(text):
            span = match.span()
            if any(span[0] < end and start < span[1] for start, end in taken):
                continue
            taken.append(span)
            found.append(match.group().strip("`\"'\u201c\u201d"))
    return found


def unsupported(rewritten: str, sources: Iterable[str]) -> list[str]:
    """The literals of ``rewritten`` that none of ``sources`` contains."""
    corpus = "\n".join(sources).lower()
    return [literal for literal in literals(rewritten) if literal.lower() not in corpus]


def content_lines(lines: list[PreviewLine]) -> list[PreviewLine]:
    """The lines the model may reword: not the section headings (they are the note's structure)."""
    return [line for line in lines if not all(s.kind == "template" for s in line.sources)]


def build_wording_call(kind: str, lines: list[PreviewLine], *, account_id: str, session_id: str) -> CallSpec:
    payload = {
        "kind": kind,
        "lines": [{"number": line.number, "text": line.text.removeprefix(_LIST_PREFIX)} for line in lines],
    }
    return CallSpec(
        service=kind,
        system=(WORDING_INSTRUCTIONS,),
        request=json.dumps(payload, ensure_ascii=False, sort_keys=True),
        max_tokens=2000,
        account_id=account_id,
        session_id=session_id,
    )


def _proposals(raw: str) -> dict[int, str]:
    try:
        data = json_reply(raw)
    except ValueError:
        return {}
    entries = data.get("lines") if isinstance(data, dict) else None
    out: dict[int, str] = {}
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("number"), int) and isinstance(entry.get("text"), str):
            out[entry["number"]] = entry["text"]
    return out


def apply_wording(
    lines: list[PreviewLine], raw: str, source_texts: Mapping[int, list[str]]
) -> tuple[list[PreviewLine], list[int], list[RefusedLine]]:
    """The lines with the accepted rewrites; which were reworded and which refused (and why)."""
    proposals = _proposals(raw)
    out, reworded, refused = [], [], []
    for line in lines:
        proposal = proposals.get(line.number)
        prefix = _LIST_PREFIX if line.text.startswith(_LIST_PREFIX) else ""
        current = line.text.removeprefix(prefix)
        if proposal is None or proposal.strip() == current or not proposal.strip():
            out.append(line)
            continue
        reason = None
        if "\n" in proposal.strip():
            reason = "the rewrite is more than one line"
        else:
            added = unsupported(proposal, [current, *source_texts.get(line.number, [])])
            if added:
                reason = "adds " + ", ".join(repr(a) for a in added) + ", which its sources do not say"
        if reason:
            refused.append(RefusedLine(number=line.number, reason=reason))
            out.append(line)
            continue
        out.append(msgspec.structs.replace(line, text=prefix + inline(proposal)))
        reworded.append(line.number)
    return out, reworded, refused


def reassemble(markdown: str, lines: list[PreviewLine]) -> str:
    """``markdown`` with each numbered line replaced by its (possibly reworded) text."""
    rows = markdown.split("\n")
    for line in lines:
        rows[line.number - 1] = line.text
    return "\n".join(rows)


def source_texts(lines: list[PreviewLine], rows: Mapping[tuple[str, str], Any]) -> dict[int, list[str]]:
    """For each line, the texts of the rows it names (``rows`` maps (kind, id) to the row's text or texts)."""
    out: dict[int, list[str]] = {}
    for line in lines:
        texts: list[str] = []
        for source in line.sources:
            value = rows.get((source.kind, source.id))
            if isinstance(value, str):
                texts.append(value)
            elif isinstance(value, list | tuple):
                texts.extend(str(v) for v in value if v)
        out[line.number] = texts
    return out
