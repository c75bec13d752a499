"""The OpenAI-compatible model provider: FlowPilot's only use of the ``openai`` SDK.

One ``openai.AsyncOpenAI`` client pointed at the configured ``base_url`` talks to any
server implementing ``POST /v1/chat/completions`` (Ollama, vLLM, llama.cpp's server,
LM Studio, Azure OpenAI's v1 endpoint, OpenAI itself). Non-streaming calls read the
``ChatCompletion``; streaming reads ``ChatCompletionChunk`` events with
``stream_options.include_usage`` so a server that reports usage sends it in the last
chunk.

Like the Anthropic provider, every request carries the service's ``connect`` and
``first_byte`` timeouts as the SDK's per-attempt timeout, the SDK retries 408/409/429/5xx
and connection errors ``max_retries`` times, and ``chat_call_cached`` bounds it all with
the deadline and the stream-idle limit.

Usage: ``prompt_tokens`` includes the tokens the server read from its prefix cache
(``prompt_tokens_details.cached_tokens``); FlowPilot's ``input_tokens`` counts only what
followed the cached prefix, so it is ``prompt_tokens - cached_tokens`` and the cached
part is ``cache_read_input_tokens``. These servers report no cache writes. A response
without ``usage`` is recorded as ``TokenUsage(reported=False)``, never as zero tokens.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx2
import openai

from flowpilot_core.ai.errors import AIBadResponse
from flowpilot_core.ai.layout import LaidOutCall
from flowpilot_core.ai.policy import TIERS, Timeouts
from flowpilot_core.ai.provider import StreamEvent, TextDelta, UsageUpdate
from flowpilot_core.ai.types import Completion, TokenUsage
from flowpilot_openai_compat.errors import map_error
from flowpilot_openai_compat.request import chat_body

log = logging.getLogger("flowpilot.ai.openai_compat")

NAME = "openai_compat"
TABLE = f"ai.{NAME}"
DEFAULT_MAX_RETRIES = 2
MAX_RETRIES_LIMIT = 10  # retries multiply a technician's wait; more than this is a misconfiguration
ENV_BASE_URL = "FLOWPILOT_OPENAI_COMPAT_BASE_URL"
ENV_API_KEY = "FLOWPILOT_OPENAI_COMPAT_API_KEY"
SETTINGS = ("base_url", "api_key", "max_retries", "timeout", "tiers")

# Chat Completions finish reasons in the Messages API's words, so Completion.stop_reason
# means the same whichever provider answered.
STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def _setting(settings: Any, name: str) -> Any:
    if settings is None:
        return None
    if isinstance(settings, Mapping):
        return settings.get(name)
    return getattr(settings, name, None)


def usage_from_openai(usage: Any) -> TokenUsage:
    """TokenUsage from a Chat Completions ``usage`` object; ``None`` (not reported) stays unknown."""
    if usage is None:
        return TokenUsage(reported=False)
    prompt = getattr(usage, "prompt_tokens", None) or 0
    details = getattr(usage, "prompt_tokens_details", None)
    cached = (getattr(details, "cached_tokens", None) or 0) if details is not None else 0
    return TokenUsage(
        input_tokens=max(prompt - cached, 0),
        cache_read_input_tokens=min(cached, prompt) if prompt else cached,
        output_tokens=getattr(usage, "completion_tokens", None) or 0,
    )


def stop_reason(finish_reason: str | None) -> str | None:
    """The Messages API's name for a Chat Completions ``finish_reason`` (unknown ones unchanged)."""
    if finish_reason is None:
        return None
    return STOP_REASONS.get(finish_reason, finish_reason)


def _tool_call(call: Any) -> dict[str, Any]:
    function = call.function
    arguments = function.arguments or ""
    out: dict[str, Any] = {"type": "tool_use", "id": call.id, "name": function.name}
    try:
        out["input"] = json.loads(arguments) if arguments else {}
    except ValueError:
        out["input_json"] = arguments  # a small model's broken JSON is kept, not guessed at
    return out


async def _no_api_key() -> str:
    return ""


