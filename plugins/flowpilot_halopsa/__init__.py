"""Built-in plugin: the ``halopsa`` PSA provider (HaloPSA's REST API, on httpx).

A connection's config is :class:`flowpilot_halopsa.config.Config`::

    {"site": "acme.halopsa.com", "tenant": "acme", "client_id": "...", "client_secret": "..."}

The factory validates it (a bad config is a 422 naming ``config`` before anything is
stored) and builds a :class:`~flowpilot_halopsa.provider.HaloPSAProvider`; no request is
made until the writeback calls it. :mod:`flowpilot_halopsa.testing` is a faithful fake of
the API (a real HTTP server with its token endpoint) with fault injection. See README.md in
this package for what is verified against Halo's documentation and what is not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from flowpilot_core import hookimpl

PROVIDER_NAME = "halopsa"


def create_provider(config: dict[str, Any]) -> Any:
    """A provider for one connection's config; ``ValueError`` naming the key when it is not valid."""
    from flowpilot_halopsa.config import Config
    from flowpilot_halopsa.provider import HaloPSAProvider

    try:
        parsed = msgspec.convert(config, Config)
    except msgspec.ValidationError as exc:
        raise ValueError(str(exc)) from None  # msgspec names the key (`$.client_secret`), never the value
    return HaloPSAProvider(parsed)


@hookimpl
def register_psa_providers(register: Callable[..., None]) -> None:
    """Contribute the ``halopsa`` PSA provider."""
    register(PROVIDER_NAME, create_provider)


__all__ = ["PROVIDER_NAME", "create_provider", "register_psa_providers"]
