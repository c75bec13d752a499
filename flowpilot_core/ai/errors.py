"""FlowPilot's AI errors: what a provider failure means for a technician.

Providers translate their SDK's exceptions into these classes, so services and the
HTTP layer never see a vendor exception. Each is a
:class:`~flowpilot_core.errors.FlowPilotError`, so the server maps it to a problem like
any domain error (503, or 429 for a rate limit). Every error carries:

- ``retryable``: whether the same call may succeed if repeated later;
- ``code``: a short stable identifier (stored on usage records);
- ``message`` (also ``str(error)``): what happened, one sentence a technician can read,
  never a stack trace or raw JSON;
- ``detail``: ``message`` plus what it means for the technician's input (the problem's
  ``detail``; decided here and only here, see :func:`technician_detail`);
- ``provider_detail``: the provider's own words, for logs and usage records (the
  constructor's ``detail=`` argument);
- ``retry_after``: seconds the provider asked us to wait, when it said so;
- ``partial_usage``: token usage known before the failure (a stream that broke after
  it started), so it can still be recorded.
"""

from __future__ import annotations

from typing import Any

from flowpilot_core.ai.types import TokenUsage
from flowpilot_core.errors import FlowPilotError

RETRY_HINT = "Nothing you sent was lost; send it again to retry."
NO_RETRY_HINT = "Nothing you sent was lost."


def technician_detail(message: str, retryable: bool) -> str:
    """What a technician reads for an AI failure: what happened, that their input is safe, whether to resend."""
    return f"{message} {RETRY_HINT if retryable else NO_RETRY_HINT}"


class AIError(FlowPilotError):
    """Base class of every AI-layer failure (also a provider bug: not retryable)."""

    status = 503
    title = "Service unavailable"
    code: str = "ai_error"
    retryable: bool = False
    default_message: str = "The AI assistant could not answer. Please try again."

    def __init__(
        self,
        message: str | None = None,
        *,
        detail: str | None = None,
        retry_after: float | None = None,
        request_id: str | None = None,
        partial_usage: TokenUsage | None = None,
        partial_text: str = "",
    ) -> None:
        """``message`` defaults to the class's sentence; ``detail`` is the provider's own words (logs only)."""
        self.message = message or self.default_message
        super().__init__(technician_detail(self.message, self.retryable))
        self.provider_detail = detail
        self.retry_after = retry_after
        self.request_id = request_id
        self.partial_usage = partial_usage
        self.partial_text = partial_text

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, provider_detail={self.provider_detail!r}, "
            f"retryable={self.retryable})"
        )


class AIRateLimited(AIError):
    """The provider is rate-limiting this workspace (HTTP 429)."""

    status = 429
    title = "Rate limit reached"
    code = "rate_limited"
    retryable = True
    default_message = "The AI service is receiving too many requests right now. Wait a moment and try again."

    def __init__(
        self,
        message: str | None = None,
        *,
        detail: str | None = None,
        retry_after: float | None = None,
        request_id: str | None = None,
        partial_usage: TokenUsage | None = None,
        partial_text: str = "",
    ) -> None:
        """Like :class:`AIError`; with ``retry_after`` the default sentence says how long to wait."""
        if message is None and retry_after is not None and retry_after > 0:
            message = (
                f"The AI service is receiving too many requests right now. Try again in about {retry_after:g} seconds."
            )
        super().__init__(
            message,
            detail=detail,
            retry_after=retry_after,
            request_id=request_id,
            partial_usage=partial_usage,
            partial_text=partial_text,
        )


class AIOverloaded(AIError):
    """The provider is temporarily overloaded (HTTP 529 / ``overloaded_error``)."""

    code = "overloaded"
    retryable = True
    default_message = "The AI service is temporarily overloaded. Try again in a minute."


class AIUnavailable(AIError):
    """The provider could not be used right now; this class itself: it could not be reached at all."""

    code = "unavailable"
    retryable = True
    default_message = "FlowPilot could not reach the AI service. Check the network connection and try again."


class AIServerError(AIUnavailable):
    """The provider was reached and failed internally (HTTP 5xx other than 529, ``api_error``, 408/409)."""

    code = "server_error"
    default_message = "The AI service was reached but failed to answer. Try again in a moment."


class AITimedOut(AIUnavailable):
    """The provider did not answer within a timeout (first byte, stream idle, or the call's deadline)."""

    code = "timed_out"
    default_message = "The AI service did not answer in time."


class AIBadResponse(AIUnavailable):
    """The provider's answer could not be read (truncated JSON, broken event stream, a stream cut short)."""

    code = "bad_response"
    default_message = "The AI service sent an incomplete answer."


class AIRequestRejected(AIError):
    """The provider refused the request as invalid (HTTP 400/404/413/422). Repeating it will not help."""

    code = "rejected"
    retryable = False
    default_message = "The AI service rejected this request. If it keeps happening, report it to your administrator."


class AIAuthenticationFailed(AIError):
    """The provider rejected FlowPilot's credentials (HTTP 401/403, or none configured)."""

    code = "auth_failed"
    retryable = False
    default_message = "FlowPilot's AI credentials were rejected. Ask your administrator to check the API key."


class AIProviderMissing(AIError):
    """A service's policy names a model provider this server cannot build (not installed, or misconfigured)."""

    code = "provider_missing"
    retryable = False

    def __init__(self, service: str, provider: str, reason: str) -> None:
        """``reason`` (the registry's or the provider's own words) goes to the logs, not to the technician."""
        super().__init__(
            f"The AI provider {provider!r} chosen for {service} is not available on this server. "
            "Ask your administrator to check the AI settings.",
            detail=reason,
        )


class AIStreamCancelled(AIError):
    """The consumer stopped reading a stream before it finished (used on usage records only)."""

    code = "cancelled"
    retryable = False
    default_message = "The AI response was cancelled before it finished."


def retry_after_from_headers(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (a number of seconds), when the provider sent one."""
    if headers is None:
        return None
    raw_ms = headers.get("retry-after-ms")
    raw = headers.get("retry-after")
    try:
        if raw_ms is not None:
            return float(raw_ms) / 1000.0
        if raw is not None:
            return float(raw)
    except ValueError:
        return None  # an HTTP date: rare, and the SDKs honour it themselves when retrying
    return None


__all__ = [
    "NO_RETRY_HINT",
    "RETRY_HINT",
    "AIAuthenticationFailed",
    "AIBadResponse",
    "AIError",
    "AIOverloaded",
    "AIProviderMissing",
    "AIRateLimited",
    "AIRequestRejected",
    "AIServerError",
    "AIStreamCancelled",
    "AITimedOut",
    "AIUnavailable",
    "retry_after_from_headers",
    "technician_detail",
]
