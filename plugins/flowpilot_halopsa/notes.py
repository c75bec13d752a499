"""A FlowPilot note as a Halo action, and back.

Halo shows an action's ``note_html``; FlowPilot's notes are plain text (markdown), so the
text is HTML-escaped, paragraphs become ``<p>`` and line breaks ``<br>``. Reading an action
back turns its ``note_html`` into the same text again (or uses the plain ``note`` when the
answer has no HTML), so the writeback's marker and the text compare exactly.
"""

from __future__ import annotations

import html
import re
from typing import Any

from flowpilot_core.psa.provider import NoteKind, PSANote

_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_PARAGRAPH = re.compile(r"</p>\s*<p[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def to_html(text: str) -> str:
    lines = text.replace("\r\n", "\n").strip("\n").split("\n")
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            paragraphs[-1].append(html.escape(line.rstrip(), quote=False))
        elif paragraphs[-1]:
            paragraphs.append([])
    return "".join(f"<p>{'<br>'.join(p)}</p>" for p in paragraphs if p)


def to_text(note_html: str) -> str:
    text = _PARAGRAPH.sub("\n\n", note_html)
    text = _BREAK.sub("\n", text)
    return html.unescape(_TAG.sub("", text)).strip()


def same_text(a: str, b: str) -> bool:
    """Equal but for whitespace (Halo may re-flow what it stores)."""
    return _SPACE.sub(" ", a).strip() == _SPACE.sub(" ", b).strip()


def action_body(ticket_id: int, text: str, *, outcome: str, internal: bool) -> dict[str, Any]:
    """The action FlowPilot posts (as the only item of the array ``POST /Actions`` takes)."""
    return {
        "ticket_id": ticket_id,
        "outcome": outcome,
        "note_html": to_html(text),
        "hiddenfromuser": internal,
        "sendemail": False,
    }


def action_text(raw: dict[str, Any]) -> str:
    note_html = raw.get("note_html")
    if isinstance(note_html, str) and note_html.strip():
        return to_text(note_html)
    return str(raw.get("note") or "").strip()


def psa_note(raw: dict[str, Any]) -> PSANote:
    return PSANote(id=str(raw["id"]), text=action_text(raw), internal=raw.get("hiddenfromuser") is True)


def outcome_for(kind: NoteKind, note_outcome: str, resolution_outcome: str | None) -> str:
    return (resolution_outcome or note_outcome) if kind == "resolution" else note_outcome
