"""FlowPilot's AI errors: what a provider failure means for a technician.

Providers translate their SDK's exceptions into these classes, so services and the
HTTP layer never see a vendor exception. Every error carries:

- ``retryable``: whether the same call may succeed if repeated later;
- ``code``: a short stable identifier (stored on usage records, used in API problems);
- a technician-readable message (``str(error)``), never a stack trace or raw JSON;
- ``detail``: the provider's own message, for logs;
- ``retry_after``: seconds the provider asked us to wait, when it said so;
- ``partial_usage``: token usage known before the failure (a stream that broke after
  it started), so it can still be recorded.
"""

from __future__ import annotations

from flowpilot_core.ai.types import TokenUsage


class AIError(Exception):
    """Base class of every AI-layer failure."""

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
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.detail = detail
        self.retry_after = retry_after
        self.request_id = request_id
        self.partial_usage = partial_usage
        self.partial_text = partial_text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, detail={self.detail!r}, retryable={self.retryable})"


class AIRateLimited(AIError):
    """The provider is rate-limiting this workspace (HTTP 429)."""

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
    """The provider could not be reached or failed internally (connection error, timeout, 5xx)."""

    code = "unavailable"
    retryable = True
    default_message = "FlowPilot could not reach the AI service. Check the network connection and try again."


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


class AIStreamCancelled(AIError):
    """The consumer stopped reading a stream before it finished (used on usage records only)."""

    code = "cancelled"
    retryable = False
    default_message = "The AI response was cancelled before it finished."


__all__ = [
    "AIAuthenticationFailed",
    "AIError",
    "AIOverloaded",
    "AIRateLimited",
    "AIRequestRejected",
    "AIStreamCancelled",
    "AIUnavailable",
]
