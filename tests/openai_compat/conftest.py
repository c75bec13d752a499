"""Fixtures: the fake OpenAI-compatible server, the real ``openai`` SDK provider, apps that use it."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from flowpilot_openai_compat.provider import OpenAICompatProvider
from flowpilot_openai_compat.testing import FakeOpenAICompat
from flowpilot_server.app import create_app
from litestar import Litestar
from litestar.testing import AsyncTestClient

from flowpilot_core.ai.policy import AIPolicy
from flowpilot_core.ai.provider import MemoryUsageSink
from flowpilot_core.config import Settings
from flowpilot_core.db.engine import DatabaseUrls

LOCAL_TIERS = {"fast": "llama3.1:8b", "balanced": "qwen2.5:32b", "deep": "qwen2.5:72b"}
LOCAL_KEY = "sk-local-test"


def local_policy(**config: Any) -> AIPolicy:
    """A policy whose openai_compat provider has its own (local) tiers."""
    return AIPolicy.from_config({"openai_compat": {"tiers": LOCAL_TIERS}, **config})


@pytest.fixture
def fake() -> Iterator[FakeOpenAICompat]:
    """A running fake server; caches prefixes from 64 tokens so short test prompts show hits."""
    with FakeOpenAICompat(min_cached_tokens=64) as server:
        yield server


@pytest.fixture
async def provider(fake: FakeOpenAICompat) -> AsyncIterator[OpenAICompatProvider]:
    """The real provider (real SDK) pointed at the fake, without SDK retries, without a key."""
    p = OpenAICompatProvider(base_url=fake.url, max_retries=0)
    yield p
    await p.aclose()


@pytest.fixture
def sink() -> MemoryUsageSink:
    return MemoryUsageSink()


def app_settings(settings: Settings, fake: FakeOpenAICompat, **overrides: Any) -> Settings:
    """Settings whose deployment provider is openai_compat, pointed at ``fake``."""
    table = {"base_url": fake.url, "max_retries": 0, "tiers": LOCAL_TIERS}
    return dataclasses.replace(settings, model_provider="openai_compat", ai={"openai_compat": table}, **overrides)


@pytest.fixture
async def openai_app(
    settings: Settings, db_urls: DatabaseUrls, fake: FakeOpenAICompat
) -> AsyncIterator[tuple[AsyncTestClient[Litestar], FakeOpenAICompat]]:
    """An app whose every service runs on the OpenAI-compatible provider (the real SDK) and the fake."""
    async with AsyncTestClient(app=create_app(app_settings(settings, fake), urls=db_urls)) as client:
        yield client, fake
