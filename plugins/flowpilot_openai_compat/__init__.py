"""Built-in plugin: the ``openai_compat`` model provider (any OpenAI Chat Completions server).

Runs FlowPilot's calls on a model inside the MSP's own network (Ollama, vLLM,
llama.cpp's server, LM Studio) or on Azure OpenAI / OpenAI, through the official
``openai`` SDK with ``base_url``. The SDK rather than raw httpx because it already does
what the Anthropic path relies on and would otherwise be re-implemented here: SSE
parsing (``data: ...`` / ``data: [DONE]``, error events inside a stream), retries with
backoff that honour ``Retry-After`` on 408/409/429/5xx and connection errors, typed
response objects, and per-request timeouts. It uses only the Chat Completions
endpoint, which every server above implements.

Settings (``flowpilot.toml``; the environment variables win)::

    [ai.openai_compat]
    base_url = "http://localhost:11434/v1"   # or FLOWPILOT_OPENAI_COMPAT_BASE_URL; required
    api_key = "..."                          # or FLOWPILOT_OPENAI_COMPAT_API_KEY; optional (local servers)
    max_retries = 2                          # SDK retries, 0-10
    timeout = 120                            # optional cap on each attempt's connect/first_byte

    [ai.openai_compat.tiers]                 # the models this server serves, per tier
    fast = "llama3.1:8b"
    balanced = "qwen2.5:32b"
    deep = "qwen2.5:72b"

Select it for everything with ``FLOWPILOT_MODEL_PROVIDER=openai_compat``, or per
service with ``[ai.services.<name>] provider = "openai_compat"``. See the README's
"Run FlowPilot on a local model" and docs/ai-layer.md. The SDK is imported when a
provider is built, not when the plugin loads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flowpilot_core import hookimpl
from flowpilot_core.ai.provider import ModelProvider


def create_provider(settings: Any = None) -> ModelProvider:
    """Build the OpenAI-compatible provider from FlowPilot settings (a ``Settings`` object or a mapping)."""
    from flowpilot_openai_compat.provider import OpenAICompatProvider

    return OpenAICompatProvider.from_settings(settings)


@hookimpl
def register_model_providers(register: Callable[..., None]) -> None:
    """Contribute the ``openai_compat`` model provider."""
    register("openai_compat", create_provider)


__all__ = ["create_provider", "register_model_providers"]
