"""Typed validation of parameter values, and the checks a template passes before it is stored."""

from __future__ import annotations

from typing import Any

import pytest

from flowpilot_core.errors import InvalidInput
from flowpilot_core.scripts import ParameterSchema, ParameterSpec, check_schema, validate_value
from flowpilot_core.scripts.render import check_body, resolve_values


def spec(type_: str, **kw: Any) -> ParameterSpec:
    return ParameterSpec(name="p", type=type_, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("type_", "raw", "expected"),
    (
        ("integer", "42", 42),
        ("integer", -7, -7),
        ("boolean", "Yes", True),
        ("boolean", False, False),
        ("ip", "10.0.0.5", "10.0.0.5"),
        ("ip", " fe80::1 ", "fe80::1"),
        ("ip", "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("hostname", "PC-042", "PC-042"),
        ("hostname", "fileserver01.contoso.local", "fileserver01.contoso.local"),
        ("email_upn", "jane.doe@contoso.onmicrosoft.com", "jane.doe@contoso.onmicrosoft.com"),
        ("email_upn", "o'brien@contoso.com", "o'brien@contoso.com"),
        ("path", "\\\\PRINTSRV01\\HP-4th", "\\\\PRINTSRV01\\HP-4th"),
        ("string", "two\nlines", "two\nlines"),
        ("secret", "p@ss'word", "p@ss'word"),
    ),
)
def test_valid_values_come_back_typed(type_: str, raw: object, expected: object) -> None:
    assert validate_value(spec(type_), raw) == expected


@pytest.mark.parametrize(
    ("type_", "raw", "why"),
    (
        ("integer", "4 2", "whole number"),
        ("integer", True, "whole number"),
        ("boolean", "maybe", "true or false"),
        ("ip", "10.0.0.256", "IPv4 or IPv6"),
        ("ip", "10.0.0.5; rm -rf /", "IPv4 or IPv6"),
        ("hostname", "pc_042", "host name"),
        ("hostname", "-pc", "host name"),
        ("hostname", "a" * 64, "host name"),
        ("hostname", "PC-042; Stop-Computer", "host name"),
        ("email_upn", "jdoe", "e-mail"),
        ("email_upn", "jdoe@contoso.com\nBcc: x", "one line"),
        ("path", "C:\\Temp\nRemove-Item", "one line"),
        ("string", "nul\x00byte", "NUL"),
        ("string", "bell\x07", "control"),
        ("hostname", 42, "text"),
    ),
)
def test_invalid_values_are_a_422_naming_the_parameter(type_: str, raw: object, why: str) -> None:
    with pytest.raises(InvalidInput, match=why) as caught:
        validate_value(spec(type_), raw)
    assert caught.value.field == "parameters.p"


def test_enum_and_pattern() -> None:
    assert validate_value(spec("enum", choices=["Automatic", "Manual"]), "Manual") == "Manual"
    with pytest.raises(InvalidInput, match="one of Automatic, Manual"):
        validate_value(spec("enum", choices=["Automatic", "Manual"]), "Disabled")
    with pytest.raises(InvalidInput, match="pattern"):
        validate_value(spec("string", pattern=r"[A-Z]{2}\d+"), "ab12")


@pytest.mark.parametrize(
    ("parameters", "field", "message"),
    (
        ([{"name": "Host"}, {"name": "host"}], "parameter_schema.parameters[1].name", "used twice"),
        ([{"name": "mode", "type": "enum"}], "parameter_schema.parameters[0].choices", "needs choices"),
        ([{"name": "n", "choices": ["a"]}], "parameter_schema.parameters[0].choices", "only enum"),
        (
            [{"name": "pw", "type": "secret", "default": "hunter2"}],
            "parameter_schema.parameters[0].default",
            "in clear",
        ),
        ([{"name": "t", "sensitive": True, "default": "x"}], "parameter_schema.parameters[0].default", "in clear"),
        ([{"name": "s", "pattern": "("}], "parameter_schema.parameters[0].pattern", "not a regular expression"),
        ([{"name": "ip", "type": "ip", "default": "nope"}], "parameter_schema.parameters[0].default", "IPv4"),
    ),
)
def test_a_schema_that_cannot_work_is_refused_naming_the_field(
    parameters: list[dict], field: str, message: str
) -> None:
    import msgspec

    schema = msgspec.convert({"parameters": parameters}, ParameterSchema)
    with pytest.raises(InvalidInput, match=message) as caught:
        check_schema(schema)
    assert caught.value.field == field


def test_a_body_may_use_only_declared_parameters_and_must_parse() -> None:
    schema = ParameterSchema(parameters=[ParameterSpec(name="host", type="hostname")])
    check_body("Restart-Computer -ComputerName {{ host }}", schema, "powershell")
    with pytest.raises(InvalidInput, match=r"\{\{ user \}\}") as caught:
        check_body("Set-ADUser {{ user }} -ComputerName {{ host }}", schema, "powershell")
    assert caught.value.field == "body"
    with pytest.raises(InvalidInput, match="not valid"):
        check_body("{% if host %}unclosed", schema, "powershell")


@pytest.mark.parametrize(
    ("language", "body", "where"),
    (
        ("powershell", 'Write-Host "Hello {{ host }}"', "a quoted string"),
        ("powershell", "Write-Host 'Hello {{ host }}'", "a quoted string"),
        ("powershell", "Get-Item x # for {{ host }}", "a comment"),
        ("powershell", "<# {{ host }} #>\nGet-Item x", "a comment"),
        ("powershell", '$x = @"\nHello {{ host }}\n"@', "a here-string"),
        ("bash", 'echo "Hello {{ host }}"', "a quoted string"),
        ("bash", "cat <<EOF\n{{ host }}\nEOF\n", "a here-document"),
        ("bash", "ping -c1 x # {{ host }}", "a comment"),
    ),
)
def test_a_value_placed_where_it_would_not_be_inert_is_refused(language: str, body: str, where: str) -> None:
    # e.g. "Hello {{ host }}" renders "Hello '$(calc)'", and both shells run $(...) inside double quotes
    schema = ParameterSchema(parameters=[ParameterSpec(name="host")])
    with pytest.raises(InvalidInput, match=f"inside {where}") as caught:
        check_body(body, schema, language)  # type: ignore[arg-type]
    assert caught.value.field == "body"


@pytest.mark.parametrize(
    ("language", "body"),
    (
        ("powershell", "$a = {{ host }}; Get-Item -Path {{ host }} # done"),
        ("powershell", "Write-Host ('Hello ' + {{ host }})"),
        ("powershell", "{% if host %}Stop-Service {{ host }}{% endif %}"),
        ("powershell", 'Write-Host "{% raw %}{{{% endraw %} literal braces" {{ host }}'),
        ("bash", 'echo "Hello "{{ host }}'),
        ("bash", "cat <<'EOF'\nnothing here\nEOF\nping -c1 {{ host }}"),
    ),
)
def test_a_value_in_code_position_is_accepted(language: str, body: str) -> None:
    check_body(body, ParameterSchema(parameters=[ParameterSpec(name="host")]), language)  # type: ignore[arg-type]


def test_required_values_are_checked_before_rendering_and_defaults_fill_the_rest() -> None:
    schema = ParameterSchema(
        parameters=[
            ParameterSpec(name="host", type="hostname", label="Computer"),
            ParameterSpec(name="mode", type="enum", choices=["a", "b"], default="a"),
            ParameterSpec(name="note", required=False),
        ]
    )
    with pytest.raises(InvalidInput, match="'host' \\(Computer\\) is required") as caught:
        resolve_values(schema, {})
    assert caught.value.field == "parameters.host"
    assert resolve_values(schema, {"host": "PC-1"}) == {"host": "PC-1", "mode": "a", "note": ""}
    with pytest.raises(InvalidInput, match="unknown parameter 'hots'"):
        resolve_values(schema, {"hots": "PC-1"})


def test_a_loop_inside_a_loop_is_refused_when_the_template_is_written() -> None:
    schema = ParameterSchema(parameters=[ParameterSpec(name="host")])
    check_body("{% for i in range(3) %}ping -c1 {{ host }}\n{% endfor %}", schema, "bash")
    with pytest.raises(InvalidInput, match="loop inside a loop"):
        check_body("{% for i in range(9) %}{% for j in range(9) %}x{% endfor %}{% endfor %}", schema, "bash")
