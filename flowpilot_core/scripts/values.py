"""Typed validation of parameter values: what a value must be before it is quoted into a script.

Quoting (:mod:`flowpilot_core.scripts.quoting`) is what makes a value inert; validation is
what makes it *right*: an ``ip`` is an address (``ipaddress``), a ``hostname`` follows
RFC 1123, an ``integer`` is a number, a value of any type never holds NUL or other control
characters, and only ``string`` and ``secret`` values may span lines (inside a quoted
literal a newline is just a character, see the injection corpus in the tests).
"""

from __future__ import annotations

import ipaddress
import re

from flowpilot_core.errors import InvalidInput
from flowpilot_core.scripts.schema import ParameterSpec

Value = str | int | bool
MAX_VALUE_CHARS = 4000
MAX_PATH_CHARS = 1024
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAK = re.compile(r"[\r\n\u2028\u2029\x85]")
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_INTEGER = re.compile(r"^[+-]?\d{1,18}$")
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}
MULTILINE_TYPES = ("string", "secret")


def is_hostname(text: str) -> bool:
    """RFC 1123 host name (NetBIOS-style single labels such as ``PC-042`` included)."""
    if not text or len(text) > 253:
        return False
    labels = text.split(".")
    return all(_LABEL.match(label) for label in labels) and not labels[-1].isdigit()


def is_email(text: str) -> bool:
    return len(text) <= 254 and bool(_EMAIL.match(text))


def validate_value(spec: ParameterSpec, raw: object, *, field: str | None = None) -> Value:
    """``raw`` as the typed value ``spec`` wants, or :class:`InvalidInput` naming ``field``."""
    field = field or f"parameters.{spec.name}"

    def bad(why: str) -> InvalidInput:
        return InvalidInput(f"parameter {spec.name!r}: {why}", field=field)

    if spec.type == "boolean":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
            return raw.strip().lower() in _TRUE
        raise bad("must be true or false")
    if spec.type == "integer":
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and _INTEGER.match(raw.strip()):
            return int(raw.strip())
        raise bad("must be a whole number")
    if not isinstance(raw, str):
        if isinstance(raw, int | float) and not isinstance(raw, bool) and spec.type in ("string", "enum"):
            raw = str(raw)
        else:
            raise bad(f"must be text, not {type(raw).__name__}")
    text = raw if spec.type in MULTILINE_TYPES else raw.strip()
    if "\x00" in text or _CONTROL.search(text):
        raise bad("must not contain NUL or control characters")
    if spec.type not in MULTILINE_TYPES and _LINE_BREAK.search(text):
        raise bad("must be one line")
    if len(text) > MAX_VALUE_CHARS:
        raise bad(f"is longer than {MAX_VALUE_CHARS} characters")
    if spec.type == "enum":
        if text not in spec.choices:
            raise bad(f"must be one of {', '.join(spec.choices)}")
        return text
    if spec.type == "ip":
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            raise bad("must be an IPv4 or IPv6 address") from None
    if spec.type == "hostname" and not is_hostname(text):
        raise bad("must be a host name (letters, digits and hyphens, dot-separated labels of at most 63)")
    if spec.type == "email_upn" and not is_email(text):
        raise bad("must be an e-mail address or user principal name (user@domain)")
    if spec.type == "path" and (not text or len(text) > MAX_PATH_CHARS):
        raise bad(f"must be a path of 1 to {MAX_PATH_CHARS} characters")
    if spec.pattern is not None and re.fullmatch(spec.pattern, text) is None:
        raise bad(f"does not match the pattern {spec.pattern}")
    return text
