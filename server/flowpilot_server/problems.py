"""RFC 9457 problem details for every error: domain errors, HTTP errors, validation, and the unexpected.

A 500 says only that something failed and gives a reference to find it in the log;
it never carries a stack trace.
"""

from __future__ import annotations

import logging
import math
import re
import uuid
from http import HTTPStatus
from typing import Any

from litestar.exceptions import HTTPException, ValidationException
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsException, ProblemDetailsPlugin

from flowpilot_core.db.errors import DATABASE_ERROR_TYPES
from flowpilot_core.errors import FlowPilotError, database_unavailable

log = logging.getLogger("flowpilot.server")
_BACKTICKS = re.compile(r"`([^`]*)`")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _field_errors(extra: Any) -> list[dict[str, str]]:
    errors = []
    for item in extra if isinstance(extra, list) else []:
        if isinstance(item, dict):
            key = str(item.get("key") or "")
            message = _BACKTICKS.sub(r"\1", str(item.get("message") or "invalid value"))
            key = key.removeprefix("$.")
            key = "" if key == "data" else key.removeprefix("data.")
            named = re.search(r"(?:missing required|unknown) field (\S+)", message)
            if named:  # msgspec names the field in the message and the containing object in the key
                key = f"{key}.{named.group(1)}" if key else named.group(1)
            errors.append({"field": key or "body", "message": message})
    return errors


def _from_http(exc: HTTPException) -> ProblemDetailsException:
    status = exc.status_code
    if isinstance(exc, ValidationException):
        errors = _field_errors(exc.extra)
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or str(exc.detail)
        return ProblemDetailsException(
            status_code=status,
            title="Invalid request",
            detail=detail,
            extra={"errors": errors},
            type_="https://flowpilot.dev/problems/invalid-request",
            headers=exc.headers,
        )
    detail = str(exc.detail) if exc.detail and exc.detail != _phrase(status) else ""
    # A 400 Litestar raises itself is about reading the request: say so in errors[] like every other 4xx.
    extra = {"errors": [{"field": "body", "message": detail or _phrase(status)}]} if status == 400 else None
    return ProblemDetailsException(
        status_code=status, title=_phrase(status), detail=detail, extra=extra, headers=exc.headers
    )


def _problem_type(exc: FlowPilotError) -> str:
    # AIRateLimited -> ai-rate-limited, DatabaseUnavailable -> database-unavailable
    slug = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", type(exc).__name__).lower()
    return f"https://flowpilot.dev/problems/{slug}"


def _from_domain(exc: FlowPilotError) -> ProblemDetailsException:
    """The one mapping of domain errors (AI errors included) to problems: plain HTTP and SSE ``error`` events."""
    extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if exc.field:
        extra["errors"] = [{"field": exc.field, "message": exc.detail}]
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="flowpilot"'
    if exc.retryable is not None:
        extra["retryable"] = exc.retryable
    if exc.retry_after is not None and exc.retry_after > 0:
        seconds = max(1, math.ceil(exc.retry_after))  # Retry-After takes whole seconds
        headers["Retry-After"] = str(seconds)
        extra["retry_after"] = seconds
    extra.update(exc.extra or {})  # a partial result the client needs (a writeback's), what it may offer
    return ProblemDetailsException(
        status_code=exc.status,
        title=exc.title,
        detail=exc.detail,
        extra=extra or None,
        headers=headers or None,
        type_=_problem_type(exc),
    )


def _from_database(exc: Exception) -> ProblemDetailsException:
    """A lost database is a retryable 503 (domain error); any other database error is unexpected."""
    lost = database_unavailable(exc)
    return _from_domain(lost) if lost is not None else _from_unexpected(exc)


def problem_body(exc: Exception) -> dict[str, Any]:
    """The problem-details object for ``exc``, as a response body would carry it (for SSE ``error`` events).

    Always has ``retryable``: a stream consumer decides from it whether to offer a resend.
    """
    domain = exc if isinstance(exc, FlowPilotError) else database_unavailable(exc)
    problem = _from_domain(domain) if domain is not None else _from_unexpected(exc)
    body: dict[str, Any] = {"status": problem.status_code}
    if problem.type_ is not None:
        body["type"] = problem.type_
    body["title"] = problem.title
    body["detail"] = problem.detail
    if isinstance(problem.extra, dict):
        body.update(problem.extra)
    body.setdefault("retryable", False)
    return body


def _from_unexpected(exc: Exception) -> ProblemDetailsException:
    reference = uuid.uuid4().hex[:12]
    log.error("unhandled error (reference %s)", reference, exc_info=exc)
    return ProblemDetailsException(
        status_code=500,
        title="Internal Server Error",
        detail=f"FlowPilot hit an unexpected error; nothing was changed. Reference: {reference}",
    )


def problem_details_plugin() -> ProblemDetailsPlugin:
    return ProblemDetailsPlugin(
        ProblemDetailsConfig(
            exception_to_problem_detail_map={
                HTTPException: _from_http,
                FlowPilotError: _from_domain,
                **dict.fromkeys(DATABASE_ERROR_TYPES, _from_database),
                Exception: _from_unexpected,
            }
        )
    )
