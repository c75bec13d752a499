"""An example FlowPilot PSA plugin: the ``tinydesk`` provider for the (fictional) TinyDesk PSA.

A PSA vendor copies this distribution to build a fourth PSA: the hook below registers a
factory, :mod:`flowpilot_tinydesk.provider` implements :class:`flowpilot_core.psa.PSAProvider`
on httpx, :mod:`flowpilot_tinydesk.testing` is a fake of the API (a real HTTP server), and
``tests/test_conformance.py`` runs FlowPilot's conformance kit against the two.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from flowpilot_core import hookimpl

PROVIDER_NAME = "tinydesk"


def create_provider(config: dict[str, Any]) -> Any:
    """A provider for one connection's config; ``ValueError`` naming the key when it is not valid."""
    from flowpilot_tinydesk.provider import Config, TinyDeskProvider

    try:
        parsed = msgspec.convert(config, Config)
    except msgspec.ValidationError as exc:
        raise ValueError(str(exc)) from None  # msgspec names the key, never the value
    return TinyDeskProvider(parsed)


@hookimpl
def register_psa_providers(register: Callable[..., None]) -> None:
    """Contribute the ``tinydesk`` PSA provider (``flowpilot psa add tinydesk …``)."""
    register(PROVIDER_NAME, create_provider)
