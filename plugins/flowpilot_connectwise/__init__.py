"""Built-in plugin: the ``connectwise`` PSA provider (ConnectWise PSA / Manage REST API 3.0, on httpx).

A connection's config is :class:`flowpilot_connectwise.config.Config`::

    {"site": "api-na.myconnectwise.net", "company": "acme", "public_key": "...",
     "private_key": "...", "client_id": "<GUID>"}

The factory validates it (a bad config is a 422 naming ``config`` before anything is
stored) and builds a :class:`~flowpilot_connectwise.provider.ConnectWiseProvider`; no
request is made until the writeback calls it. :mod:`flowpilot_connectwise.testing` is a
faithful fake of the API (a real HTTP server) with fault injection. See README.md in
this package for what is verified against ConnectWise's documentation and what is not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from flowpilot_core import hookimpl

PROVIDER_NAME = "connectwise"


def create_provider(config: dict[str, Any]) -> Any:
    """A provider for one connection's config; ``ValueError`` naming the key when it is not valid."""
    from flowpilot_connectwise.config import Config
    from flowpilot_connectwise.provider import ConnectWiseProvider

    try:
        parsed = msgspec.convert(config, Config)
    except msgspec.ValidationError as exc:
        raise ValueError(str(exc)) from None  # msgspec names the key (`$.client_id`), never the value
    return ConnectWiseProvider(parsed)


@hookimpl
def register_psa_providers(register: Callable[..., None]) -> None:
    """Contribute the ``connectwise`` PSA provider."""
    register(PROVIDER_NAME, create_provider)


__all__ = ["PROVIDER_NAME", "create_provider", "register_psa_providers"]
