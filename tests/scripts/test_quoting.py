"""Values are inert in the script: the injection corpus rendered in PowerShell and bash.

bash is run for real (``bash -c`` on the rendered ``printf '%s' <value>``: the output must be
the value, byte for byte, and nothing else may have run). PowerShell (``pwsh``) is not
installed on the machines that run this suite, so the PowerShell side is checked with a
tokenizer written from the PowerShell language specification's verbatim-string rule (§2.3.5.2:
a single-quote-character is ' U+2018 U+2019 U+201A U+201B; two of them in a row are one literal
quote): the rendered argument must be exactly one verbatim string that decodes to the value.
When ``pwsh`` is on PATH the same corpus also runs through it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from flowpilot_core.errors import InvalidInput
from flowpilot_core.scripts import ParameterSchema, ParameterSpec, quote_bash, quote_powershell, render_template
from flowpilot_core.scripts.quoting import POWERSHELL_SINGLE_QUOTES

CORPUS = (
    "x'; Remove-Item C:\\ -Recurse; '",
    "$(rm -rf /)",
    "`rm -rf /`",
    "$env:USERPROFILE",
    "${env:ComputerName}",
    "line one\nRemove-Item C:\\ -Recurse",
    "carriage\rreturn",
    "\u2018; Stop-Computer -Force; \u2019",
    "\u201a\u201b; calc.exe; \u2019\u2018",
    "'\u2019' + (Get-Process) + '\u2018'",
    "a''b",
    "it's",
    "'",
    "''",
    "\\'",
    '"; rm -rf ~; "',
    "$(Invoke-Expression 'calc')",
    "@(Stop-Service Spooler)",
    "& calc.exe",
    "; shutdown -h now",
    "| tee /etc/passwd",
    "> /tmp/owned",
    "--help",
    "-n",
    "\t tabbed \t",
    "%SYSTEMROOT%",
    "{{ 7*7 }}",
    "{% raw %}",
    "\u2028unicode line separator",
    "emoji \U0001f600 and accents éà",
    "",
)


def powershell_verbatim(text: str) -> tuple[str, int]:
    """The value of the verbatim string at the start of ``text`` and where it ends (spec §2.3.5.2)."""
    assert text and text[0] in POWERSHELL_SINGLE_QUOTES, f"not a verbatim string: {text!r}"
    out, i = [], 1
    while i < len(text):
        ch = text[i]
        if ch in POWERSHELL_SINGLE_QUOTES:
            if i + 1 < len(text) and text[i + 1] in POWERSHELL_SINGLE_QUOTES:
                out.append(text[i + 1])
                i += 2
                continue
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise AssertionError(f"unterminated verbatim string: {text!r}")


def _schema() -> ParameterSchema:
    return ParameterSchema(parameters=[ParameterSpec(name="value", type="string", required=False)])


@pytest.mark.parametrize("value", CORPUS)
def test_a_value_is_one_powershell_verbatim_string_that_decodes_to_itself(value: str) -> None:
    script, _, _ = render_template("powershell", "Write-Output {{ value }}", _schema(), {"value": value})
    assert script.startswith("Write-Output ")
    literal = script[len("Write-Output ") :]
    decoded, end = powershell_verbatim(literal)
    assert end == len(literal), f"text after the literal would run: {literal[end:]!r}"
    assert decoded == value


def test_the_tokenizer_catches_quoting_that_forgets_the_unicode_quotes() -> None:
    naive = "'" + "x\u2019; calc.exe; \u2018".replace("'", "''") + "'"
    _, end = powershell_verbatim(naive)
    assert end < len(naive)  # the right single quotation mark ends the string: calc.exe would run
    _, end = powershell_verbatim(quote_powershell("x\u2019; calc.exe; \u2018"))
    assert end == len(quote_powershell("x\u2019; calc.exe; \u2018"))


@pytest.mark.parametrize("value", CORPUS)
def test_bash_prints_the_value_and_runs_nothing_else(value: str, tmp_path: Path) -> None:
    canary = tmp_path / "ran"
    script, _, _ = render_template("bash", "printf '%s' {{ value }}", _schema(), {"value": value})
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    probe = f"touch {canary}"  # if anything in the value ran as code, a second command could run it
    result = subprocess.run(
        ["bash", "-c", script + "\n" + f": {quote_bash(probe)}"],
        capture_output=True,
        env=env,
        cwd=tmp_path,
        check=True,
        timeout=10,
    )
    assert result.stdout.decode() == value
    assert result.stderr == b""
    assert not canary.exists()


@pytest.mark.skipif(shutil.which("pwsh") is None, reason="pwsh is not installed; the tokenizer test covers PowerShell")
def test_pwsh_prints_every_value_of_the_corpus() -> None:
    for value in CORPUS:
        script, _, _ = render_template("powershell", "[Console]::Out.Write({{ value }})", _schema(), {"value": value})
        run = subprocess.run(["pwsh", "-NoProfile", "-Command", script], capture_output=True, check=True, timeout=60)
        assert run.stdout.decode() == value


def test_nul_is_refused_before_any_script_is_written() -> None:
    with pytest.raises(InvalidInput) as caught:
        render_template("bash", "echo {{ value }}", _schema(), {"value": "a\x00b"})
    assert caught.value.field == "parameters.value"


def test_integers_and_booleans_render_as_the_languages_own_literals() -> None:
    schema = ParameterSchema(
        parameters=[ParameterSpec(name="n", type="integer"), ParameterSpec(name="flag", type="boolean")]
    )
    ps, _, _ = render_template("powershell", "Foo -Count {{ n }} -Force:{{ flag }}", schema, {"n": "42", "flag": True})
    assert ps == "Foo -Count 42 -Force:$true"
    sh, _, _ = render_template("bash", "foo {{ n }} {{ flag }}", schema, {"n": -3, "flag": "no"})
    assert sh == "foo -3 false"


def test_expressions_are_quoted_too_so_filters_cannot_unquote_a_value() -> None:
    script, _, _ = render_template("bash", "echo {{ value | upper }}{{ value ~ '; id' }}", _schema(), {"value": "a'b"})
    assert script == "echo 'A'\\''B''a'\\''b; id'"


def test_the_sandbox_refuses_python_internals() -> None:
    with pytest.raises(InvalidInput) as caught:
        render_template("bash", "{{ value.__class__.__mro__[1].__subclasses__() }}", _schema(), {"value": "x"})
    assert caught.value.field == "body"


@pytest.mark.parametrize(
    ("body", "message"),
    (
        ("{{ 9**9**9 }}", "not available"),
        ("{{ value * 100000 }}", "repeating"),
        ("{% for i in range(99999) %}{{ value }}{% endfor %}", "longer than"),
    ),
)
def test_a_template_cannot_burn_the_servers_cpu_or_memory(body: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        render_template("bash", body, _schema(), {"value": "x" * 10})
    assert caught.value.field == "body"
