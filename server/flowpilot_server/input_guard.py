"""Checks every request passes before a handler sees it: what no schema says but PostgreSQL or Python would choke on.

- A body goes to a handler that reads one only as JSON: another content type is 415.
- JSON must parse, be nested at most :data:`MAX_JSON_DEPTH` deep (deeper is 400 "JSON nested too
  deeply", never a ``RecursionError``) and hold only numbers a float or a 64-bit integer can carry.
- No text may contain NUL (``\\u0000``): PostgreSQL cannot store it in ``text``/``jsonb``, so it is
  rejected with 422 naming the field rather than silently stripped (what was sent is what is stored).

The body is read once here; Litestar caches it, so the handler decodes the same bytes.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import msgspec
from litestar import Request

from flowpilot_core.errors import FlowPilotError, InvalidInput

MAX_JSON_DEPTH = 32
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_INT64 = 2**63


class BadRequest(FlowPilotError):
    """The request itself could not be read (malformed JSON, too deeply nested)."""

    status = 400
    title = "Bad request"


class UnsupportedMediaType(FlowPilotError):
    status = 415
    title = "Unsupported media type"


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


def _child(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _out_of_range(item: Any) -> bool:
    if isinstance(item, Decimal):
        return not Decimal(float(item)).is_finite()
    return isinstance(item, int) and not isinstance(item, bool) and not -_INT64 <= item < _INT64


def find_problem(value: Any) -> tuple[str, str] | None:
    """The first (field, message) that makes a decoded JSON value unstorable, or None."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return path or "body", f"JSON nested too deeply (more than {MAX_JSON_DEPTH} levels)"
        if isinstance(item, str):
            if "\x00" in item:
                return path or "body", "must not contain the NUL character (\\u0000)"
        elif isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in key:
                    return path or "body", "a key must not contain the NUL character (\\u0000)"
                stack.append((child, _child(path, key), depth + 1))
        elif isinstance(item, list):
            stack.extend((child, _child(path, i), depth + 1) for i, child in enumerate(item))
        elif _out_of_range(item):
            return path or "body", "number out of range"
    return None


def _out_of_range_field(body: bytes) -> str:
    """msgspec says only "Number out of range"; find which field (the stdlib parser keeps big numbers exact)."""
    try:
        problem = find_problem(json.loads(body, parse_float=Decimal))
    except (ValueError, RecursionError):
        return "body"
    return problem[0] if problem else "body"


def decode_json_body(body: bytes) -> Any:
    """Decode a request body, raising :class:`BadRequest` or :class:`InvalidInput` naming what is wrong."""
    try:
        value = msgspec.json.decode(body)
    except RecursionError:
        raise BadRequest(f"JSON nested too deeply (more than {MAX_JSON_DEPTH} levels)", field="body") from None
    except msgspec.ValidationError as exc:  # untyped decoding fails only on numbers no type can hold
        field = _out_of_range_field(body)
        raise InvalidInput(f"{field}: {str(exc).split(' - ')[0].lower()}", field=field) from None
    except msgspec.DecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}", field="body") from None
    problem = find_problem(value)
    if problem:
        field, message = problem
        error = BadRequest if message.startswith("JSON nested") else InvalidInput
        raise error(f"{field}: {message}", field=field)
    return value


def _check_text(where: str, name: str, value: str) -> None:
    if "\x00" in value:
        raise InvalidInput(f"{where} {name}: must not contain the NUL character (\\u0000)", field=name)


async def check_request(request: Request[Any, Any, Any]) -> None:
    """Litestar ``before_request`` hook: raise a 4xx naming what is wrong, or return None to go on."""
    _check_text("path", "path", request.scope["path"])
    if request.scope["query_string"]:
        for name, value in request.query_params.multi_items():
            _check_text("query parameter", name, name)
            _check_text("query parameter", name, value)
    if request.method not in _BODY_METHODS or "data" not in request.route_handler.parsed_fn_signature.parameters:
        return
    body = await request.body()
    if not body.strip():
        raise BadRequest("a JSON body is required", field="body")
    content_type = request.headers.get("content-type", "")
    if not _is_json(content_type):
        raise UnsupportedMediaType(
            f"send the body as application/json (got {content_type or 'no content-type'!r})", field="content-type"
        )
    decode_json_body(body)
