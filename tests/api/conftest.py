"""Fixtures for API tests that run FlowPilot against the real Anthropic SDK and the fake Messages API."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
from flowpilot_server.app import create_app
from litestar import Litestar
from litestar.testing import AsyncTestClient

from flowpilot_core.config import Settings
from flowpilot_core.db.engine import DatabaseUrls
from flowpilot_core.testing.fake_anthropic import FakeAnthropic

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
