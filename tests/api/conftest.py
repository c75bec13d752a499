"""Fixtures for API tests that run FlowPilot against the real Anthropic SDK and the fake Messages API."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator

import pytest
from flowpilot_server.app import create_app
from litestar import Litestar
from litestar.testing import AsyncTestClient

from flowpilot_core.config import Settings
from flowpilot_core.db.engine import DatabaseUrls
from flowpilot_core.testing.fake_anthropic import FakeAnthropic
from tests.echo_model import EchoProvider

ANTHROPIC_TEST_KEY = "sk-ant-test-key"


@pytest.fixture
async def anthropic_app(
    settings: Settings, db_urls: DatabaseUrls
) -> AsyncIterator[tuple[AsyncTestClient[Litestar], FakeAnthropic]]:
    """A second app whose model provider is ``anthropic`` (the real SDK) pointed at a fresh fake."""
    with FakeAnthropic(api_key=ANTHROPIC_TEST_KEY) as fake:
        configured = dataclasses.replace(
            settings,
            model_provider="anthropic",
            anthropic_api_key=ANTHROPIC_TEST_KEY,
            anthropic_base_url=fake.url,
            ai={"anthropic": {"max_retries": 0}},  # a scripted 429 must reach the API, not an SDK retry
        )
        async with AsyncTestClient(app=create_app(configured, urls=db_urls)) as test_client:
            yield test_client, fake


@pytest.fixture
def echo(client: AsyncTestClient[Litestar]) -> Iterator[EchoProvider]:
    """The in-process app's model for one test: scripted chat replies, synthesis that echoes the answer."""
    runtime = client.app.state.runtime
    original = runtime.ai.provider
    provider = EchoProvider()
    runtime.ai.provider = provider
    yield provider
    runtime.ai.provider = original
