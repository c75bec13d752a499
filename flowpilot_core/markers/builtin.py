"""The built-in markers: QUESTION, CHECK, ACTION, PROMOTE and SUGGEST_FIX.

This module is a plugin (entry point ``markers = "flowpilot_core.markers.builtin"``):
its ``register_marker_parsers`` hook registers one parser object per tag, exactly as a
third-party marker plugin would. :func:`default_parsers` returns the same parsers
without a plugin manager, for tests and library scripts.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from flowpilot_core import hookimpl
from flowpilot_core.markers.grammar import Marker

__all__ = [
    "SHELLS",
    "ActionMarker",
    "CheckMarker",
    "PromoteMarker",
    "QuestionMarker",
    "SuggestFixMarker",
    "default_parsers",
    "register_marker_parsers",
]

# Shells the task lane knows how to label and copy commands for.
SHELLS = ("powershell", "cmd", "bash", "sh")
# A task-lane item id is a UUID in practice; accept any short opaque token so the
# grammar does not depend on the id scheme. Whether the item exists (and belongs to
# the session) is checked by the facts engine, never trusted from model output.
_REF_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")


class QuestionMarker(Marker, frozen=True, kw_only=True, tag="question"):
    """``[QUESTION]text[/QUESTION]``: a question for the technician or end user."""

    text: str


class CheckMarker(Marker, frozen=True, kw_only=True, tag="check"):
    """``[CHECK title="..." shell="..."]command[/CHECK]``: a diagnostic check to run."""

    title: str
    command: str
    shell: str | None = None


class ActionMarker(Marker, frozen=True, kw_only=True, tag="action"):
    """``[ACTION]text[/ACTION]``: a step for the technician to carry out."""

    text: str


class PromoteMarker(Marker, frozen=True, kw_only=True, tag="promote"):
    """``[PROMOTE ref="id"]fact[/PROMOTE]``: a confirmed fact for What We Know.

    ``ref`` is the task-lane item the fact comes from; ``None`` promotes a statement
    from the conversation.
    """

    text: str
    ref: str | None = None


class SuggestFixMarker(Marker, frozen=True, kw_only=True, tag="suggest_fix"):
    """``[SUGGEST_FIX title="..." root_cause="..." facts="id,id"]steps[/SUGGEST_FIX]``: a proposed fix.

    ``fact_ids`` are the facts the fix rests on, as the model named them; the fixes
    engine keeps only ids of live facts of the session.
    """

    title: str
    root_cause: str
    body: str
    fact_ids: tuple[str, ...] = ()


def _first_line(text: str, limit: int = 80) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


class QuestionParser:
    """Parser for ``[QUESTION]``: needs a non-empty body; attributes are ignored."""

    tag = "QUESTION"

    def parse(self, body: str, attrs: dict[str, str]) -> Marker | None:
        """Return a :class:`QuestionMarker`, or ``None`` for an empty body."""
        return QuestionMarker(text=body) if body else None

    def render(self, marker: Marker) -> str:
        """A question reads naturally inline in the chat, so it is shown as its text."""
        return marker.text if isinstance(marker, QuestionMarker) else ""


class CheckParser:
    """Parser for ``[CHECK]``: body is the command; ``title`` and ``shell`` optional."""

    tag = "CHECK"

    def parse(self, body: str, attrs: dict[str, str]) -> Marker | None:
        """Return a :class:`CheckMarker`; ``None`` for an empty command or unknown shell."""
        if not body:
            return None
        shell = attrs.get("shell")
        if shell is not None:
            shell = shell.strip().lower()
            if shell not in SHELLS:
                return None
        title = attrs.get("title", "").strip() or _first_line(body)
        return CheckMarker(title=title, command=body, shell=shell)

    def render(self, marker: Marker) -> str:
        """The command itself lives in the task lane; the chat shows a pointer to it."""
        return f"Check: {marker.title}" if isinstance(marker, CheckMarker) else ""


class ActionParser:
    """Parser for ``[ACTION]``: needs a non-empty body."""

    tag = "ACTION"

    def parse(self, body: str, attrs: dict[str, str]) -> Marker | None:
        """Return an :class:`ActionMarker`, or ``None`` for an empty body."""
        return ActionMarker(text=body) if body else None

    def render(self, marker: Marker) -> str:
        """Actions are instructions to the technician; shown as their text."""
        return marker.text if isinstance(marker, ActionMarker) else ""


class PromoteParser:
    """Parser for ``[PROMOTE]``: needs a fact body; ``ref`` optional but well formed."""

    tag = "PROMOTE"

    def parse(self, body: str, attrs: dict[str, str]) -> Marker | None:
        """Return a :class:`PromoteMarker`; ``None`` for an empty fact or a malformed ref."""
        if not body:
            return None
        ref = attrs.get("ref")
        if ref is not None:
            ref = ref.strip()
            if not _REF_RE.fullmatch(ref):
                return None
        return PromoteMarker(text=body, ref=ref)

    def render(self, marker: Marker) -> str:
        """Shown so the transcript records what was added to What We Know."""
        return f"Noted: {marker.text}" if isinstance(marker, PromoteMarker) else ""


class SuggestFixParser:
    """Parser for ``[SUGGEST_FIX]``: ``title`` required; ``root_cause`` and ``facts`` (comma-separated ids) optional."""

    tag = "SUGGEST_FIX"

    def parse(self, body: str, attrs: dict[str, str]) -> Marker | None:
        """Return a :class:`SuggestFixMarker`; ``None`` without a title or steps."""
        title = attrs.get("title", "").strip()
        if not title or not body:
            return None
        # A malformed id is dropped, not fatal: the fix stands, it just cites fewer facts.
        refs = [ref.strip() for ref in attrs.get("facts", "").split(",")]
        fact_ids = tuple(dict.fromkeys(ref for ref in refs if _REF_RE.fullmatch(ref)))
        return SuggestFixMarker(
            title=title, root_cause=attrs.get("root_cause", "").strip(), body=body, fact_ids=fact_ids
        )

    def render(self, marker: Marker) -> str:
        """The fix card shows the details; the chat names it."""
        return f"Suggested fix: {marker.title}" if isinstance(marker, SuggestFixMarker) else ""


def _builtin() -> list[object]:
    return [QuestionParser(), CheckParser(), ActionParser(), PromoteParser(), SuggestFixParser()]


@hookimpl
def register_marker_parsers(register: Callable[..., None]) -> None:
    """Register the five built-in marker parsers, one object per tag."""
    for parser in _builtin():
        register(parser)


def default_parsers() -> dict[str, object]:
    """The built-in parsers keyed by tag, collected without the plugin manager."""
    table: dict[str, object] = {}

    def register(parser: object) -> None:
        table[str(parser.tag)] = parser  # type: ignore[attr-defined]

    register_marker_parsers(register)
    return table
