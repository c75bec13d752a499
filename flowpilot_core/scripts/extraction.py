"""``TemplateExtractionService``: a concrete script becomes a parameter schema and a templated body.

The deterministic pass (this module, no network) finds the literals that belong to one
ticket (:mod:`flowpilot_core.scripts.literals`), gives each distinct value one parameter
(named after the variable it is assigned to, else after what it is), and replaces every
occurrence with ``{{ name }}``. A literal that is a whole string or word is replaced whole;
one inside a longer string is spliced in the script's own syntax (``('\\\\' + {{ host }})``
in PowerShell, ``'pre'{{ host }}'post'`` in bash), and left alone inside a string that
interpolates (``"$env:X ..."``), where splicing could change what the string means. Values
become defaults, except secrets: those become required ``secret`` parameters without a
default, so extraction never stores one. Jinja syntax already in the script is escaped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from flowpilot_core.errors import InvalidInput
from flowpilot_core.scripts.commands import CommandUse, check_commands
from flowpilot_core.scripts.literals import Literal_, find_literals
from flowpilot_core.scripts.quoting import quote_bash, quote_powershell
from flowpilot_core.scripts.render import REDACTED
from flowpilot_core.scripts.schema import Language, ParameterSchema, ParameterSpec, ParameterType
from flowpilot_core.scripts.tokens import Token, tokenize
from flowpilot_core.scripts.values import validate_value

_JINJA_OPEN = re.compile(r"\{[{%#]")
_LABELS = {
    "computer_name": "Computer name",
    "host_name": "Host name",
    "ip_address": "IP address",
    "email": "E-mail / UPN",
    "mailbox": "Mailbox",
    "user_name": "User name",
    "group_name": "Group",
    "printer_name": "Printer",
    "printer_path": "Printer (UNC path)",
    "share_path": "Share (UNC path)",
    "share_name": "Share name",
    "path": "Path",
    "guid": "GUID",
    "password": "Password",
}


class ExtractedLiteral(msgspec.Struct, frozen=True):
    parameter: str
    kind: str
    line: int
    value: str | None
    """``None`` for a secret: its value is never returned or stored."""


class ExtractionResult(msgspec.Struct, frozen=True, kw_only=True):
    language: Language
    body: str
    parameter_schema: ParameterSchema
    literals: list[ExtractedLiteral]
    commands: list[CommandUse]
    unknown_commands: list[str]


class Suggestion(msgspec.Struct, frozen=True, kw_only=True):
    """A literal the model says should become a parameter."""

    literal: str
    name: str
    type: ParameterType = "string"


def _suggested(suggestion: Suggestion, value: str) -> list[Literal_]:
    spec = ParameterSpec(name="p", type=suggestion.type)
    try:
        validate_value(spec, value)
    except InvalidInput:
        return []
    return [Literal_(0, len(value), suggestion.type, _snake(suggestion.name))]


@dataclass
class _Edit:
    start: int
    end: int
    text: str


def _snake(name: str) -> str:
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
    snake = re.sub(r"[^a-z0-9_]", "_", snake).strip("_") or "value"
    return snake if re.match(r"[a-z_]", snake) else f"p_{snake}"


def _escape_jinja(text: str) -> str:
    return _JINJA_OPEN.sub(lambda m: "{% raw %}" + m.group(0) + "{% endraw %}", text)


class TemplateExtractionService:
    """Deterministic extraction; works offline. The model pass (:mod:`~flowpilot_core.scripts.model_extraction`)
    only adds :class:`Suggestion` items to it."""

    def extract(self, script: str, language: Language, suggestions: Sequence[Suggestion] = ()) -> ExtractionResult:
        """Extract ``script``; ``suggestions`` (from the model pass) add literals no rule found.

        A suggestion applies only to a whole string or word equal to its literal, never to a
        token a rule already claimed, and only with a type its literal is valid for.
        """
        names_by_value: dict[str, str] = {}
        specs: dict[str, ParameterSpec] = {}
        edits: list[_Edit] = []
        literals: list[ExtractedLiteral] = []

        def parameter_for(found: Literal_, value: str, token: Token, line: int) -> str:
            key = f"{found.type}:{value}"
            if key in names_by_value and not found.sensitive:
                return names_by_value[key]
            base = _snake(token.variable) if token.variable else found.hint
            name, n = base, 2
            while name in specs:
                name, n = f"{base}_{n}", n + 1
            specs[name] = ParameterSpec(
                name=name,
                label=_LABELS.get(found.hint, name.replace("_", " ").capitalize())
                if not token.variable
                else token.variable,
                type=found.type,
                required=True,
                default=None if found.sensitive else value,
                description=f"Found on line {line} of the original script ({found.hint.replace('_', ' ')}).",
                pattern=found.pattern,
                sensitive=found.sensitive,
            )
            names_by_value[key] = name
            return name

        suggested = {s.literal: s for s in suggestions}
        for token in tokenize(script, language):
            found_all = find_literals(token, language)
            if not found_all and not token.is_command and token.value in suggested:
                found_all = _suggested(suggested[token.value], token.value)
            if not found_all:
                continue
            line = script.count("\n", 0, token.start) + 1
            whole = len(found_all) == 1 and found_all[0].start == 0 and found_all[0].end == len(token.value)
            if whole:
                found = found_all[0]
                name = parameter_for(found, token.value, token, line)
                edits.append(_Edit(token.start, token.end, "{{ " + name + " }}"))
                literals.append(ExtractedLiteral(name, found.hint, line, None if found.sensitive else token.value))
                continue
            # several literals, or one inside a longer string: splice each (right to left keeps offsets)
            spliced_names: list[tuple[str, Literal_]] = []
            text_value = token.value
            pieces: list[str] = []
            cursor = 0
            for found in found_all:
                name = parameter_for(found, text_value[found.start : found.end], token, line)
                spliced_names.append((name, found))
            # Build the replacement as a concatenation of literal text and slots.
            for name, found in spliced_names:
                pieces.append(text_value[cursor : found.start])
                pieces.append("\x00" + name)
                cursor = found.end
            pieces.append(text_value[cursor:])
            replacement = self._concatenate(token, pieces, language)
            if replacement is None:
                for name, _ in spliced_names:  # unsafe to splice: forget the parameters it would have made
                    if not any(lit.parameter == name for lit in literals):
                        specs.pop(name, None)
                        names_by_value = {k: v for k, v in names_by_value.items() if v != name}
                continue
            edits.append(_Edit(token.start, token.end, replacement))
            for name, found in spliced_names:
                value = None if found.sensitive else text_value[found.start : found.end]
                literals.append(ExtractedLiteral(name, found.hint, line, value))
        body = self._apply(script, edits)
        used = {lit.parameter for lit in literals}
        schema = ParameterSchema(parameters=[spec for name, spec in specs.items() if name in used])
        commands = check_commands(script, language)
        return ExtractionResult(
            language=language,
            body=body,
            parameter_schema=schema,
            literals=literals,
            commands=commands,
            unknown_commands=[c.name for c in commands if not c.known],
        )

    @staticmethod
    def _concatenate(token: Token, pieces: list[str], language: Language) -> str | None:
        """``pieces`` (literal text and ``\\x00name`` slots) as one expression of the language."""
        value = token.value
        if token.kind == "dquote" and re.search(r"[$`\\]" if language == "bash" else r"[$`]", value):
            return None
        slots = ["{{ " + p[1:] + " }}" if p.startswith("\x00") else p for p in pieces]
        literal = [not p.startswith("\x00") for p in pieces]
        if language == "powershell":
            if token.kind == "word":
                return None
            parts = [quote_powershell(s) if lit else s for s, lit in zip(slots, literal, strict=True) if s or not lit]
            return "(" + " + ".join(parts) + ")"
        quote = (lambda s: s) if token.kind == "word" else quote_bash
        return "".join((quote(s) if s else "") if lit else s for s, lit in zip(slots, literal, strict=True))

    @staticmethod
    def _apply(script: str, edits: list[_Edit]) -> str:
        out: list[str] = []
        cursor = 0
        for edit in sorted(edits, key=lambda e: e.start):
            if edit.start < cursor:
                continue
            out.append(_escape_jinja(script[cursor : edit.start]))
            out.append(edit.text)
            cursor = edit.end
        out.append(_escape_jinja(script[cursor:]))
        return "".join(out)


def redact_secret_literals(script: str, language: Language) -> str:
    """``script`` with every literal in a password position replaced by ``'[redacted]'``.

    For a script FlowPilot stores as written (a one-off from the model): should it carry a
    secret despite its instructions, the stored copy does not.
    """
    edits: list[tuple[int, int, str]] = []
    for token in tokenize(script, language):
        if any(found.sensitive for found in find_literals(token, language)):
            quoted = quote_powershell(REDACTED) if language == "powershell" else quote_bash(REDACTED)
            edits.append((token.start, token.end, quoted))
    out: list[str] = []
    cursor = 0
    for start, end, text in sorted(edits):
        out.extend((script[cursor:start], text))
        cursor = end
    out.append(script[cursor:])
    return "".join(out)
