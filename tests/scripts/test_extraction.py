"""Template extraction: a concrete script becomes a schema and a body that renders back to it.

Quality is measured on two labelled splits (``tests/scripts/extraction_scoring.py``; numbers
with ``bench/script_extraction.py``): the held-out split was written after the rules and never
changed them, so its gate is a threshold, not perfection.
"""

from __future__ import annotations

import json

import pytest

from flowpilot_core.scripts import TemplateExtractionService, render_template
from flowpilot_core.scripts.library import validate_template
from tests.scripts.extraction_scoring import cases, score

SERVICE = TemplateExtractionService()


@pytest.mark.parametrize(("split", "precision", "recall"), (("tuning", 0.95, 0.95), ("heldout", 0.85, 0.75)))
def test_extraction_quality_on_each_split(split: str, precision: float, recall: float) -> None:
    result = score(split)
    assert result.precision >= precision, result.line() + "\n" + "\n".join(result.wrong)
    assert result.recall >= recall, result.line() + "\n" + "\n".join(result.missed)
    assert result.kept_share >= 0.95, result.line() + "\n" + "\n".join(result.wrong)


@pytest.mark.parametrize("case", cases("tuning") + cases("heldout"), ids=lambda c: c["id"])
def test_every_extracted_body_is_a_valid_template_that_renders_with_its_defaults(case: dict) -> None:
    extraction = SERVICE.extract(case["script"], case["language"])
    validate_template(extraction.body, extraction.parameter_schema, case["language"])  # storable as it is
    secrets = {p.name: "s3cret" for p in extraction.parameter_schema.parameters if p.is_sensitive}
    script, stored, _ = render_template(case["language"], extraction.body, extraction.parameter_schema, secrets)
    for must in case["must"]:
        if not must.get("secret") and must["value"] not in extraction.body:
            assert must["value"] in script  # the default puts the value back where it was
    if secrets:
        assert "s3cret" in script and "s3cret" not in stored


def test_a_secret_becomes_a_required_secret_parameter_without_its_value() -> None:
    extraction = SERVICE.extract("$pw = ConvertTo-SecureString 'Winter2026!' -AsPlainText -Force\n", "powershell")
    (param,) = extraction.parameter_schema.parameters
    assert (param.type, param.default, param.required) == ("secret", None, True)
    assert "Winter2026!" not in extraction.body and "Winter2026!" not in str(extraction.literals)


def test_a_literal_inside_a_string_is_spliced_in_the_languages_own_syntax() -> None:
    ps = SERVICE.extract("Write-Host 'Done for jdoe@contoso.com on 10.1.2.3'\n", "powershell")
    assert ps.body == "Write-Host ('Done for ' + {{ email }} + ' on ' + {{ ip_address }})\n"
    sh = SERVICE.extract("curl -s 'http://10.0.5.20/status'\n", "bash")
    assert sh.body == "curl -s 'http://'{{ ip_address }}'/status'\n"
    rendered, _, _ = render_template("bash", sh.body, sh.parameter_schema, {"ip_address": "10.9.9.9"})
    assert rendered == "curl -s 'http://''10.9.9.9''/status'\n"


def test_a_string_that_interpolates_is_left_alone_rather_than_changed() -> None:
    extraction = SERVICE.extract('Write-Host "Mail for $user goes to jdoe@contoso.com"\n', "powershell")
    assert extraction.parameter_schema.parameters == []
    assert extraction.body == 'Write-Host "Mail for $user goes to jdoe@contoso.com"\n'


def test_jinja_syntax_already_in_a_script_is_escaped_and_unknown_commands_are_flagged() -> None:
    extraction = SERVICE.extract("Write-Host '{{ not a slot }}'\nInvoke-Magic -Host PC-042\n", "powershell")
    rendered, _, _ = render_template("powershell", extraction.body, extraction.parameter_schema, {})
    assert rendered == "Write-Host '{{ not a slot }}'\nInvoke-Magic -Host 'PC-042'\n"
    assert extraction.unknown_commands == ["Invoke-Magic"]


@pytest.mark.parametrize(
    ("script", "language"),
    (
        ("mount -t cifs //nas/x /mnt/x -o username=bob,password='pa ss;word'\n", "bash"),
        ('curl -u "admin:x" --data password="pa ss;word" https://example.net\n', "bash"),
        ("Connect-Thing -Credential $c -Password:'pa ss;word'\n", "powershell"),
        ('$ApiToken = "pa ss;word"\n', "powershell"),
    ),
)
def test_a_password_in_any_position_never_survives_extraction_or_the_stored_one_off(script: str, language: str) -> None:
    from flowpilot_core.scripts import redact_secret_literals

    extraction = SERVICE.extract(script, language)  # type: ignore[arg-type]
    assert "pa ss;word" not in extraction.body
    assert any(p.type == "secret" and p.default is None for p in extraction.parameter_schema.parameters)
    stored = redact_secret_literals(script, language)  # type: ignore[arg-type]
    assert "pa ss;word" not in stored and "[redacted]" in stored


def test_malformed_model_suggestions_add_nothing() -> None:
    from flowpilot_core.scripts.model_extraction import parse_suggestions

    assert parse_suggestions("I could not find anything.") == []
    assert parse_suggestions('{"parameters": "none"}') == []
    usable = parse_suggestions(
        json.dumps(
            {
                "parameters": [
                    {"literal": "PRN-07", "name": "printer", "type": "string"},
                    {"literal": "x", "name": "1bad", "type": "string"},
                    {"literal": "y", "name": "ok", "type": "secret"},
                    {"literal": "z", "name": "ok2", "type": "nonsense"},
                    {"name": "no_literal"},
                ]
            }
        )
    )
    assert [(s.literal, s.name) for s in usable] == [("PRN-07", "printer")]
