"""Fixtures of the AI-layer tests: the fake Messages API, the real SDK provider, usage sinks."""

from __future__ import annotations

import sys
import types
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from flowpilot_anthropic.provider import AnthropicProvider

from flowpilot_core.ai.provider import MemoryUsageSink
from flowpilot_core.ai.types import CallSpec
from flowpilot_core.testing import FakeAnthropic


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    """A running fake Messages API with a manual clock."""
    with FakeAnthropic() as server:
        yield server


@pytest.fixture
async def provider(fake: FakeAnthropic) -> AsyncIterator[AnthropicProvider]:
    """The real Anthropic provider (real SDK) pointed at the fake, without SDK retries."""
    p = AnthropicProvider(api_key="test-key", base_url=fake.url, max_retries=0)
    yield p
    await p.aclose()


@pytest.fixture
def sink() -> MemoryUsageSink:
    return MemoryUsageSink()


@pytest.fixture
def brain(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[CallSpec], str]], list[CallSpec]]:
    """Install a stand-in ``flowpilot_offline.brain`` whose ``respond`` is the given function.

    Returns the list of specs the brain was called with.
    """
    seen: list[CallSpec] = []

    def install(respond: Callable[[CallSpec], str]) -> list[CallSpec]:
        module = types.ModuleType("flowpilot_offline.brain")

        def wrapped(spec: CallSpec) -> str:
            seen.append(spec)
            return respond(spec)

        module.respond = wrapped  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "flowpilot_offline.brain", module)
        return seen

    return install
