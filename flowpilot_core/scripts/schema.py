"""A template's parameter schema: msgspec structs, validated when a template is written.

The schema is stored as ``{"parameters": [...]}`` in ``script_templates.parameter_schema``
(and ``draft_templates.parameter_schema``). Names are unique regardless of case, because
PowerShell variables are case-insensitive; a ``secret`` (or a parameter marked
``sensitive``) may not carry a default, since a default is stored in clear with the template.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec

from flowpilot_core.errors import InvalidInput

ParameterType = Literal["string", "integer", "boolean", "enum", "hostname", "ip", "email_upn", "path", "secret"]
PARAMETER_TYPES: tuple[str, ...] = ParameterType.__args__  # type: ignore[attr-defined]
Language = Literal["powershell", "bash"]
LANGUAGES: tuple[str, ...] = ("powershell", "bash")
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
MAX_PARAMETERS = 50

Name = Annotated[str, msgspec.Meta(pattern=NAME_PATTERN)]
Text200 = Annotated[str, msgspec.Meta(max_length=200)]


class ParameterSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One parameter of a script template."""

    name: Name
    """What the body calls it: ``{{ name }}``."""
    label: Text200 = ""
    """What the technician sees; the name when empty."""
    type: ParameterType = "string"
    required: bool = True
    default: str | int | bool | None = None
    description: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    pattern: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    """A regular expression the whole value must match (strings, secrets, paths, hostnames)."""
    choices: list[Text200] = msgspec.field(default_factory=list)
    """The allowed values of an ``enum``."""
    sensitive: bool = False
    """Redacted wherever a generation is stored or shown again; ``secret`` parameters always are."""

    @property
    def is_sensitive(self) -> bool:
        return self.sensitive or self.type == "secret"

    @property
    def display_label(self) -> str:
        return self.label or self.name


class ParameterSchema(msgspec.Struct, forbid_unknown_fields=True):
    parameters: list[ParameterSpec] = msgspec.field(default_factory=list)

    def get(self, name: str) -> ParameterSpec | None:
        return next((p for p in self.parameters if p.name == name), None)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parameters]


def _field(index: int, key: str) -> str:
    return f"parameter_schema.parameters[{index}].{key}"


def check_schema(schema: ParameterSchema) -> ParameterSchema:
    """Refuse a schema that cannot work, naming the field (:class:`InvalidInput`); return it otherwise."""
    from flowpilot_core.scripts.values import validate_value  # values depends on this module

    if len(schema.parameters) > MAX_PARAMETERS:
        raise InvalidInput(f"a template has at most {MAX_PARAMETERS} parameters", field="parameter_schema.parameters")
    seen: set[str] = set()
    for index, spec in enumerate(schema.parameters):
        folded = spec.name.lower()
        if folded in seen:
            raise InvalidInput(f"parameter name {spec.name!r} is used twice", field=_field(index, "name"))
        seen.add(folded)
        if spec.type == "enum" and not spec.choices:
            raise InvalidInput(f"enum parameter {spec.name!r} needs choices", field=_field(index, "choices"))
        if spec.type != "enum" and spec.choices:
            raise InvalidInput(
                f"only enum parameters have choices ({spec.name!r} is {spec.type})", field=_field(index, "choices")
            )
        if spec.pattern is not None:
            if spec.type in ("integer", "boolean", "enum", "ip"):
                raise InvalidInput(f"a {spec.type} parameter takes no pattern", field=_field(index, "pattern"))
            try:
                re.compile(spec.pattern)
            except re.error as exc:
                raise InvalidInput(
                    f"pattern of {spec.name!r} is not a regular expression: {exc}", field=_field(index, "pattern")
                ) from None
        if spec.default is not None:
            if spec.is_sensitive:
                raise InvalidInput(
                    f"sensitive parameter {spec.name!r} cannot have a default: it would be stored in clear",
                    field=_field(index, "default"),
                )
            validate_value(spec, spec.default, field=_field(index, "default"))
    return schema


def parse_schema(raw: Any) -> ParameterSchema:
    """A stored (or posted) schema as structs; an unusable one is :class:`InvalidInput` on ``parameter_schema``."""
    if isinstance(raw, ParameterSchema):
        return raw
    try:
        return msgspec.convert(raw or {}, ParameterSchema)
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"parameter_schema: {exc}", field="parameter_schema") from None


def schema_builtins(schema: ParameterSchema) -> dict[str, Any]:
    out: dict[str, Any] = msgspec.to_builtins(schema)
    return out
