"""Quoting a value as an inert literal of the script's language: the one place values enter a script.

- PowerShell: a verbatim (single-quoted) string. PowerShell treats four Unicode characters
  as single quotes besides ``'``: U+2018, U+2019, U+201A and U+201B (the language
  specification's *single-quote-character*), and any two of them in a row inside a verbatim
  string are one literal quote. So every one of the five is doubled: nothing in the value can
  end the literal, and nothing else is special inside it (no ``$``, no backtick escapes).
- bash: a single-quoted string, where nothing is special but ``'`` itself; each ``'`` becomes
  ``'\\''`` (end the literal, an escaped quote, start a new one).

Integers render as their digits and booleans as the language's true/false (``$true`` /
``true``), both after typed validation. NUL never reaches a quoter: validation refuses it.
"""

from __future__ import annotations

from collections.abc import Callable

from flowpilot_core.scripts.schema import Language

POWERSHELL_SINGLE_QUOTES = ("'", "\u2018", "\u2019", "\u201a", "\u201b")


def quote_powershell(value: str) -> str:
    escaped = "".join(ch * 2 if ch in POWERSHELL_SINGLE_QUOTES else ch for ch in value)
    return f"'{escaped}'"


def quote_bash(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


_STRINGS: dict[str, Callable[[str], str]] = {"powershell": quote_powershell, "bash": quote_bash}
_BOOLEANS: dict[str, tuple[str, str]] = {"powershell": ("$true", "$false"), "bash": ("true", "false")}


def quote_value(language: Language, value: object) -> str:
    """``value`` as a literal of ``language``; anything that is not an int or bool is quoted as a string."""
    if isinstance(value, bool):
        true, false = _BOOLEANS[language]
        return true if value else false
    if isinstance(value, int):
        return str(value)
    if "\x00" in str(value):
        raise ValueError("a script value cannot contain NUL")
    return _STRINGS[language](str(value))
