"""Built-in plugin: the ``offline`` model provider (deterministic, no network).

For demos, development without an API key, and tests. Replies come from
:func:`flowpilot_offline.brain.respond` (rule-based playbooks); usage is estimated
locally and marked ``estimated=True``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flowpilot_core import hookimpl
from flowpilot_core.ai.provider import ModelProvider


def create_provider(settings: Any = None) -> ModelProvider:
    """Build the offline provider; ``[ai.offline] stream_delay_ms`` paces streamed words (default 0)."""
    from flowpilot_offline.provider import OfflineProvider

    table = (getattr(settings, "ai", None) or {}).get("offline", {}) if settings is not None else {}
    raw = table.get("stream_delay_ms", 0) if isinstance(table, dict) else 0
    try:
        delay = float(raw)
    except (TypeError, ValueError):
        from flowpilot_core.config import ConfigError

        raise ConfigError(f"ai.offline.stream_delay_ms: {raw!r} is not a number of milliseconds") from None
    return OfflineProvider(stream_delay_ms=delay)


@hookimpl
def register_model_providers(register: Callable[..., None]) -> None:
    """Contribute the ``offline`` model provider."""
    register("offline", create_provider)


__all__ = ["create_provider", "register_model_providers"]
