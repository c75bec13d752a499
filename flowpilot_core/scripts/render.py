"""Rendering a template body: Jinja2's sandbox, strict undefined, and every output quoted.

Every ``{{ ... }}`` expression passes through the environment's ``finalize``, which quotes
its result for the template's language (:func:`flowpilot_core.scripts.quoting.quote_value`):
a template author cannot forget to quote, and a value cannot leave its literal. The price is
that a value is always a whole literal: to build a string from a value, concatenate in the
script's own language (``'IP_' + {{ address }}`` in PowerShell, ``"IP_"{{ address }}`` in
bash). The sandbox keeps templates from reaching Python internals; undefined names fail the
render instead of rendering empty.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from flowpilot_core.errors import InvalidInput
from flowpilot_core.scripts.quoting import quote_value
from flowpilot_core.scripts.schema import Language, ParameterSchema
from flowpilot_core.scripts.values import Value, validate_value

REDACTED = "[redacted]"
"""What a sensitive value is replaced with in every stored or shown-again copy of a script."""
MAX_BODY_CHARS = 100_000


@functools.cache
def environment(language: Language) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        finalize=lambda value: quote_value(language, value),
    )


def body_variables(body: str) -> set[str]:
    """The names a body uses; a syntax error is :class:`InvalidInput` on ``body``."""
    try:
        parsed = environment("bash").parse(body)
    except TemplateSyntaxError as exc:
        raise InvalidInput(f"the template body is not valid: {exc.message} (line {exc.lineno})", field="body") from None
    return set(meta.find_undeclared_variables(parsed))


def check_body(body: str, schema: ParameterSchema, language: Language) -> None:
    """A body may use only the parameters its schema declares, each where its value stays inert."""
    if len(body) > MAX_BODY_CHARS:
        raise InvalidInput(f"the template body is longer than {MAX_BODY_CHARS} characters", field="body")
    unknown = sorted(body_variables(body) - set(schema.names))
    if unknown:
        used = ", ".join("{{ " + name + " }}" for name in unknown)
        raise InvalidInput(f"the body uses {used}, which the parameter schema does not declare", field="body")
    from flowpilot_core.scripts.slots import check_slots  # slots tokenizes with quoting's rules

    check_slots(body, language)


def resolve_values(schema: ParameterSchema, given: Mapping[str, object]) -> dict[str, Value]:
    """Every parameter's typed value: the given one, else its default; a missing required one is a 422."""
    unknown = sorted(set(given) - set(schema.names))
    if unknown:
        raise InvalidInput(f"unknown parameter {unknown[0]!r}", field=f"parameters.{unknown[0]}")
    values: dict[str, Value] = {}
    for spec in schema.parameters:
        raw = given.get(spec.name)
        if raw is None or raw == "":
            if spec.default is not None:
                raw = spec.default
            elif spec.required:
                raise InvalidInput(
                    f"parameter {spec.name!r} ({spec.display_label}) is required", field=f"parameters.{spec.name}"
                )
            else:
                values[spec.name] = False if spec.type == "boolean" else ""
                continue
        values[spec.name] = validate_value(spec, raw)
    return values


def render_body(language: Language, body: str, values: Mapping[str, Value]) -> str:
    """The script, every value quoted. A failing template (a bug in it) is :class:`InvalidInput` on ``body``."""
    try:
        return environment(language).from_string(body).render(**values)
    except (UndefinedError, SecurityError, TemplateSyntaxError, TypeError, ValueError) as exc:
        raise InvalidInput(f"the template could not be rendered: {exc}", field="body") from None


def redacted_values(schema: ParameterSchema, values: Mapping[str, Value]) -> dict[str, Value]:
    """The values with every sensitive one replaced by :data:`REDACTED`."""
    sensitive = {p.name for p in schema.parameters if p.is_sensitive}
    return {name: (REDACTED if name in sensitive else value) for name, value in values.items()}


def render_template(
    language: Language, body: str, schema: ParameterSchema, given: Mapping[str, Any]
) -> tuple[str, str, dict[str, Value]]:
    """``(script, redacted script, redacted values)``: the first goes to the technician once, the others are stored."""
    values = resolve_values(schema, given)
    redacted = redacted_values(schema, values)
    return render_body(language, body, values), render_body(language, body, redacted), redacted
