"""The marker grammar and the one marker pipeline for assistant output.

Assistant output carries structured markers such as
``[QUESTION]Is the spooler running?[/QUESTION]`` that the session engine turns into
task-lane items, facts and suggested fixes. This module owns the exact grammar
(documented in ``docs/markers.md``; :data:`MARKER_GRAMMAR_PROMPT` is the part the
model sees) and :func:`parse_assistant_output`, the only function that turns text
into markers.

Only assistant output goes through this pipeline. Ticket text, technician messages
and PSA notes are user content: they are stored and rendered as text and are never
passed here, so a ``[PROMOTE]`` typed by a user (or planted in a ticket) is inert.
When assistant-side code has to *quote* user content, it runs it through
:func:`defuse_markers` first so the quote cannot smuggle a marker in.

The pipeline never raises on model output: unknown, malformed, unclosed or nested
markers stay in the display text verbatim and are logged on ``flowpilot.markers``.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

import msgspec

log = logging.getLogger("flowpilot.markers")

__all__ = [
    "MARKER_GRAMMAR_PROMPT",
    "Marker",
    "MarkerParser",
    "ParsedOutput",
    "defuse_markers",
    "format_attr_value",
    "parse_assistant_output",
    "render_marker",
]

# Tag names are upper case so that ordinary bracketed prose ("[link]", "[1]") is
# never mistaken for a marker; attribute names are lower case to keep the two apart.
TAG_NAME = r"[A-Z][A-Z0-9_]*"
ATTR_NAME = r"[a-z][a-z0-9_]*"
# A quoted value: anything but a raw quote, backslash or newline, or a backslash
# escape. Newlines are excluded so an opening tag always sits on one line.
ATTR_VALUE = r'"(?:[^"\\\n]|\\.)*"'
_ATTR_RE = re.compile(rf"[ \t]+({ATTR_NAME})=({ATTR_VALUE})")
# An opening tag exactly as the grammar allows it.
_STRICT_OPEN_RE = re.compile(rf"\[({TAG_NAME})((?:[ \t]+{ATTR_NAME}={ATTR_VALUE})*)[ \t]*\]")
# Anything that *looks* like the start of a marker token: "[TAG" or "[/TAG" followed by
# whitespace or "]". Used to find candidates (and to report malformed ones).
_CANDIDATE_RE = re.compile(rf"\[(/?)({TAG_NAME})(?=[\s\]])")
# Used by defuse_markers: a whole bracketed token on one line, or a bare "[TAG" start.
_DEFUSE_TOKEN_RE = re.compile(rf"\[(/?{TAG_NAME})([ \t][^\]\n]*)?\]")
_DEFUSE_START_RE = re.compile(rf"\[(/?{TAG_NAME})(?=\s|$)")


class Marker(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of every typed marker. Subclasses set ``tag=`` (the JSON discriminator)."""


@runtime_checkable
class MarkerParser(Protocol):
    """What a marker-parser plugin registers (see ``register_marker_parsers``).

    ``parse`` receives the body with surrounding whitespace stripped and the
    attributes already unescaped; it returns a :class:`Marker` or ``None`` to reject
    the marker (it then stays in the display text). A parser may also define
    ``render(marker) -> str``: what the marker becomes in the chat transcript; without
    it the marker is removed from the display text.
    """

    tag: str

    def parse(self, body: str, attrs: dict[str, str]) -> Marker | None:
        """Turn one marker occurrence into a typed marker, or ``None`` to reject it."""
        ...


class ParsedOutput(msgspec.Struct, frozen=True, kw_only=True):
    """The result of parsing one assistant message.

    ``display`` is the text for the chat transcript: the input with every accepted
    marker replaced by its parser's rendering; everything else is kept byte for byte.
    ``markers`` are the accepted markers in order of appearance, and ``spans`` holds the
    ``(start, end)`` offsets of each one in the input (same order), so callers can
    relate a marker to its position.
    """

    display: str
    markers: list[Marker] = msgspec.field(default_factory=list)
    spans: list[tuple[int, int]] = msgspec.field(default_factory=list)


