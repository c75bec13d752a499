"""The Anthropic model provider: FlowPilot's only use of the ``anthropic`` SDK (2.x).

Non-streaming calls use ``messages.create``; streaming uses raw events
(``create(..., stream=True)``) so that input and cache usage from ``message_start`` is
known even when the stream fails later. Requests with MCP servers go to
``client.beta.messages.create`` with the MCP beta flag; all others to the GA endpoint.

Every request carries the service's ``connect`` and ``first_byte`` timeouts
(``LaidOutCall.timeouts``) as the SDK's per-attempt timeout, so an attempt that hangs
is abandoned and retried by the SDK; ``chat_call_cached`` bounds all attempts with the
deadline. SDK and transport exceptions are translated into
:mod:`flowpilot_core.ai.errors` by what happened: not reached, timed out, reached but
failed, or answered with something unreadable.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any

import anthropic
import httpx2

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
from flowpilot_core.ai.layout import LaidOutCall
from flowpilot_core.ai.policy import Timeouts
from flowpilot_core.ai.provider import StreamEvent, TextDelta, UsageUpdate
from flowpilot_core.ai.types import Completion, TokenUsage

DEFAULT_MAX_RETRIES = 2
MAX_RETRIES_LIMIT = 10  # retries multiply a technician's wait; more than this is a misconfiguration


def _setting(settings: Any, name: str) -> Any:
    if settings is None:
        return None
    if isinstance(settings, Mapping):
        return settings.get(name)
    return getattr(settings, name, None)



def _transport_error(exc: httpx2.TransportError, common: dict[str, Any]) -> AIError:
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, httpx2.ConnectError | httpx2.ConnectTimeout | httpx2.PoolTimeout):
        return AIUnavailable(detail=detail, **common)
    if isinstance(exc, httpx2.TimeoutException):  # read or write: reached, but it went quiet
        return AITimedOut(detail=detail, **common)
    # The service answered, then the connection broke (cut body, reset mid-stream).
    return AIBadResponse(detail=detail, **common)


def map_error(exc: BaseException, *, partial_usage: TokenUsage | None = None, partial_text: str = "") -> AIError | None:
    """The FlowPilot error for an SDK or transport exception, or ``None`` if ``exc`` is neither."""
    common: dict[str, Any] = {"partial_usage": partial_usage, "partial_text": partial_text}
    if isinstance(exc, anthropic.APIStatusError):
        # Mid-stream errors arrive on a 200 response: the body's error type is the truth.
        err_type = exc.type
        status = exc.status_code
        detail = f"{status} {err_type or ''}: {exc.api_message or exc.message}".strip()
        common.update(detail=detail, request_id=exc.request_id)
        if err_type == "rate_limit_error" or status == 429:
            return AIRateLimited(retry_after=retry_after_from_headers(exc.response.headers), **common)
        if err_type == "overloaded_error" or status == 529:
            return AIOverloaded(**common)
        if err_type in ("authentication_error", "permission_error") or status in (401, 403):
            return AIAuthenticationFailed(**common)
        if err_type == "timeout_error" or status in (408, 504):
            return AITimedOut(**common)
        if err_type == "api_error" or status >= 500 or status == 409:
            return AIServerError(**common)
        return AIRequestRejected(**common)
    if isinstance(exc, anthropic.APIConnectionError):  # includes APITimeoutError; the cause says which
        cause = exc.__cause__
        if isinstance(cause, httpx2.TransportError):
            return _transport_error(cause, common)
        if isinstance(exc, anthropic.APITimeoutError):
            return AITimedOut(detail=f"{type(exc).__name__}: {exc}", **common)
        return AIUnavailable(detail=f"{type(exc).__name__}: {exc}", **common)
    if isinstance(exc, httpx2.TransportError):  # raised unwrapped while a stream is being read
        return _transport_error(exc, common)
    if isinstance(exc, json.JSONDecodeError | anthropic.APIResponseValidationError):
        # Truncated JSON or a garbled event: the service was reached and may answer properly next time.
        return AIBadResponse(detail=f"{type(exc).__name__}: {exc}", **common)
    if isinstance(exc, anthropic.CredentialsError):
        return AIAuthenticationFailed(detail=str(exc), **common)
    if isinstance(exc, TypeError) and "authentication method" in str(exc):
        # The SDK raises this TypeError at request time when no credential is configured.
        return AIAuthenticationFailed(
            "No Anthropic API key is configured. Set ANTHROPIC_API_KEY or switch to the offline provider.",
            detail=str(exc),
            **common,
        )
    if isinstance(exc, anthropic.AnthropicError):
        return AIServerError(detail=f"{type(exc).__name__}: {exc}", **common)
    return None


def usage_from_sdk(usage: Any) -> TokenUsage:
    """TokenUsage from an SDK ``Usage``/``MessageDeltaUsage``; every Optional count reads as 0."""
    creation = getattr(usage, "cache_creation", None)
    return TokenUsage(
        input_tokens=getattr(usage, "input_tokens", None) or 0,
        cache_creation_input_tokens=getattr(usage, "cache_creation_input_tokens", None) or 0,
        cache_creation_5m_input_tokens=(getattr(creation, "ephemeral_5m_input_tokens", None) or 0) if creation else 0,
        cache_creation_1h_input_tokens=(getattr(creation, "ephemeral_1h_input_tokens", None) or 0) if creation else 0,
        cache_read_input_tokens=getattr(usage, "cache_read_input_tokens", None) or 0,
        output_tokens=getattr(usage, "output_tokens", None) or 0,
    )


def _merge_delta_usage(current: TokenUsage, delta: Any) -> TokenUsage:
    # message_delta usage is cumulative and may omit fields: overwrite only what is present.
    values = {f: getattr(current, f) for f in current.__struct_fields__}
    for name in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens"):
        value = getattr(delta, name, None)
        if value is not None:
            values[name] = value
    return TokenUsage(**values)


def _tool_call(block: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = block.model_dump(mode="json", exclude_none=True)
    return dumped


class AnthropicProvider:
    """:class:`~flowpilot_core.ai.provider.ModelProvider` over ``anthropic.AsyncAnthropic``."""

    name = "anthropic"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        timeout: float | None = None,
        client: Any = None,
    ) -> None:
        """Build the client. ``api_key``/``base_url`` default to ANTHROPIC_API_KEY/ANTHROPIC_BASE_URL.

        ``timeout`` (``ai.anthropic.timeout``) caps every per-attempt timeout the services'
        policy asks for; without it the policy's values apply as they are.
        """
        if (
            isinstance(max_retries, bool)
            or not isinstance(max_retries, int)
            or not 0 <= max_retries <= MAX_RETRIES_LIMIT
        ):
            raise ValueError(f"ai.anthropic.max_retries: {max_retries!r} is not a whole number 0-{MAX_RETRIES_LIMIT}")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0):
            raise ValueError(f"ai.anthropic.timeout: {timeout!r} is not a positive number of seconds")
        if client is None:
            options: dict[str, Any] = {"max_retries": max_retries}
            key = api_key or os.environ.get("ANTHROPIC_API_KEY")
            if key:
                options["api_key"] = key
            url = base_url or os.environ.get("ANTHROPIC_BASE_URL")
            if url:
                options["base_url"] = url
            if timeout is not None:
                options["timeout"] = float(timeout)
            client = anthropic.AsyncAnthropic(**options)
        self.client = client
        self.max_retries = max_retries
        self.timeout_cap = None if timeout is None else float(timeout)

    def attempt_timeout(self, timeouts: Timeouts) -> httpx2.Timeout:
        """The SDK timeout of one HTTP attempt: ``connect`` for connecting, ``first_byte`` for reads and writes.

        A stream's reads after the first are bounded by ``first_byte`` too (the policy keeps
        ``stream_idle`` below it); ``chat_call_cached`` enforces the tighter idle limit.
        """
        cap = self.timeout_cap

        def capped(seconds: float) -> float:
            return min(seconds, cap) if cap is not None else seconds

        connect, first_byte = capped(timeouts.connect), capped(timeouts.first_byte)
        return httpx2.Timeout(connect=connect, read=first_byte, write=first_byte, pool=connect)

    @classmethod
    def from_settings(cls, settings: Any = None) -> AnthropicProvider:
        """Build from FlowPilot settings (``anthropic_api_key``, ``anthropic_base_url``, ``ai.anthropic``)."""
        ai = _setting(settings, "ai") or {}
        table = ai.get("anthropic", {}) if isinstance(ai, Mapping) else {}
        if not isinstance(table, Mapping):
            raise ValueError("ai.anthropic: must be a table")
        for key in table:
            if key not in ("max_retries", "timeout"):
                raise ValueError(f"ai.anthropic.{key}: unknown setting (expected max_retries, timeout)")
        return cls(
            api_key=_setting(settings, "anthropic_api_key"),
            base_url=_setting(settings, "anthropic_base_url"),
            max_retries=table.get("max_retries", DEFAULT_MAX_RETRIES),
            timeout=table.get("timeout"),
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.client.close()

    async def _create(self, request: LaidOutCall, *, stream: bool) -> Any:
        # The SDK's overloads cannot type a pre-built kwargs dict; the dict is the API body.
        client: Any = self.client
        kwargs: dict[str, Any] = dict(request.kwargs)
        kwargs["timeout"] = self.attempt_timeout(request.timeouts)
        if stream:
            kwargs["stream"] = True
        if request.mcp_servers:
            return await client.beta.messages.create(
                **kwargs, mcp_servers=[dict(s) for s in request.mcp_servers], betas=list(request.betas)
            )
        return await client.messages.create(**kwargs)

    async def complete(self, request: LaidOutCall) -> Completion:
        """One non-streaming Messages API call."""
        try:
            message = await self._create(request, stream=False)
        except Exception as exc:
            mapped = map_error(exc)
            if mapped is None:
                raise
            raise mapped from exc
        content = list(message.content or ())
        return Completion(
            text="".join(getattr(b, "text", "") for b in content if b.type == "text"),
            model=message.model or request.model,
            usage=usage_from_sdk(message.usage),
            stop_reason=message.stop_reason,
            tool_calls=tuple(_tool_call(b) for b in content if str(b.type).endswith("tool_use")),
        )

    async def stream(self, request: LaidOutCall) -> AsyncIterator[StreamEvent]:
        """One streaming call: usage, text deltas, usage, then the Completion."""
        usage = TokenUsage()
        parts: list[str] = []
        model = request.model
        stop_reason: str | None = None
        tools: dict[int, dict[str, Any]] = {}
        tool_json: dict[int, list[str]] = {}
        try:
            raw = await self._create(request, stream=True)
            async with raw:
                async for event in raw:
                    kind = event.type
                    if kind == "message_start":
                        model = event.message.model or model
                        usage = usage_from_sdk(event.message.usage)
                        yield UsageUpdate(usage)
                    elif kind == "content_block_start":
                        block = event.content_block
                        if block.type == "text" and block.text:
                            parts.append(block.text)
                            yield TextDelta(block.text)
                        elif str(block.type).endswith("tool_use"):
                            tools[event.index] = _tool_call(block)
                            tool_json[event.index] = []
                    elif kind == "content_block_delta":
                        delta = event.delta
                        if delta.type == "text_delta":
                            parts.append(delta.text)
                            yield TextDelta(delta.text)
                        elif delta.type == "input_json_delta" and event.index in tool_json:
                            tool_json[event.index].append(delta.partial_json)
                    elif kind == "message_delta":
                        stop_reason = event.delta.stop_reason or stop_reason
                        usage = _merge_delta_usage(usage, event.usage)
                        yield UsageUpdate(usage)
        except Exception as exc:
            mapped = map_error(exc, partial_usage=usage, partial_text="".join(parts))
            if mapped is None:
                raise
            raise mapped from exc
        for index, chunks in tool_json.items():
            if chunks:
                try:
                    tools[index]["input"] = json.loads("".join(chunks))
                except ValueError:
                    tools[index]["input_json"] = "".join(chunks)
        yield Completion(
            text="".join(parts),
            model=model,
            usage=usage,
            stop_reason=stop_reason,
            tool_calls=tuple(tools[i] for i in sorted(tools)),
        )


__all__ = ["AnthropicProvider", "map_error", "usage_from_sdk"]
