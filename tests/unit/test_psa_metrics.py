"""The metered PSA provider (``flowpilot_core.psa.metrics``) is the provider it wraps, plus its counts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from flowpilot_core.psa import PSAProvider
from flowpilot_core.psa.errors import PSANotFound, PSARateLimited
from flowpilot_core.psa.metrics import MeteredProvider, PsaMetrics, metered_factories, outcome_of
from flowpilot_core.psa.provider import HostedMemberVerifier
from flowpilot_core.testing.fake_psa import FakePSA


def count(registry: CollectorRegistry, operation: str, outcome: str) -> float:
    value = registry.get_sample_value(
        "flowpilot_psa_calls_total", {"provider": "fake", "operation": operation, "outcome": outcome}
    )
    return value or 0.0


def test_outcomes_name_the_most_specific_psa_error() -> None:
    assert outcome_of(None) == "ok"
    assert outcome_of(PSARateLimited("slow down", retry_after=3)) == "rate_limited"  # also a PSATransient
    assert outcome_of(PSANotFound("no such ticket")) == "not_found"
    assert outcome_of(ValueError("a bug")) == "error"


async def test_a_metered_provider_counts_its_calls_and_keeps_what_it_lacks_missing() -> None:
    registry = CollectorRegistry()
    fake = FakePSA()
    fake.add_ticket("T-1", "Printing down")
    factories = metered_factories({"fake": lambda config, **kwargs: fake}, PsaMetrics(registry))
    provider: Any = factories["fake"]({"api_key": "k"})
    assert isinstance(provider, MeteredProvider) and isinstance(provider, PSAProvider)
    assert (await provider.get_ticket("T-1")).summary == "Printing down"
    with pytest.raises(PSANotFound):
        await provider.get_ticket("T-404")
    assert count(registry, "get_ticket", "ok") == 1 and count(registry, "get_ticket", "not_found") == 1
    assert not isinstance(provider, HostedMemberVerifier)  # the fake cannot confirm a hosted member
    assert getattr(provider, "verify_member", None) is None
    await provider.aclose()  # passed through, not counted
    assert (
        registry.get_sample_value("flowpilot_psa_call_seconds_count", {"provider": "fake", "operation": "aclose"})
        is None
    )


async def test_a_cancelled_call_is_not_counted_as_the_psas_answer() -> None:
    registry = CollectorRegistry()

    class Slow:
        async def get_ticket(self, ref: str) -> None:
            await asyncio.sleep(10)

    provider: Any = MeteredProvider(Slow(), "fake", PsaMetrics(registry))
    task = asyncio.create_task(provider.get_ticket("T-1"))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (
        registry.get_sample_value("flowpilot_psa_call_seconds_count", {"provider": "fake", "operation": "get_ticket"})
        is None
    )
