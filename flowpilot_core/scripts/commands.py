"""Which commands a script runs, and whether each is one FlowPilot knows exists.

Models invent cmdlets (``Reset-PrinterSpooler``) that do not exist. Every command of a
generated or extracted script is checked against a shipped list (``data/known_commands.txt``:
cmdlets of common PowerShell modules, common Windows and Linux tools, aliases and shell
builtins) and against the functions the script defines itself; the others are reported
as unknown so the technician checks them before copying the script.

Finding commands is a tokenizer's job done lightly: comments and string literals are blanked
first (a word in a string is not a command), then a word is a command where a statement or
pipeline element starts (line start, ``|``, ``;``, ``&&``, ``{``, ``(``, ``=``, ``$(``, ...),
and in PowerShell any ``Verb-Noun`` word with an approved verb is one wherever it stands.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import msgspec

from flowpilot_core.scripts.schema import Language

KNOWN_COMMANDS_PATH = Path(__file__).with_name("data") / "known_commands.txt"

# PowerShell's approved verbs (Get-Verb), the ones a cmdlet name starts with.
APPROVED_VERBS = frozenset(
    [
        "add",
        "approve",
        "assert",
        "backup",
        "block",
        "build",
        "checkpoint",
        "clear",
        "close",
        "compare",
        "complete",
        "compress",
        "confirm",
        "connect",
        "convert",
        "convertfrom",
        "convertto",
        "copy",
        "debug",
        "deny",
        "deploy",
        "disable",
        "disconnect",
        "dismount",
        "edit",
        "enable",
        "enter",
        "exit",
        "expand",
        "export",
        "find",
        "format",
        "get",
        "grant",
        "group",
        "hide",
        "import",
        "initialize",
        "install",
        "invoke",
        "join",
        "limit",
        "lock",
        "measure",
        "merge",
        "mount",
        "move",
        "new",
        "open",
        "optimize",
        "out",
        "ping",
        "pop",
        "protect",
        "publish",
        "push",
        "read",
        "receive",
        "redo",
        "register",
        "remove",
        "rename",
        "repair",
        "request",
        "reset",
        "resize",
        "resolve",
        "restart",
        "restore",
        "resume",
        "revoke",
        "save",
        "search",
        "select",
        "send",
        "set",
        "show",
        "skip",
        "split",
        "start",
        "step",
        "stop",
        "submit",
        "suspend",
        "switch",
        "sync",
        "test",
        "trace",
        "unblock",
        "undo",
        "uninstall",
        "unlock",
        "unprotect",
        "unpublish",
        "unregister",
        "update",
        "use",
        "wait",
        "watch",
        "write",
        "release",
        "backuptoaad",
    ]
)
_PS_KEYWORDS = frozenset(
    [
        "begin",
        "break",
        "catch",
        "class",
        "continue",
        "data",
        "define",
        "do",
        "dynamicparam",
        "else",
        "elseif",
        "end",
        "enum",
        "exit",
        "filter",
        "finally",
        "for",
        "foreach",
        "from",
        "function",
        "if",
        "in",
        "param",
        "process",
        "return",
        "switch",
        "throw",
        "trap",
        "try",
        "until",
        "using",
        "var",
        "while",
        "workflow",
    ]
)
_BASH_KEYWORDS = frozenset(
    [
        "if",
        "then",
        "else",
        "elif",
        "fi",
        "for",
        "while",
        "until",
        "do",
        "done",
        "case",
        "esac",
        "function",
        "in",
        "select",
        "time",
        "coproc",
        "!",
        "[",
        "[[",
        "]]",
        "{",
        "}",
    ]
)
_WORD = re.compile(r"[A-Za-z_%?][\w.+%?-]*")
_VERB_NOUN = re.compile(r"(?<![\w$.\-\[/:\\])([A-Za-z]+)-([A-Za-z][A-Za-z0-9]+)(?![\w\-])")
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)


class CommandUse(msgspec.Struct, frozen=True):
    name: str
    line: int
    """1-based line of its first use."""
    known: bool


@functools.cache
def known_commands() -> frozenset[str]:
    names = []
    for raw in KNOWN_COMMANDS_PATH.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            names.append(line.lower())
    return frozenset(names)


def _blank(match: re.Match[str]) -> str:
    """Keep newlines (line numbers) and nothing else of a comment or string."""
    return "".join("\n" if ch == "\n" else " " for ch in match.group(0))


_PS_STRIP = re.compile(
    r"<#.*?#>"  # block comment
    r"|#[^\n]*"  # line comment
    r"|@'.*?\n'@|@\".*?\n\"@"  # here-strings
    r"|['\u2018\u2019\u201a\u201b](?:[^'\u2018\u2019\u201a\u201b]|['\u2018\u2019\u201a\u201b]{2})*['\u2018\u2019\u201a\u201b]"
    r"|\"(?:[^\"`]|`.)*\""
    r"|\[[^\[\]\n]*(?:\[[^\[\]\n]*\][^\[\]\n]*)*\]",  # type literals and attributes: [Parameter(Mandatory)]
    re.S,
)
_BASH_STRIP = re.compile(r"(?:(?<=\s)|^)#[^\n]*|'[^']*'|\"(?:[^\"\\]|\\.)*\"", re.S | re.M)
_PS_STARTS = re.compile(r"(?:^|[|;{(=]|&&|\|\||&|\bthen\b)\s*(?:&\s*|\.\s+)?([^\s;|(){}]+)", re.M)
_BASH_STARTS = re.compile(
    r"(?:^|[|;&(){}`]|\$\(|\b(?:if|elif|while|until|then|do|else|sudo|exec|time|nohup|xargs)\s|!\s)"
    r"\s*((?:[A-Za-z_]\w*=[^\s;|&()`$]*\s+)*)([^\s;|&()<>`]+)",
    re.M,
)


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def _powershell(code: str) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for match in _PS_STARTS.finditer(code):
        word = match.group(1)
        is_key = re.match(r"\s*=(?!=)", code[match.end(1) :]) is not None  # @{ Key = value }: a hashtable key
        if _WORD.fullmatch(word) and word.lower() not in _PS_KEYWORDS and not is_key:
            found.append((word, _line_of(code, match.start(1))))
    for match in _VERB_NOUN.finditer(code):
        if match.group(1).lower() in APPROVED_VERBS:
            found.append((match.group(0), _line_of(code, match.start())))
    return found


_PREFIX_COMMANDS = frozenset(("sudo", "nohup", "time", "exec", "xargs", "env", "command", "nice", "timeout"))
_NEXT_WORD = re.compile(r"(?:\s+(?:-\S+|\d+[smh]?))*\s+([^\s;|&()<>`]+)")


def _bash(code: str) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for match in _BASH_STARTS.finditer(code):
        word, end = match.group(2), match.end(2)
        while True:
            if not (_WORD.fullmatch(word) and word not in _BASH_KEYWORDS and not word.endswith("()")):
                break
            found.append((word, _line_of(code, end - len(word))))
            following = _NEXT_WORD.match(code, end) if word in _PREFIX_COMMANDS else None
            if following is None:  # sudo systemctl ...: the command sudo runs is checked too
                break
            word, end = following.group(1), following.end(1)
    return found


def _defined_functions(code: str, language: Language) -> set[str]:
    if language == "powershell":
        return {m.lower() for m in re.findall(r"(?im)^\s*(?:function|filter)\s+([\w-]+)", code)}
    names = re.findall(r"(?m)^\s*(?:function\s+)?([A-Za-z_][\w-]*)\s*\(\s*\)", code)
    names += re.findall(r"(?m)^\s*function\s+([A-Za-z_][\w-]*)", code)
    return {n.lower() for n in names}


def check_commands(script: str, language: Language) -> list[CommandUse]:
    """Each distinct command the script runs (first use), known or not, in order of first use."""
    code = _JINJA.sub(lambda m: "'" + " " * (len(m.group(0)) - 2) + "'", script)
    code = (_PS_STRIP if language == "powershell" else _BASH_STRIP).sub(_blank, code)
    uses = _powershell(code) if language == "powershell" else _bash(code)
    defined = _defined_functions(code, language)
    known = known_commands()
    seen: dict[str, CommandUse] = {}
    for name, line in sorted(uses, key=lambda use: use[1]):
        key = name.lower()
        if key in seen:
            continue
        bare = key[:-4] if key.endswith(".exe") else key
        seen[key] = CommandUse(name=name, line=line, known=bare in known or key in known or key in defined)
    return list(seen.values())


def unknown_commands(uses: list[CommandUse]) -> list[str]:
    return [use.name for use in uses if not use.known]