def _check_base_url(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(
            f"{key}: required: the server's OpenAI-compatible base URL, "
            "e.g. http://localhost:11434/v1 (Ollama) or http://gpu01:8000/v1 (vLLM)"
        )
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{key}: {value!r} is not an http(s) URL")
    return value.strip().rstrip("/")


class OpenAICompatProvider:
    """:class:`~flowpilot_core.ai.provider.ModelProvider` over ``openai.AsyncOpenAI`` (Chat Completions)."""

    name = NAME

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        timeout: float | None = None,
        client: Any = None,
    ) -> None:
        """Build the client for ``base_url`` (ending in ``/v1``). ``api_key`` is optional: local servers need none.

        Without a key no ``Authorization`` header is sent at all, and ``OPENAI_API_KEY`` is
        never picked up from the environment: a key meant for OpenAI must not reach an
        in-house server by accident. ``timeout`` caps every per-attempt timeout.
        """
        self.base_url = _check_base_url(base_url, f"{TABLE}.base_url")
        if (
            isinstance(max_retries, bool)
            or not isinstance(max_retries, int)
            or not 0 <= max_retries <= MAX_RETRIES_LIMIT
        ):
            raise ValueError(f"{TABLE}.max_retries: {max_retries!r} is not a whole number 0-{MAX_RETRIES_LIMIT}")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0):
            raise ValueError(f"{TABLE}.timeout: {timeout!r} is not a positive number of seconds")
        if api_key is not None and (not isinstance(api_key, str) or api_key != api_key.strip()):
            raise ValueError(f"{TABLE}.api_key: must be a string without surrounding spaces")
        if client is None:
            options: dict[str, Any] = {
                "base_url": self.base_url,
                "max_retries": max_retries,
                # Without a key the SDK would read OPENAI_API_KEY or refuse to start; a key
                # provider that yields "" keeps it from doing either (see _auth_headers).
                "api_key": api_key or _no_api_key,
                "admin_api_key": "",  # never OPENAI_ADMIN_KEY from the environment
                "organization": "",  # nor OPENAI_ORG_ID / OPENAI_PROJECT_ID: they are OpenAI's, not this server's
                "project": "",
            }
            if timeout is not None:
                options["timeout"] = float(timeout)
            client = openai.AsyncOpenAI(**options)
        self.client = client
        self.authenticated = bool(api_key)
        self.max_retries = max_retries
        self.timeout_cap = None if timeout is None else float(timeout)

    @classmethod
    def from_settings(cls, settings: Any = None) -> OpenAICompatProvider:
        """Build from ``[ai.openai_compat]`` and the ``FLOWPILOT_OPENAI_COMPAT_*`` environment variables."""
        ai = _setting(settings, "ai") or {}
        table = ai.get(NAME, {}) if isinstance(ai, Mapping) else {}
        if not isinstance(table, Mapping):
            raise ValueError(f"{TABLE}: must be a table")
        for key in table:
            if key not in SETTINGS:
                raise ValueError(f"{TABLE}.{key}: unknown setting (expected one of {', '.join(SETTINGS)})")
        base_url = os.environ.get(ENV_BASE_URL) or table.get("base_url")
        api_key = os.environ.get(ENV_API_KEY) or table.get("api_key") or None
        return cls(
            base_url=base_url,  # type: ignore[arg-type]  # checked in __init__, naming the setting
            api_key=api_key,
            max_retries=table.get("max_retries", DEFAULT_MAX_RETRIES),
            timeout=table.get("timeout"),
        )

    def attempt_timeout(self, timeouts: Timeouts) -> httpx2.Timeout:
        """The SDK timeout of one HTTP attempt: ``connect`` for connecting, ``first_byte`` for reads and writes."""
        cap = self.timeout_cap

        def capped(seconds: float) -> float:
            return min(seconds, cap) if cap is not None else seconds

        connect, first_byte = capped(timeouts.connect), capped(timeouts.first_byte)
        return httpx2.Timeout(connect=connect, read=first_byte, write=first_byte, pool=connect)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.client.close()

    async def _create(self, request: LaidOutCall, *, stream: bool) -> Any:
        # The SDK's overloads cannot type a pre-built body; the dict is the API body.
        client: Any = self.client
        if request.mcp_servers:
            # The MCP connector is a Messages API feature; the call goes on without those tools.
            log.info("openai_compat: %d MCP server(s) not sent (no MCP connector)", len(request.mcp_servers))
        body = chat_body(request, stream=stream)
        return await client.chat.completions.create(
            **body, timeout=self.attempt_timeout(request.timeouts), extra_headers=self._auth_headers()
        )

    def _auth_headers(self) -> dict[str, Any]:
        # The SDK insists on a credential; a keyless (local) server gets no Authorization header at all.
        return {} if self.authenticated else {"Authorization": openai.Omit()}

    async def list_models(self, timeouts: Timeouts) -> list[str]:
        """The model ids the server lists (``GET /v1/models``); raises ``AIError`` subclasses like a call."""
        client: Any = self.client
        try:
            page = await client.models.list(timeout=self.attempt_timeout(timeouts), extra_headers=self._auth_headers())
            return [model.id async for model in page]
        except Exception as exc:
            mapped = map_error(exc)
            if mapped is None:
                raise
            raise mapped from exc

    async def complete(self, request: LaidOutCall) -> Completion:
        """One non-streaming Chat Completions call."""
        try:
            response = await self._create(request, stream=False)
        except Exception as exc:
            mapped = map_error(exc)
            if mapped is None:
                raise
            raise mapped from exc
        choices = list(response.choices or ())
        if not choices:
            raise AIBadResponse(detail="the response has no choices", partial_usage=usage_from_openai(response.usage))
        message = choices[0].message
        return Completion(
            text=message.content or "",
            model=response.model or request.model,
            usage=usage_from_openai(response.usage),
            stop_reason=stop_reason(choices[0].finish_reason),
            tool_calls=tuple(_tool_call(c) for c in (message.tool_calls or ()) if getattr(c, "function", None)),
        )

    async def stream(self, request: LaidOutCall) -> AsyncIterator[StreamEvent]:
        """One streaming call: text deltas, usage when the server reports it, then the Completion."""
        usage = TokenUsage(reported=False)
        parts: list[str] = []
        model = request.model
        finish: str | None = None
        calls: dict[int, dict[str, Any]] = {}
        try:
            raw = await self._create(request, stream=True)
            # Usage comes (if at all) in the last chunk: until then it is unknown, and a
            # stream that fails before it is recorded as unreported rather than as 0 tokens.
            yield UsageUpdate(usage)
            async with raw:
                async for chunk in raw:
                    model = chunk.model or model
                    if chunk.usage is not None:
                        usage = usage_from_openai(chunk.usage)
                        yield UsageUpdate(usage)
                    for choice in chunk.choices or ():
                        if choice.index != 0:
                            continue
                        delta = choice.delta
                        if delta is not None and delta.content:
                            parts.append(delta.content)
                            yield TextDelta(delta.content)
                        for call in (delta.tool_calls or ()) if delta is not None else ():
                            entry = calls.setdefault(call.index, {"id": None, "name": "", "arguments": []})
                            entry["id"] = call.id or entry["id"]
                            if call.function is not None:
                                entry["name"] += call.function.name or ""
                                entry["arguments"].append(call.function.arguments or "")
                        finish = choice.finish_reason or finish
        except Exception as exc:
            mapped = map_error(exc, partial_usage=usage, partial_text="".join(parts))
            if mapped is None:
                raise
            raise mapped from exc
        if finish is None:
            # The server closed the stream cleanly but never said the answer was finished.
            raise AIBadResponse(
                detail="the stream ended without a finish_reason", partial_usage=usage, partial_text="".join(parts)
            )
        tool_calls = []
        for index in sorted(calls):
            entry = calls[index]
            arguments = "".join(entry["arguments"])
            out: dict[str, Any] = {"type": "tool_use", "id": entry["id"], "name": entry["name"]}
            try:
                out["input"] = json.loads(arguments) if arguments else {}
            except ValueError:
                out["input_json"] = arguments
            tool_calls.append(out)
        yield Completion(
            text="".join(parts), model=model, usage=usage, stop_reason=stop_reason(finish), tool_calls=tuple(tool_calls)
        )


def configured_tiers(settings: Any) -> dict[str, str] | None:
    """The provider's own ``[ai.openai_compat.tiers]`` as configured (``None`` when absent), for diagnostics."""
    ai = _setting(settings, "ai") or {}
    table = ai.get(NAME, {}) if isinstance(ai, Mapping) else {}
    tiers = table.get("tiers") if isinstance(table, Mapping) else None
    return {t: tiers[t] for t in TIERS if t in tiers} if isinstance(tiers, Mapping) else None


__all__ = ["NAME", "OpenAICompatProvider", "configured_tiers", "stop_reason", "usage_from_openai"]
