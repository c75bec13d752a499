"""SDK and transport exceptions of the ``openai`` SDK as FlowPilot's AI errors.

The same tree and the same technician-facing sentences as the Anthropic provider
(:mod:`flowpilot_core.ai.errors`), decided by what happened: not reached, timed out,
reached but failed, refused, or answered with something unreadable. OpenAI-compatible
servers disagree on error bodies (OpenAI: ``{"error": {"message", "type", "code"}}``;
vLLM adds ``"code": 400``; Ollama sends ``{"error": {"message", "type"}}``), so the HTTP
status decides first and the body's ``type``/``code`` only where there is no status (an
error event inside a stream).
"""

from __future__ import annotations

import json
from typing import Any

import httpx2
import openai

from flowpilot_core.ai.errors import (
    AIAuthenticationFailed,
    AIBadResponse,
    AIError,
    AIOverloaded,
    AIRateLimited,
    AIRequestRejected,
    AIServerError,
    AITimedOut,
    AIUnavailable,
    retry_after_from_headers,
)
from flowpilot_core.ai.types import TokenUsage


def _transport_error(exc: httpx2.TransportError, common: dict[str, Any]) -> AIError:
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, httpx2.ConnectError | httpx2.ConnectTimeout | httpx2.PoolTimeout):
        return AIUnavailable(detail=detail, **common)
    if isinstance(exc, httpx2.TimeoutException):  # read or write: reached, but it went quiet
        return AITimedOut(detail=detail, **common)
    # The server answered, then the connection broke (cut body, closed mid-stream).
    return AIBadResponse(detail=detail, **common)


def _by_status(status: int, common: dict[str, Any], headers: Any) -> AIError:
    if status == 429:
        return AIRateLimited(retry_after=retry_after_from_headers(headers), **common)
    if status in (401, 403):
        return AIAuthenticationFailed(**common)
    if status in (408, 504):
        return AITimedOut(**common)
    if status == 503:
        # vLLM and llama.cpp answer 503 while the model is loading or every slot is busy.
        return AIOverloaded(**common)
    if status >= 500 or status == 409:
        return AIServerError(**common)
    return AIRequestRejected(**common)  # 400, 404 (model not found), 413, 422


def _stream_error_status(exc: openai.APIError) -> int:
    # An error event inside a 200 stream: vLLM puts the HTTP status in "code"; OpenAI a type.
    code = exc.code
    if code is not None and code.isdigit():
        return int(code)
    kind = (exc.type or "").lower()
    if "rate_limit" in kind or code == "rate_limit_exceeded":
        return 429
    if "invalid_request" in kind or "badrequest" in kind:
        return 400
    return 500  # "server_error", or nothing said: the server failed while answering


def _described(exc: openai.APIError) -> str:
    """``type/code: message`` from the error body, for logs and usage rows (what a server said, in its words)."""
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error") if isinstance(body.get("error"), dict) else body
    message = error.get("message") if isinstance(error, dict) else None
    kinds = "/".join(str(k) for k in (exc.type, exc.code) if k)
    return f"{kinds or 'error'}: {message if isinstance(message, str) and message else exc.message}"


def map_error(exc: BaseException, *, partial_usage: TokenUsage | None = None, partial_text: str = "") -> AIError | None:
    """The FlowPilot error for an SDK or transport exception, or ``None`` if ``exc`` is neither."""
    common: dict[str, Any] = {"partial_usage": partial_usage, "partial_text": partial_text}
    if isinstance(exc, openai.APIStatusError):
        common.update(detail=f"{exc.status_code} {_described(exc)}", request_id=exc.request_id)
        return _by_status(exc.status_code, common, exc.response.headers)
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError; the cause says which
        cause = exc.__cause__
        if isinstance(cause, httpx2.TransportError):
            return _transport_error(cause, common)
        if isinstance(exc, openai.APITimeoutError):
            return AITimedOut(detail=f"{type(exc).__name__}: {exc}", **common)
        return AIUnavailable(detail=f"{type(exc).__name__}: {exc}", **common)
    if isinstance(exc, openai.APIResponseValidationError):
        return AIBadResponse(detail=f"{type(exc).__name__}: {exc}", **common)
    if isinstance(exc, openai.APIError):  # an error event in the middle of a stream
        common["detail"] = f"stream error {_described(exc)}"
        return _by_status(_stream_error_status(exc), common, None)
    if isinstance(exc, httpx2.TransportError):  # raised unwrapped while a body is being read
        return _transport_error(exc, common)
    if isinstance(exc, json.JSONDecodeError):
        # Truncated JSON or a garbled event: the server was reached and may answer properly next time.
        return AIBadResponse(detail=f"{type(exc).__name__}: {exc}", **common)
    if isinstance(exc, openai.OpenAIError):
        return AIServerError(detail=f"{type(exc).__name__}: {exc}", **common)
    return None


__all__ = ["map_error"]