def _unescape(raw: str) -> str:
    """Undo attribute escaping: ``\\"`` → ``"``, ``\\\\`` → ``\\``; other backslashes stay."""
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw) and raw[i + 1] in '"\\':
            out.append(raw[i + 1])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _parse_attrs(raw: str) -> dict[str, str] | None:
    """Attributes of a strictly matched opening tag; ``None`` if a name repeats."""
    attrs: dict[str, str] = {}
    for m in _ATTR_RE.finditer(raw):
        name = m.group(1)
        if name in attrs:
            return None
        attrs[name] = _unescape(m.group(2)[1:-1])
    return attrs


def format_attr_value(value: str) -> str:
    """Quote ``value`` as an attribute value: backslashes and quotes escaped.

    Newlines are not allowed inside an opening tag, so any run of line breaks becomes
    one space.
    """
    flat = re.sub(r"[\r\n]+", " ", value)
    return '"' + flat.replace("\\", "\\\\").replace('"', '\\"') + '"'


def defuse_markers(text: str) -> str:
    """Make quoted user content inert before it is placed in assistant output.

    Every marker-looking token (``[TAG ...]``, ``[/TAG]``, or a bare ``[TAG``) has its
    square brackets replaced by round ones, so no marker can be formed from it, while
    the words stay readable. Text without such tokens is returned unchanged.
    """
    text = _DEFUSE_TOKEN_RE.sub(lambda m: "(" + m.group(1) + (m.group(2) or "") + ")", text)
    return _DEFUSE_START_RE.sub(lambda m: "(" + m.group(1), text)


def render_marker(tag: str, body: str, attrs: Mapping[str, str | None] | None = None) -> str:
    """Write one marker in the exact grammar (used by the offline model and by tests).

    Attributes whose value is ``None`` are left out. The body is defused so it cannot
    close the marker early or nest another marker.
    """
    if not re.fullmatch(TAG_NAME, tag):
        raise ValueError(f"invalid marker tag {tag!r}: tags are upper case letters, digits and underscores")
    parts = [f"[{tag}"]
    for name, value in (attrs or {}).items():
        if value is None:
            continue
        if not re.fullmatch(ATTR_NAME, name):
            raise ValueError(f"invalid attribute name {name!r}: names are lower case letters, digits and underscores")
        parts.append(f" {name}={format_attr_value(value)}")
    parts.append("]")
    return "".join(parts) + defuse_markers(body.strip()) + f"[/{tag}]"


def _parser_table(parsers: Mapping[str, Any] | Iterable[Any]) -> dict[str, Any]:
    if isinstance(parsers, Mapping):
        return {str(tag): parser for tag, parser in parsers.items()}
    table: dict[str, Any] = {}
    parser: Any
    for parser in parsers:
        tag = str(parser.tag)
        if tag in table:
            raise ValueError(f"two marker parsers for tag {tag!r}")
        table[tag] = parser
    return table


@functools.lru_cache(maxsize=64)
def _nested_re(tags: tuple[str, ...]) -> re.Pattern[str]:
    """Matches an opening or closing token of any known tag (nesting detector)."""
    alternatives = "|".join(re.escape(t) for t in tags)
    return re.compile(rf"\[/?(?:{alternatives})(?=[\s\]])")


def _render(parser: Any, marker: Marker) -> str:
    render = getattr(parser, "render", None)
    if render is None:
        return ""
    try:
        rendered = render(marker)
    except Exception:  # a plugin bug must not break the chat turn
        log.exception("marker parser %r failed to render %r; removing it from the display text", parser, marker)
        return ""
    return rendered if isinstance(rendered, str) else ""


