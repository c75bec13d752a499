"""Where a template's ``{{ ... }}`` may stand: in code, never inside a string, comment or here-document.

A value renders as a whole quoted literal. Inside another string that literal is no longer
inert: ``"Hello {{ name }}"`` renders ``"Hello '$(calc)'"``, and PowerShell and bash both run
``$(...)`` inside double quotes; inside single quotes the value's own quotes end the string;
in a comment a line break in the value ends the comment; an unquoted bash here-document
expands ``$(...)``. So a template is refused when any output expression stands in one of
those places, with a message saying how to write it instead (concatenate in the script's
language). Checked on the body's text: ``{% raw %}`` blocks count as the script text they
are, other tags as blanks, and each output expression as a bare word.
"""

from __future__ import annotations

import re

from flowpilot_core.errors import InvalidInput
from flowpilot_core.scripts.schema import Language
from flowpilot_core.scripts.tokens import tokenize

_RAW = re.compile(r"\{%-?\s*raw\s*-?%\}(.*?)\{%-?\s*endraw\s*-?%\}", re.S)
_OUTPUT = re.compile(r"\{\{.*?\}\}", re.S)
_TAG = re.compile(r"\{%.*?%\}|\{#.*?#\}", re.S)
_PS_HERE = re.compile(r"@(['\"])[ \t]*\r?\n.*?\r?\n\1@", re.S)
_BASH_HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_]\w*)\1[^\n]*\n(.*?)(?:^\s*\2\s*$)", re.S | re.M)
_SLOT = "FPSLOT{}X"
_SLOT_RE = re.compile(r"FPSLOT(\d+)X")


def _flatten(body: str) -> tuple[str, list[str]]:
    """The body as script text: raw blocks as their text, tags blanked, outputs as ``FPSLOTnX``."""
    expressions: list[str] = []
    pieces: list[str] = []
    cursor = 0
    for raw in _RAW.finditer(body):
        pieces.append(body[cursor : raw.start()])
        pieces.append("\x00RAW" + str(len(pieces)) + "\x00")
        cursor = raw.end()
    pieces.append(body[cursor:])
    raws = [m.group(1) for m in _RAW.finditer(body)]
    text = "".join(pieces)

    def slot(match: re.Match[str]) -> str:
        expressions.append(match.group(0))
        return _SLOT.format(len(expressions) - 1)

    text = _OUTPUT.sub(slot, text)
    text = _TAG.sub(lambda m: " " * len(m.group(0)), text)
    raw_iter = iter(raws)
    text = re.sub(r"\x00RAW\d+\x00", lambda m: next(raw_iter), text)
    return text, expressions


def check_slots(body: str, language: Language) -> None:
    """Refuse (:class:`InvalidInput` on ``body``) an output expression inside a string, comment or here-doc."""
    text, expressions = _flatten(body)
    if not expressions:
        return

    def refuse(index: int, where: str) -> InvalidInput:
        advice = (
            "concatenate instead: ('text ' + {{ name }})"
            if language == "powershell"
            else 'put it outside the quotes: "text "{{ name }}'
        )
        return InvalidInput(
            f"{expressions[index]} stands inside {where}, where its value would not be inert; {advice}", field="body"
        )

    here = _PS_HERE if language == "powershell" else _BASH_HEREDOC
    for block in here.finditer(text):
        found = _SLOT_RE.search(block.group(0))
        if found:
            raise refuse(int(found.group(1)), "a here-string" if language == "powershell" else "a here-document")
    in_code: set[int] = set()
    for token in tokenize(text, language):
        raw = text[token.start : token.end]
        for found in _SLOT_RE.finditer(raw):
            if token.kind != "word":
                raise refuse(int(found.group(1)), "a quoted string")
            in_code.add(int(found.group(1)))
    for index in range(len(expressions)):
        if index not in in_code:
            positions = [m for m in _SLOT_RE.finditer(text) if int(m.group(1)) == index]
            if positions:  # not in any token: the tokenizer skipped it as part of a comment
                raise refuse(index, "a comment")
