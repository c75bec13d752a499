"""Rendering a preview: a sandboxed Jinja2 template whose every line names the rows it came from.

Templates call ``line(text, *sources)`` for every line they write (and ``heading`` for
a section title): the text is escaped so that text from a ticket, a technician or a
model cannot change the note's structure (no new lines, no headings, lists or quotes
of its own), and the sources travel with the line as an invisible tag that the
renderer strips into :class:`PreviewLine`. A non-empty line without sources is a bug in
the template and fails the render: there is no line without a source.
"""

from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path
from typing import Any, Literal

import msgspec
from jinja2 import StrictUndefined, Template
from jinja2.sandbox import ImmutableSandboxedEnvironment

SourceKind = Literal["session", "ticket", "fact", "fix", "item", "script", "template"]
TEMPLATES = Path(__file__).with_name("templates")
_OPEN, _CLOSE = "\x1e", "\x1f"  # record / unit separators: never typed, stripped from every input
_TAG = re.compile(f"{_OPEN}([^{_CLOSE}]*){_CLOSE}")
_LEADING_BLOCK = re.compile(r"^(\s*)([#>+*-]|\d+[.)]|={3,}|-{3,}|`{3,}|~{3,})")


class SourceRef(msgspec.Struct, frozen=True):
    """One row a line came from: ``kind`` and ``id``, and the field when it is one field of a row."""

    kind: SourceKind
    id: str
    field: str | None = None


class PreviewLine(msgspec.Struct, frozen=True):
    number: int
    """1-based line number in ``markdown``."""
    text: str
    sources: list[SourceRef]


def inline(text: object) -> str:
    """``text`` as one line of markdown that cannot start a block of its own or carry a source tag."""
    flat = " ".join(str(text or "").replace(_OPEN, " ").replace(_CLOSE, " ").split())
    return _LEADING_BLOCK.sub(lambda m: m.group(1) + "\\" + m.group(2), flat)


def _ref(source: str) -> SourceRef:
    kind, _, rest = source.partition(":")
    ident, _, field = rest.partition(":")
    return SourceRef(kind=kind, id=ident, field=field or None)  # type: ignore[arg-type]


def _tagged(prefix: str, text: object, sources: tuple[str, ...]) -> str:
    if not sources:
        raise ValueError(f"preview line {text!r} names no source")
    return f"{prefix}{inline(text)}{_OPEN}{'|'.join(sources)}{_CLOSE}"


def _line(text: object, *sources: str) -> str:
    return _tagged("", text, sources)


def _item(text: object, *sources: str) -> str:
    return _tagged("- ", text, sources)


def _heading(title: str, section: str) -> str:
    return f"## {inline(title)}{_OPEN}template:{section}{_CLOSE}"


def steps(body: object) -> list[str]:
    """A fix's steps, one per line, without the list markers the model wrote."""
    out = []
    for raw in str(body or "").splitlines():
        step = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", raw).strip()
        if step:
            out.append(step)
    return out


def first_line(text: object, limit: int = 200) -> str:
    line = next((ln.strip() for ln in str(text or "").splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False, trim_blocks=True, lstrip_blocks=True
    )
    env.globals.update(line=_line, item=_item, heading=_heading, steps=steps, first_line=first_line)
    return env


_ENV = _environment()


@functools.cache
def template_source(kind: str) -> str:
    return (TEMPLATES / f"{kind}.md.j2").read_text(encoding="utf-8")


@functools.cache
def template_fingerprint(kind: str) -> str:
    return hashlib.sha256(template_source(kind).encode()).hexdigest()[:16]


@functools.cache
def _template(kind: str) -> Template:
    return _ENV.from_string(template_source(kind))


def render(kind: str, context: dict[str, Any]) -> tuple[str, list[PreviewLine]]:
    """The markdown and its lines with their sources."""
    raw = _template(kind).render(**context)
    markdown_lines: list[str] = []
    lines: list[PreviewLine] = []
    for raw_line in raw.split("\n"):
        tags = _TAG.findall(raw_line)
        text = _TAG.sub("", raw_line).rstrip()
        if not text:
            if markdown_lines and markdown_lines[-1] != "":
                markdown_lines.append("")  # one blank line between blocks
            continue
        if not tags:
            raise ValueError(f"template {kind!r} wrote a line without a source: {text!r}")
        markdown_lines.append(text)
        sources = [_ref(s) for tag in tags for s in tag.split("|") if s]
        lines.append(PreviewLine(number=len(markdown_lines), text=text, sources=sources))
    while markdown_lines and markdown_lines[-1] == "":
        markdown_lines.pop()
    return "\n".join(markdown_lines) + "\n", lines
