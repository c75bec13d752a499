"""Built-in plugin: the ``anthropic`` model provider (official SDK, Messages API).

This package is the only place in FlowPilot that imports ``anthropic``; the rest of the
code talks to :class:`flowpilot_core.ai.provider.ModelProvider`. The SDK is imported
when a provider is built, not when the plugin loads, so FlowPilot starts fast and the
offline provider works without it.

Settings: ``ANTHROPIC_API_KEY`` / ``ANTHROPIC_BASE_URL`` (or ``anthropic_api_key`` /
``anthropic_base_url``), and in ``flowpilot.toml``::

    [ai.anthropic]
    max_retries = 2    # SDK retries on 408/409/429/5xx and connection errors, 0-10
    timeout = 120      # optional: caps each attempt's timeouts from [ai.timeouts]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flowpilot_core import hookimpl
from flowpilot_core.ai.provider import ModelProvider


def create_provider(settings: Any = None) -> ModelProvider:
    """Build the Anthropic provider from FlowPilot settings (a ``Settings`` object or a mapping)."""
    from flowpilot_anthropic.provider import AnthropicProvider

    return AnthropicProvider.from_settings(settings)


@hookimpl
def register_model_providers(register: Callable[..., None]) -> None:
    """Contribute the ``anthropic`` model provider."""
    register("anthropic", create_provider)


__all__ = ["create_provider", "register_model_providers"]