def parse_assistant_output(text: str, parsers: Mapping[str, Any] | Iterable[Any]) -> ParsedOutput:
    """Split one assistant message into display text and typed markers.

    ``parsers`` is the registry's ``marker_parsers`` mapping (tag → parser) or an
    iterable of parser objects. Scanning is left to right:

    * an opening tag of a known tag, strictly well formed, is matched with the first
      following closing tag of the same name; the body between them is handed to the
      tag's parser;
    * an unknown tag, a malformed or unclosed opening tag, a stray closing tag, a body
      that contains another known tag (nesting), or a marker its parser rejects all
      stay in the display text exactly as written, and are logged;
    * accepted markers are replaced in the display text by their parser's rendering.

    Never raises on any ``text``.
    """
    table = _parser_table(parsers)
    if not table or "[" not in text:
        return ParsedOutput(display=text)
    nested = _nested_re(tuple(sorted(table)))
    # First closing-tag position per tag from some earlier search start; lets repeated
    # unclosed openers share one scan instead of rescanning the rest of the text.
    close_memo: dict[str, int] = {}

    def find_close(tag: str, start: int) -> int:
        known = close_memo.get(tag)
        if known is not None and (known == -1 or known >= start):
            return known
        found = text.find(f"[/{tag}]", start)
        close_memo[tag] = found
        return found

    pieces: list[str] = []
    markers: list[Marker] = []
    spans: list[tuple[int, int]] = []
    copied = 0  # text[:copied] is already in pieces
    pos = 0
    while True:
        cand = _CANDIDATE_RE.search(text, pos)
        if cand is None:
            break
        closing, tag = cand.group(1), cand.group(2)
        start = cand.start()
        pos = cand.end()
        if tag not in table:
            if not closing:
                log.debug("unknown marker tag [%s] at offset %d kept as text", tag, start)
            continue
        if closing:
            log.warning("stray closing tag [/%s] at offset %d kept as text", tag, start)
            continue
        opener = _STRICT_OPEN_RE.match(text, start)
        if opener is None or opener.group(1) != tag:
            log.warning("malformed opening tag for [%s] at offset %d kept as text", tag, start)
            continue
        attrs = _parse_attrs(opener.group(2))
        if attrs is None:
            log.warning("repeated attribute in [%s] at offset %d; marker kept as text", tag, start)
            continue
        close = find_close(tag, opener.end())
        if close == -1:
            log.warning("unclosed [%s] at offset %d kept as text", tag, start)
            continue
        end = close + len(tag) + 3
        body = text[opener.end() : close]
        if nested.search(body):
            # The model's structure is confused; guessing which part was meant could
            # promote the wrong thing, so the whole span stays visible as text.
            log.warning("nested marker inside [%s] at offset %d; whole span kept as text", tag, start)
            pos = end
            continue
        parser = table[tag]
        try:
            marker = parser.parse(body.strip(), dict(attrs))
        except Exception:  # a plugin bug must not break the chat turn
            log.exception("marker parser for [%s] raised; marker kept as text", tag)
            marker = None
        if marker is None or not isinstance(marker, Marker):
            if marker is not None:
                log.warning("marker parser for [%s] returned %r, not a Marker; kept as text", tag, type(marker))
            else:
                log.warning("marker parser rejected [%s] at offset %d; kept as text", tag, start)
            pos = end
            continue
        pieces.append(text[copied:start])
        pieces.append(_render(parser, marker))
        markers.append(marker)
        spans.append((start, end))
        copied = pos = end
    pieces.append(text[copied:])
    return ParsedOutput(display="".join(pieces), markers=markers, spans=spans)


# The grammar as the model is told it. docs/markers.md contains this text verbatim
# (a test checks it), and it is static so the system-prompt prefix stays cacheable.
MARKER_GRAMMAR_PROMPT = """\
## Marker grammar

Your reply is plain text for a technician. Structured items go inside markers,
which FlowPilot turns into task-lane items, facts and fixes:

- `[QUESTION]question for the technician or end user[/QUESTION]`
- `[CHECK title="short title" shell="powershell"]exact command to run[/CHECK]`
  (`title` recommended; `shell` optional: powershell, cmd, bash or sh)
- `[ACTION]one concrete step for the technician to carry out[/ACTION]`
- `[PROMOTE ref="item-id"]one short fact now confirmed[/PROMOTE]`
  (`ref` is the `id` of the task-lane question or check whose answer confirms the
  fact; leave `ref` out to record a statement confirmed in the conversation)
- `[SUGGEST_FIX title="short title" root_cause="one-line root cause" facts="fact-id,fact-id"]steps[/SUGGEST_FIX]`
  (`title` required; `facts` lists the `id`s of the facts the fix rests on)

Rules:

1. Tags are upper case and exactly as above; every marker is closed with `[/TAG]`.
2. The opening tag is on one line. Attribute values are in double quotes; inside
   them write `\\"` for a quote and `\\\\` for a backslash (a backslash before any
   other character is kept as is, so `C:\\Windows` is fine).
3. Markers never nest and a body never contains `[` followed by a marker tag.
4. A body is taken literally (commands included), trimmed of surrounding whitespace,
   and must not be empty.
5. Promote only what the technician's answer or the check output actually shows;
   never promote a guess.
6. Anything that breaks these rules is shown to the technician as plain text and has
   no effect.
"""
