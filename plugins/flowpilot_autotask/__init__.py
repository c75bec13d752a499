"""Built-in plugin: the ``autotask`` PSA provider (Autotask PSA REST API v1.0, on httpx).

A connection's config is :class:`flowpilot_autotask.config.Config`::

    {"username": "flowpilot@acme.example", "secret": "...", "integration_code": "..."}

The factory validates it (a bad config is a 422 naming ``config`` before anything is
stored) and builds a :class:`~flowpilot_autotask.provider.AutotaskProvider`; no request is
made until the writeback calls it. :mod:`flowpilot_autotask.testing` is a faithful fake of
the API (a real HTTP server) with fault injection. See README.md in this package for what
is verified against Autotask's documentation and what is not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from flowpilot_core import hookimpl

PROVIDER_NAME = "autotask"


def create_provider(config: dict[str, Any]) -> Any:
    """A provider for one connection's config; ``ValueError`` naming the key when it is not valid."""
    from flowpilot_autotask.config import Config
    from flowpilot_autotask.provider import AutotaskProvider

    try:
        parsed = msgspec.convert(config, Config)
    except msgspec.ValidationError as exc:
        raise ValueError(str(exc)) from None  # msgspec names the key (`$.secret`), never the value
    return AutotaskProvider(parsed)


@hookimpl
def register_psa_providers(register: Callable[..., None]) -> None:
    """Contribute the ``autotask`` PSA provider."""
    register(PROVIDER_NAME, create_provider)


__all__ = ["PROVIDER_NAME", "create_provider", "register_psa_providers"]
