"""Domain errors. The server maps each to an RFC 9457 problem response; the CLI to one clear line."""

from __future__ import annotations


class FlowPilotError(Exception):
    """Base of every error FlowPilot raises on purpose. ``status`` is the HTTP status it maps to."""

    status = 500
    title = "Internal error"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class InvalidInput(FlowPilotError):
    status = 422
    title = "Invalid input"


class PayloadTooLarge(FlowPilotError):
    status = 413
    title = "Payload too large"


class NotFound(FlowPilotError):
    """Also what another tenant's ids read as: existence is never confirmed across accounts."""

    status = 404
    title = "Not found"


class Conflict(FlowPilotError):
    status = 409
    title = "Conflict"


class AuthenticationFailed(FlowPilotError):
    status = 401
    title = "Unauthorized"


class Forbidden(FlowPilotError):
    status = 403
    title = "Forbidden"


class UpstreamUnavailable(FlowPilotError):
    """A model provider or PSA failed in a way the technician can retry."""

    status = 503
    title = "Service unavailable"

    def __init__(self, detail: str, *, retry_after: int | None = None, retryable: bool = True) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        self.retryable = retryable


class RateLimited(UpstreamUnavailable):
    """The model provider's rate limit was reached; retry after ``retry_after`` seconds."""

    status = 429
    title = "Rate limit reached"
