"""The AI gateway: what FlowPilot services hold to make AI calls for an account.

``await gateway.bind(db, account_id)`` resolves the account's policy (deployment
``[ai]`` config plus the account's ``ai`` preference overrides) and MCP servers in the
caller's transaction; the returned :class:`BoundAI` then calls the model through
``chat_call_cached`` without holding any database transaction open.

A service is served by the deployment's provider (``FLOWPILOT_MODEL_PROVIDER``, the
gateway's :attr:`AIGateway.provider`) unless its policy names another
(``[ai.services.<name>] provider = "..."``); those are built on first use from the
plugin registry (:class:`ProviderPool`) and shared by every account.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from flowpilot_core.accounts import mcp
from flowpilot_core.accounts.settings import get_setting
from flowpilot_core.ai.errors import AIProviderMissing
from flowpilot_core.ai.policy import AIPolicy
from flowpilot_core.ai.provider import ModelProvider, UsageSink, chat_call_cached, chat_call_cached_stream
from flowpilot_core.ai.types import CallSpec, Completion


class ProviderPool:
    """The providers services name in their policy, built once from their plugin factories."""

    def __init__(self, factories: Mapping[str, Callable[..., ModelProvider]], settings: Any = None) -> None:
        self.factories = dict(factories)
        self.settings = settings
        self.built: dict[str, ModelProvider] = {}

    def get(self, name: str) -> ModelProvider:
        """Provider ``name``, built on first use.

        Raises ``LookupError`` if no plugin registers it, ``ValueError`` if its settings are bad.
        """
        if name not in self.built:
            if name not in self.factories:
                available = ", ".join(sorted(self.factories)) or "none"
                raise LookupError(f"model provider {name!r} is not registered (registered: {available})")
            self.built[name] = self.factories[name](self.settings)
        return self.built[name]

    async def aclose(self) -> None:
        """Close every provider built here that has an ``aclose``."""
        for provider in self.built.values():
            closer = getattr(provider, "aclose", None)
            if closer is not None:
                await closer()
        self.built.clear()


@dataclass(frozen=True)
class BoundAI:
    """AI calls for one account: its policy and its MCP servers, resolved once."""

    provider: ModelProvider
    """The deployment's provider: serves every service whose policy names none."""
    policy: AIPolicy
    usage_sink: UsageSink
    mcp_servers: tuple[dict[str, Any], ...]
    pool: ProviderPool | None = None
    default_name: str | None = None

    def provider_for(self, service: str) -> ModelProvider:
        """The provider serving ``service``: the one its policy names, else the deployment's."""
        name = self.policy.provider_for(service)
        if name is None or name == self.default_name or (self.pool is None and name == self.provider.name):
            return self.provider
        if self.pool is None:
            raise AIProviderMissing(service, name, "no other provider is available here")
        try:
            return self.pool.get(name)
        except (LookupError, ValueError) as exc:
            raise AIProviderMissing(service, name, str(exc)) from None

    async def call(self, spec: CallSpec) -> Completion:
        return await chat_call_cached(
            spec,
            provider=self.provider_for(spec.service),
            policy=self.policy,
            usage_sink=self.usage_sink,
            mcp_servers=self.mcp_servers,
        )

    async def stream(self, spec: CallSpec) -> AsyncIterator[str | Completion]:
        async for item in chat_call_cached_stream(
            spec,
            provider=self.provider_for(spec.service),
            policy=self.policy,
            usage_sink=self.usage_sink,
            mcp_servers=self.mcp_servers,
        ):
            yield item


@dataclass
class AIGateway:
    provider: ModelProvider
    policy: AIPolicy
    usage_sink: UsageSink
    secret_key: str
    pool: ProviderPool | None = None
    """Where providers named by a service's policy come from (``None``: only :attr:`provider`)."""
    default_name: str | None = field(default=None)
    """The name :attr:`provider` is registered under (``FLOWPILOT_MODEL_PROVIDER``)."""

    async def bind(self, db: AsyncSession, account_id: uuid.UUID) -> BoundAI:
        overrides = await get_setting(db, account_id, "ai", None)
        policy = self.policy.with_overrides(overrides) if overrides else self.policy
        servers = await mcp.connector_definitions(db, account_id, self.secret_key)
        return BoundAI(self.provider, policy, self.usage_sink, tuple(servers), self.pool, self.default_name)

    async def aclose(self) -> None:
        """Close the deployment's provider and every provider a service's policy made the pool build."""
        closer = getattr(self.provider, "aclose", None)
        if closer is not None:
            await closer()
        if self.pool is not None:
            await self.pool.aclose()
