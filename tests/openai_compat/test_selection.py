"""Per-service provider selection: chat on a local model while ai-parse runs on Claude, and the other way round.

Both providers are real SDK clients against their fakes; usage rows say which provider
and model served each call.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest
from flowpilot_openai_compat.testing import FakeOpenAICompat
from flowpilot_server.app import create_app
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core.config import ConfigError, Settings
from flowpilot_core.db.engine import DatabaseUrls, tenant_session
from flowpilot_core.db.models import AiUsage
from flowpilot_core.library import FlowPilot
from flowpilot_core.testing import FakeAnthropic
from tests.api.test_ai_parse_api import MODEL_DRAFT, OUTLOOK_TEXT
from tests.conftest import Tenant

from .conftest import LOCAL_TIERS

Client = AsyncTestClient[Litestar]
ANTHROPIC_KEY = "sk-ant-test-key"


def _settings(
    settings: Settings, local: FakeOpenAICompat, claude: FakeAnthropic, *, default: str, services: dict[str, Any]
) -> Settings:
    return dataclasses.replace(
        settings,
        model_provider=default,
        anthropic_api_key=ANTHROPIC_KEY,
        anthropic_base_url=claude.url,
        ai={
            "anthropic": {"max_retries": 0},
            "openai_compat": {"base_url": local.url, "max_retries": 0, "tiers": LOCAL_TIERS},
            "services": services,
        },
    )


@pytest.fixture
def claude() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(api_key=ANTHROPIC_KEY) as server:
        yield server


async def _chat_and_parse(client: Client, tenant: Tenant) -> None:
    body = {"problem_statement": "Nobody can print", "ticket": {"summary": "Printing down"}}
    sid = (await client.post("/api/v1/ai-sessions", json=body, headers=tenant.headers())).json()["id"]
    turn = await client.post(f"/api/v1/ai-sessions/{sid}/messages", json={"content": "hi"}, headers=tenant.headers())
    assert turn.status_code == 200, turn.text
    parsed = await client.post("/api/v1/tickets/ai-parse", json={"text": OUTLOOK_TEXT}, headers=tenant.headers())
    assert parsed.status_code == 200, parsed.text


async def _served(sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant) -> list[tuple[str, str, str]]:
    async with tenant_session(sessionmaker, tenant.account_id) as db:
        rows = (await db.execute(select(AiUsage).order_by(AiUsage.id))).scalars().all()
    return [(r.service, r.provider, r.model) for r in rows]


async def test_chat_on_a_local_model_while_ai_parse_runs_on_claude(
    settings: Settings,
    db_urls: DatabaseUrls,
    fake: FakeOpenAICompat,
    claude: FakeAnthropic,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    configured = _settings(
        settings, fake, claude, default="anthropic", services={"chat": {"provider": "openai_compat"}}
    )
    claude.queue_reply(json.dumps(MODEL_DRAFT))
    async with AsyncTestClient(app=create_app(configured, urls=db_urls)) as client:
        await _chat_and_parse(client, tenant)
    assert [r.json["model"] for r in fake.completion_requests] == [LOCAL_TIERS["balanced"]]
    assert [r.json["model"] for r in claude.message_requests] == ["claude-haiku-4-5"]
    assert await _served(sessionmaker, tenant) == [
        ("chat", "openai_compat", LOCAL_TIERS["balanced"]),
        ("ai_parse", "anthropic", "claude-haiku-4-5"),
    ]


async def test_the_other_way_round_chat_on_claude_and_ai_parse_local(
    settings: Settings,
    db_urls: DatabaseUrls,
    fake: FakeOpenAICompat,
    claude: FakeAnthropic,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    configured = _settings(
        settings, fake, claude, default="openai_compat", services={"chat": {"provider": "anthropic"}}
    )
    fake.queue_reply(json.dumps(MODEL_DRAFT))
    async with AsyncTestClient(app=create_app(configured, urls=db_urls)) as client:
        await _chat_and_parse(client, tenant)
    assert await _served(sessionmaker, tenant) == [
        ("chat", "anthropic", "claude-sonnet-4-6"),
        ("ai_parse", "openai_compat", LOCAL_TIERS["fast"]),
    ]


async def test_an_account_moves_its_chat_to_the_local_model(
    settings: Settings,
    db_urls: DatabaseUrls,
    fake: FakeOpenAICompat,
    claude: FakeAnthropic,
    tenant: Tenant,
    other_tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    configured = _settings(settings, fake, claude, default="anthropic", services={})
    claude.reply = json.dumps(MODEL_DRAFT)
    async with AsyncTestClient(app=create_app(configured, urls=db_urls)) as client:
        override = {"services": {"chat": {"provider": "openai_compat"}}, "openai_compat": {"tiers": LOCAL_TIERS}}
        patched = await client.patch("/api/v1/account/settings", json={"ai": override}, headers=tenant.api_headers)
        assert patched.status_code == 200, patched.text
        await _chat_and_parse(client, tenant)
        await _chat_and_parse(client, other_tenant)
    assert [s[:2] for s in await _served(sessionmaker, tenant)] == [
        ("chat", "openai_compat"),
        ("ai_parse", "anthropic"),
    ]
    assert [s[:2] for s in await _served(sessionmaker, other_tenant)] == [
        ("chat", "anthropic"),
        ("ai_parse", "anthropic"),
    ]


async def test_an_account_naming_a_provider_this_server_lacks_gets_a_clear_503(client: Client, tenant: Tenant) -> None:
    bad = await client.patch(
        "/api/v1/account/settings",
        json={"ai": {"services": {"chat": {"provider": "Vertex AI"}}}},
        headers=tenant.api_headers,
    )
    assert bad.status_code == 422 and "ai.services.chat.provider: 'Vertex AI' is not a provider name" in bad.text
    patched = await client.patch(
        "/api/v1/account/settings",
        json={"ai": {"services": {"chat": {"provider": "vertex"}}}},
        headers=tenant.api_headers,
    )
    assert patched.status_code == 200
    body = {"problem_statement": "Nobody can print", "ticket": {"summary": "Printing down"}}
    sid = (await client.post("/api/v1/ai-sessions", json=body, headers=tenant.headers())).json()["id"]
    turn = await client.post(f"/api/v1/ai-sessions/{sid}/messages", json={"content": "hi"}, headers=tenant.headers())
    assert turn.status_code == 503
    problem = turn.json()
    assert problem["retryable"] is False
    assert problem["detail"].startswith("The AI provider 'vertex' chosen for chat is not available on this server.")


def test_a_deployment_naming_an_unregistered_provider_does_not_start(settings: Settings, db_urls: DatabaseUrls) -> None:
    configured = dataclasses.replace(settings, ai={"services": {"chat": {"provider": "vertex"}}})
    with pytest.raises(ConfigError, match=r"^ai\.services\.chat\.provider: model provider 'vertex' is not registered"):
        FlowPilot.start(configured, db_urls)


def test_a_service_on_openai_compat_without_a_base_url_does_not_start(
    settings: Settings, db_urls: DatabaseUrls
) -> None:
    configured = dataclasses.replace(settings, ai={"services": {"ai_parse": {"provider": "openai_compat"}}})
    with pytest.raises(ConfigError, match=r"^ai\.openai_compat\.base_url: required"):
        FlowPilot.start(configured, db_urls)
