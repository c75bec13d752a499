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
    """Build the offline provider (it takes no settings)."""
    from flowpilot_offline.provider import OfflineProvider

    return OfflineProvider()


@hookimpl
def register_model_providers(register: Callable[..., None]) -> None:
    """Contribute the ``offline`` model provider."""
    register("offline", create_provider)


__all__ = ["create_provider", "register_model_providers"]
