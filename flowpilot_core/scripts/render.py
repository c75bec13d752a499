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

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from flowpilot_core.errors import InvalidInput
from flowpilot_core.scripts.quoting import quote_value
from flowpilot_core.scripts.schema import Language, ParameterSchema
from flowpilot_core.scripts.values import Value, validate_value

REDACTED = "[redacted]"
"""What a sensitive value is replaced with in every stored or shown-again copy of a script."""
MAX_BODY_CHARS = 100_000


MAX_REPEAT_CHARS = 10_000
MAX_SCRIPT_CHARS = 200_000


class ScriptEnvironment(SandboxedEnvironment):
    """The sandbox, also refusing what would let one account's template burn a shared server's CPU or memory:
    ``**`` (``9**9**9``) and string or list repetition past :data:`MAX_REPEAT_CHARS`. (``range`` is
    already capped by the sandbox, and nested loops are refused when a template is written.)"""

    intercepted_binops = frozenset({"**", "*"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            raise SecurityError("the ** operator is not available in script templates")
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(count, int)
                    and len(seq) * count > MAX_REPEAT_CHARS
                ):
                    raise SecurityError(f"repeating a value past {MAX_REPEAT_CHARS} characters is not allowed")
        return super().call_binop(context, operator, left, right)


@functools.cache
def environment(language: Language) -> SandboxedEnvironment:
    return ScriptEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        finalize=lambda value: quote_value(language, value),
    )


def body_variables(body: str) -> set[str]:
    """The names a body uses; a syntax error or a loop inside a loop is :class:`InvalidInput` on ``body``."""
    try:
        parsed = environment("bash").parse(body)
    except TemplateSyntaxError as exc:
        raise InvalidInput(f"the template body is not valid: {exc.message} (line {exc.lineno})", field="body") from None
    for loop in parsed.find_all(nodes.For):
        inner = next(loop.find_all(nodes.For), None)
        if inner is not None:  # range() is capped, but a loop of loops is still 10**10 steps
            raise InvalidInput(
                f"a loop inside a loop (line {inner.lineno}) is not allowed in a script template", field="body"
            )
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
        out: list[str] = []
        size = 0
        for chunk in environment(language).from_string(body).generate(**values):
            size += len(chunk)
            if size > MAX_SCRIPT_CHARS:
                raise InvalidInput(f"the rendered script is longer than {MAX_SCRIPT_CHARS} characters", field="body")
            out.append(chunk)
        return "".join(out)
    except (UndefinedError, SecurityError, TemplateSyntaxError, TypeError, ValueError, OverflowError) as exc:
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
