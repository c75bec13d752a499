"""What the PSAs answer, on ``/metrics``: every provider call counted by its outcome and timed.

An MSP admin's first question when technicians report "the note did not post" is whether the PSA is
refusing FlowPilot (revoked credentials, a role without permission, a rate limit) or failing. The runtime
wraps each registered PSA factory (:func:`metered_factories`) so that every provider it builds, for the
writeback, a session opened on a ticket, ``psa test`` or a hosted sign-in, reports each call of the
:class:`~flowpilot_core.psa.provider.PSAProvider` protocol:

- ``flowpilot_psa_calls_total{provider, operation, outcome}``: ``ok``, or the PSA error's kind
  (``not_found``, ``auth_failed``, ``permission_denied``, ``rate_limited``, ``transient``, ``permanent``),
  ``error`` for anything else;
- ``flowpilot_psa_call_seconds{provider, operation}``: how long it took, whatever the outcome.

A provider's other attributes (``aclose``, a plugin's own helpers) pass through untouched, and one it
does not have stays missing, so an optional protocol (``closing_status``, ``HostedMemberVerifier``) is
still told apart by ``getattr`` and ``isinstance``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from flowpilot_core.hookspecs import PsaProviderFactory
from flowpilot_core.psa.errors import (
    PSAAuthFailed,
    PSAError,
    PSANotFound,
    PSAPermanent,
    PSAPermissionDenied,
    PSARateLimited,
    PSATransient,
)

OPERATIONS = frozenset(
    {
        "get_ticket",
        "list_notes",
        "post_note",
        "list_statuses",
        "set_status",
        "get_status",
        "check_connection",
        "closing_status",
        "verify_member",
    }
)
"""The calls that reach the PSA (the protocol's, and its optional ``closing_status`` and ``verify_member``)."""

# Most specific first: a rate limit is also transient.
_OUTCOMES: tuple[tuple[type[PSAError], str], ...] = (
    (PSARateLimited, "rate_limited"),
    (PSATransient, "transient"),
    (PSAAuthFailed, "auth_failed"),
    (PSAPermissionDenied, "permission_denied"),
    (PSANotFound, "not_found"),
    (PSAPermanent, "permanent"),
)


def outcome_of(exc: BaseException | None) -> str:
    if exc is None:
        return "ok"
    for kind, label in _OUTCOMES:
        if isinstance(exc, kind):
            return label
    return "error"


class PsaMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.calls = Counter(
            "flowpilot_psa_calls",
            "PSA provider calls by provider, operation and outcome",
            ("provider", "operation", "outcome"),
            registry=registry,
        )
        self.seconds = Histogram(
            "flowpilot_psa_call_seconds",
            "PSA provider call duration, whatever the outcome",
            ("provider", "operation"),
            registry=registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )

    def observe(self, provider: str, operation: str, seconds: float, exc: BaseException | None) -> None:
        self.calls.labels(provider, operation, outcome_of(exc)).inc()
        self.seconds.labels(provider, operation).observe(seconds)


class MeteredProvider:
    """``inner`` (a PSA provider built by the ``provider`` factory), its calls reported to ``metrics``."""

    def __init__(self, inner: Any, provider: str, metrics: PsaMetrics) -> None:
        self._inner, self._provider, self._metrics = inner, provider, metrics

    def __repr__(self) -> str:
        return repr(self._inner)

    def __getattr__(self, name: str) -> Any:
        if name in ("_inner", "_provider", "_metrics"):  # not set yet (a copy being built): never recurse
            raise AttributeError(name)
        attribute = getattr(self._inner, name)  # missing stays missing
        if name not in OPERATIONS or not callable(attribute):
            return attribute
        return self._metered(name, attribute)

    def _metered(self, operation: str, call: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def metered(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = await call(*args, **kwargs)
            except Exception as exc:  # a cancellation is not the PSA's answer: not counted
                self._metrics.observe(self._provider, operation, time.perf_counter() - started, exc)
                raise
            self._metrics.observe(self._provider, operation, time.perf_counter() - started, None)
            return result

        return metered


def metered_factories(factories: Mapping[str, PsaProviderFactory], metrics: PsaMetrics) -> dict[str, Any]:
    """``factories`` whose providers report their calls to ``metrics`` (the keyword arguments a factory
    takes, such as the built-in ``local`` one's ``context``, pass through)."""

    def metered(name: str, factory: PsaProviderFactory) -> Callable[..., Any]:
        def build(config: dict[str, Any], **kwargs: Any) -> Any:
            return MeteredProvider(factory(config, **kwargs), name, metrics)

        return build

    return {name: metered(name, factory) for name, factory in factories.items()}
