"""Domain errors. The server maps each to an RFC 9457 problem response; the CLI to one clear line.

Every error FlowPilot raises on purpose is a :class:`FlowPilotError`, AI errors
(:mod:`flowpilot_core.ai.errors`) included, so one mapping turns any of them into a
problem: ``status`` and ``title`` by class, ``detail`` the sentence to show, and for
failures of something FlowPilot depends on, ``retryable`` and ``retry_after``.
"""

from __future__ import annotations

from typing import Any


class FlowPilotError(Exception):
    """Base of every error FlowPilot raises on purpose. ``status`` is the HTTP status it maps to."""

    status = 500
    title = "Internal error"
    retryable: bool | None = None
    """Whether sending the same request again may succeed; ``None`` where the question does not apply."""
    retry_after: float | None = None
    """Seconds to wait before retrying, when the failing service said so."""
    extra: dict[str, Any] | None = None
    """Members the problem carries beside the standard ones: a partial result, or what the client may offer."""

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

    def __init__(self, detail: str, *, retry_after: float | None = None, retryable: bool = True) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        self.retryable = retryable


class RateLimited(UpstreamUnavailable):
    """The model provider's rate limit was reached; retry after ``retry_after`` seconds."""

    status = 429
    title = "Rate limit reached"


class DatabaseUnavailable(FlowPilotError):
    """FlowPilot lost its database (connection refused, dropped or the server shutting down)."""

    status = 503
    title = "Service unavailable"
    retryable = True
    default_detail = "FlowPilot could not reach its database. Try again in a few seconds."
    RETRY_AFTER_SECONDS = 5

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.default_detail)
        self.retry_after = self.RETRY_AFTER_SECONDS


class DatabaseBusy(DatabaseUnavailable):
    """Every database connection of this process was in use for ``db_pool_timeout`` seconds: overloaded, not down.

    Answered at once so that a load balancer or client can retry elsewhere, rather than after queueing for as long
    as the load lasts."""

    default_detail = "FlowPilot is busy: every database connection is in use. Try again in a second."
    RETRY_AFTER_SECONDS = 1


def database_unavailable(exc: BaseException) -> DatabaseUnavailable | None:
    """The :class:`DatabaseUnavailable` that ``exc`` means, or ``None`` if it is not a lost database.

    Only explicit causes are followed (``raise ... from``), never the exception that was being
    handled, so an unrelated bug in an ``except`` block is not reported as a database outage
    (:func:`flowpilot_core.db.errors.connection_lost` decides).
    """
    # Imported here so that importing the domain errors never imports a database driver.
    from flowpilot_core.db.errors import connection_lost, pool_exhausted

    if pool_exhausted(exc):
        return DatabaseBusy()
    return DatabaseUnavailable() if connection_lost(exc) else None
