"""The AI gateway: what FlowPilot services hold to make AI calls for an account.

It resolves the account's policy (deployment ``[ai]`` config plus the account's
``ai`` preference overrides) and MCP servers, then goes through ``chat_call_cached``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from flowpilot_core import mcp
from flowpilot_core.account_settings import get_setting
from flowpilot_core.ai.policy import AIPolicy
from flowpilot_core.ai.provider import ModelProvider, UsageSink, chat_call_cached, chat_call_cached_stream
from flowpilot_core.ai.types import CallSpec, Completion


@dataclass
class AIGateway:
    provider: ModelProvider
    policy: AIPolicy
    usage_sink: UsageSink
    secret_key: str

    async def _resolve(self, db: AsyncSession, account_id: uuid.UUID) -> tuple[AIPolicy, list[dict[str, Any]]]:
        overrides = await get_setting(db, account_id, "ai", None)
        policy = self.policy.with_overrides(overrides) if overrides else self.policy
        servers = await mcp.connector_definitions(db, account_id, self.secret_key)
        return policy, servers

    async def call(self, db: AsyncSession, account_id: uuid.UUID, spec: CallSpec) -> Completion:
        policy, servers = await self._resolve(db, account_id)
        return await chat_call_cached(
            spec, provider=self.provider, policy=policy, usage_sink=self.usage_sink, mcp_servers=servers
        )

    async def stream(self, db: AsyncSession, account_id: uuid.UUID, spec: CallSpec) -> AsyncIterator[str | Completion]:
        policy, servers = await self._resolve(db, account_id)
        async for item in chat_call_cached_stream(
            spec, provider=self.provider, policy=policy, usage_sink=self.usage_sink, mcp_servers=servers
        ):
            yield item
