"""Document the error responses in the OpenAPI document: every 4xx and 503 as ``application/problem+json``.

Litestar documents only a generic 400 in its own JSON shape; FlowPilot's errors are RFC 9457
problem details (see ``problems.py``), so the document says that, per operation.
"""

from __future__ import annotations

from litestar.openapi.spec import OpenAPI, OpenAPIMediaType, OpenAPIResponse, Operation, Reference, Schema
from litestar.openapi.spec.enums import OpenAPIType

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
    "503": "The database or the model provider is unreachable; `retryable` and Retry-After say when to retry",
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
