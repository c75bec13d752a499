"""A light tokenizer for PowerShell and bash: string literals and bare words, with their context.

Template extraction needs to know, for every literal in a script, where it stands: the
command it is an argument of, the ``-Parameter`` (or ``--option``) before it, and the
variable it is assigned to. This is not a full parser; it reads quoting and comments
correctly (a ``#`` inside a string is not a comment, a quote inside a comment is not a
string) and treats everything else as words and punctuation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from flowpilot_core.scripts.quoting import POWERSHELL_SINGLE_QUOTES
from flowpilot_core.scripts.schema import Language

TokenKind = Literal["squote", "dquote", "word"]
_PS_BREAKS = set(" \t\r\n|;(){}=,")
_BASH_BREAKS = set(" \t\r\n|;&()<>`")
_STATEMENT = set("|;{(\n&")


@dataclass
class Token:
    kind: TokenKind
    start: int
    end: int
    """``text[start:end]`` is the token as written, quotes included."""
    value: str
    """The literal's content (quotes removed, doubled quotes undone)."""
    command: str | None
    option: str | None
    """The ``-Parameter`` / ``--option`` directly before it, lower case, without dashes."""
    variable: str | None
    """The variable it is assigned to (``$Name = 'x'``, ``NAME=x``)."""
    is_command: bool = False
    """The word names the command (it is not an argument)."""


def _read_quoted(text: str, i: int, quotes: tuple[str, ...] | str, escape: str | None) -> int:
    """Index just after the closing quote of the literal starting at ``i`` (or the end of text)."""
    j = i + 1
    while j < len(text):
        ch = text[j]
        if escape and ch == escape:
            j += 2
            continue
        if ch in quotes:
            if j + 1 < len(text) and text[j + 1] in quotes and escape != "\\":
                j += 2  # a doubled quote is one literal quote (PowerShell)
                continue
            return j + 1
        j += 1
    return len(text)


def _unquote(raw: str, kind: TokenKind, language: Language) -> str:
    inner = raw[1:-1] if len(raw) >= 2 else ""
    if kind == "squote" and language == "powershell":
        return re.sub("([" + "".join(POWERSHELL_SINGLE_QUOTES) + "])\\1", r"\1", inner)
    if kind == "dquote" and language == "powershell":
        return inner.replace('""', '"')
    return inner


def tokenize(text: str, language: Language) -> list[Token]:
    ps = language == "powershell"
    breaks = _PS_BREAKS if ps else _BASH_BREAKS
    squotes: tuple[str, ...] | str = POWERSHELL_SINGLE_QUOTES if ps else "'"
    out: list[Token] = []
    command: str | None = None
    option: str | None = None
    variable: str | None = None
    at_start = True
    last_word: str | None = None
    i = 0
    while i < len(text):
        ch = text[i]
        if ps and text.startswith("<#", i):
            end = text.find("#>", i)
            i = len(text) if end < 0 else end + 2
            continue
        if ch == "#" and (i == 0 or text[i - 1] in " \t\r\n;|{("):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        if ch in _STATEMENT or (ps and ch == "}"):
            at_start, command, option, variable = True, None, None, None
            i += 1
            continue
        if ch == "=" and ps:
            variable = last_word[1:] if last_word and last_word.startswith("$") else None
            at_start, option = True, None  # the right-hand side starts an expression (a command may follow)
            i += 1
            continue
        if ch in " \t\r,=" or ch in breaks:
            i += 1
            continue
        if ch in squotes or ch == '"':
            kind: TokenKind = "dquote" if ch == '"' else "squote"
            end = _read_quoted(
                text, i, '"' if ch == '"' else squotes, "`" if ps and ch == '"' else ("\\" if ch == '"' else None)
            )
            out.append(Token(kind, i, end, _unquote(text[i:end], kind, language), command, option, variable))
            option, at_start = None, False
            i = end
            continue
        j = i
        while j < len(text) and text[j] not in breaks and text[j] not in "'\"" and not (ps and text[j] == "}"):
            j += 1
        word = text[i:j]
        if not ps and "=" in word and re.match(r"^[A-Za-z_]\w*=", word) and at_start:
            name, _, value = word.partition("=")
            if value:
                start = i + len(name) + 1
                out.append(Token("word", start, j, value, command, None, name))
            i = j
            continue
        if not ps and j < len(text) and text[j] in "'\"" and word.endswith("="):
            # A quoted value glued to the word is part of the same shell word: NAME="value" assigns it,
            # -o user=x,password='value' gives it to the key before it.
            if re.match(r"^[A-Za-z_]\w*=$", word) and at_start:
                variable = word[:-1]
            else:
                out.append(Token("word", i, j, word, command, option, variable))  # its own key=value pairs
                key = re.search(r"([A-Za-z][\w-]*)=$", word)
                option = key.group(1).lower() if key else option
            i = j
            continue
        if at_start and not word.startswith("$"):
            command, at_start, option = word, False, None
            out.append(Token("word", i, j, word, None, None, variable, is_command=True))
        elif word.startswith("-") and len(word) > 1 and not word[1:2].isdigit():
            option = word.lstrip("-").rstrip(":").lower()  # -Password:'x' names its option too
        else:
            out.append(Token("word", i, j, word, command, option, variable))
            option = None
        at_start = False if not word.startswith("$") else at_start
        last_word = word
        i = j
    return out
