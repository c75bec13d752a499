"""What Litestar leaves out of the OpenAPI document, added once when the app is built.

- Every 4xx and 503 as ``application/problem+json``: Litestar documents only a generic 400 in
  its own JSON shape; FlowPilot's errors are RFC 9457 problem details (see ``problems.py``).
- ``additionalProperties: false`` on request bodies whose Struct forbids unknown fields, so a
  client (or schemathesis) knows that an unknown key is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import msgspec
from litestar import Litestar
from litestar.openapi.spec import OpenAPI, OpenAPIMediaType, OpenAPIResponse, Operation, Reference, Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.routes import HTTPRoute

PROBLEM_MEDIA_TYPE = "application/problem+json"

_FIELD_ERROR = Schema(
    type=OpenAPIType.OBJECT,
    required=["field", "message"],
    properties={"field": Schema(type=OpenAPIType.STRING), "message": Schema(type=OpenAPIType.STRING)},
)
PROBLEM_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    required=["status", "title"],
    description="RFC 9457 problem details. `errors[]` names each field that is wrong.",
    properties={
        "type": Schema(type=OpenAPIType.STRING),
        "title": Schema(type=OpenAPIType.STRING),
        "status": Schema(type=OpenAPIType.INTEGER),
        "detail": Schema(type=OpenAPIType.STRING),
        "errors": Schema(type=OpenAPIType.ARRAY, items=_FIELD_ERROR),
        "retryable": Schema(type=OpenAPIType.BOOLEAN, description="whether sending the same request again may work"),
    },
)

_API_ERRORS = {
    "400": "The request could not be read: malformed or too deeply nested JSON, or a bad parameter",
    "401": "Missing, invalid or expired credential",
    "403": "The credential may not do this (e.g. an embed token on an API-key-only operation)",
    "404": "No such resource in the caller's account (another account's ids read as missing)",
    "409": "Conflicts with the current state",
    "422": "A value is invalid; `errors[]` names the field",
    "429": "The model provider's rate limit was reached; see Retry-After",
    "503": "The database or the model provider is unreachable, or every database connection is busy; `retryable` and "
    "Retry-After say when to retry",
}
_BODY_ERRORS = {
    "413": "The body is too large",
    "415": "The body is not sent as application/json",
}


def _problem(description: str) -> OpenAPIResponse:
    return OpenAPIResponse(
        description=description,
        content={PROBLEM_MEDIA_TYPE: OpenAPIMediaType(schema=Reference(ref="#/components/schemas/Problem"))},
    )


def _operations(openapi: OpenAPI) -> list[tuple[str, Operation]]:
    found = []
    for path, item in (openapi.paths or {}).items():
        for method in ("get", "put", "post", "delete", "patch"):
            operation = getattr(item, method, None)
            if operation is not None:
                found.append((path, operation))
    return found


def document_problem_responses(openapi: OpenAPI) -> None:
    """Add the ``Problem`` schema and, to every ``/api/`` operation, the problem responses it can give."""
    if openapi.components.schemas is None:
        openapi.components.schemas = {}
    openapi.components.schemas["Problem"] = PROBLEM_SCHEMA
    for path, operation in _operations(openapi):
        if not path.startswith("/api/"):
            continue
        responses = dict(operation.responses or {})
        errors = {**_API_ERRORS, **(_BODY_ERRORS if operation.request_body is not None else {})}
        for status, description in errors.items():
            responses[status] = _problem(description)
        operation.responses = dict(sorted(responses.items()))


def _request_body_types(app: Litestar) -> Iterator[Any]:
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                data = handler.parsed_fn_signature.parameters.get("data")
                if data is not None:
                    yield data.annotation


def _strict_structs(types: Iterable[Any]) -> set[type]:
    """Struct classes, at any depth of the given types, that refuse unknown fields."""
    found: set[type] = set()
    seen: set[int] = set()
    todo: list[Any] = list(msgspec.inspect.multi_type_info(list(types)))
    while todo:
        info = todo.pop()
        if id(info) in seen:
            continue
        seen.add(id(info))
        if isinstance(info, msgspec.inspect.StructType):
            if info.forbid_unknown_fields:
                found.add(info.cls)
            todo.extend(field.type for field in info.fields)
        for attr in ("types", "item_type", "key_type", "value_type"):
            nested = getattr(info, attr, None)
            if isinstance(nested, tuple):
                todo.extend(nested)
            elif nested is not None:
                todo.append(nested)
    return found


def forbid_unknown_request_fields(openapi: OpenAPI, app: Litestar) -> None:
    """Mark the components of strict request Structs with ``additionalProperties: false``."""
    schemas = openapi.components.schemas or {}
    for cls in _strict_structs(_request_body_types(app)):
        schema = schemas.get(cls.__name__)
        if isinstance(schema, Schema):
            schema.additional_properties = False
