"""RFC 9457 problem details for every error: domain errors, HTTP errors, validation, and the unexpected.

A 500 says only that something failed and gives a reference to find it in the log;
it never carries a stack trace.
"""

from __future__ import annotations

import logging
import re
import uuid
from http import HTTPStatus
from typing import Any

from litestar.exceptions import HTTPException, ValidationException
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsException, ProblemDetailsPlugin

from flowpilot_core.errors import FlowPilotError, UpstreamUnavailable
from flowpilot_server.db_errors import DATABASE_ERROR_TYPES, database_unreachable

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


def _from_domain(exc: FlowPilotError) -> ProblemDetailsException:
    extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if exc.field:
        extra["errors"] = [{"field": exc.field, "message": exc.detail}]
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="flowpilot"'
    if isinstance(exc, UpstreamUnavailable):
        extra["retryable"] = exc.retryable
        if exc.retry_after:
            headers["Retry-After"] = str(exc.retry_after)
    extra.update(getattr(exc, "extra", None) or {})  # a partial result the client needs (a writeback's)
    slug = re.sub(r"(?<!^)(?=[A-Z])", "-", type(exc).__name__).lower()
    return ProblemDetailsException(
        status_code=exc.status,
        title=exc.title,
        detail=exc.detail,
        extra=extra or None,
        headers=headers or None,
        type_=f"https://flowpilot.dev/problems/{slug}",
    )


def _from_unexpected(exc: Exception) -> ProblemDetailsException:
    reference = uuid.uuid4().hex[:12]
    log.error("unhandled error (reference %s)", reference, exc_info=exc)
    return ProblemDetailsException(
        status_code=500,
        title="Internal Server Error",
        detail=f"FlowPilot hit an unexpected error; nothing was changed. Reference: {reference}",
    )


DATABASE_RETRY_AFTER_SECONDS = 5


def _from_database_error(exc: Exception) -> ProblemDetailsException:
    """The database cannot be reached: 503 the caller may retry (the pool reconnects by itself), else a 500."""
    if not database_unreachable(exc):
        return _from_unexpected(exc)
    log.warning("database unreachable: %s: %s", type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
    return ProblemDetailsException(
        status_code=503,
        title="Service unavailable",
        detail="FlowPilot cannot reach its database right now. Try again in a few seconds.",
        extra={"retryable": True},
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        type_="https://flowpilot.dev/problems/database-unavailable",
    )


def problem_details_plugin() -> ProblemDetailsPlugin:
    return ProblemDetailsPlugin(
        ProblemDetailsConfig(
            exception_to_problem_detail_map={
                HTTPException: _from_http,
                FlowPilotError: _from_domain,
                **dict.fromkeys(DATABASE_ERROR_TYPES, _from_database_error),
                Exception: _from_unexpected,
            }
        )
    )
