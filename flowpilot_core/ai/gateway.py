"""The AI gateway: what FlowPilot services hold to make AI calls for an account.

``await gateway.bind(db, account_id)`` resolves the account's policy (deployment
``[ai]`` config plus the account's ``ai`` preference overrides) and MCP servers in the
caller's transaction; the returned :class:`BoundAI` then calls the model through
``chat_call_cached`` without holding any database transaction open.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from flowpilot_core.accounts import mcp
from flowpilot_core.accounts.settings import get_setting
from flowpilot_core.ai.policy import AIPolicy
from flowpilot_core.ai.provider import ModelProvider, UsageSink, chat_call_cached, chat_call_cached_stream
from flowpilot_core.ai.types import CallSpec, Completion


@dataclass(frozen=True)
class BoundAI:
    """AI calls for one account: its policy and its MCP servers, resolved once."""

    provider: ModelProvider
    policy: AIPolicy
    usage_sink: UsageSink
    mcp_servers: tuple[dict[str, Any], ...]

    async def call(self, spec: CallSpec) -> Completion:
        return await chat_call_cached(
            spec, provider=self.provider, policy=self.policy, usage_sink=self.usage_sink, mcp_servers=self.mcp_servers
        )

    async def stream(self, spec: CallSpec) -> AsyncIterator[str | Completion]:
        async for item in chat_call_cached_stream(
            spec, provider=self.provider, policy=self.policy, usage_sink=self.usage_sink, mcp_servers=self.mcp_servers
        ):
            yield item


@dataclass
class AIGateway:
    provider: ModelProvider
    policy: AIPolicy
    usage_sink: UsageSink
    secret_key: str

    async def bind(self, db: AsyncSession, account_id: uuid.UUID) -> BoundAI:
        overrides = await get_setting(db, account_id, "ai", None)
        policy = self.policy.with_overrides(overrides) if overrides else self.policy
        servers = await mcp.connector_definitions(db, account_id, self.secret_key)
        return BoundAI(self.provider, policy, self.usage_sink, tuple(servers))
