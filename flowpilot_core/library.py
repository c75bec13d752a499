"""``FlowPilot``: the library wired up, for Python callers and for the server alike.

::

    from flowpilot_core.library import FlowPilot

    fp = await FlowPilot.open()            # settings from env / flowpilot.toml; embedded DB if none
    turn = await fp.chat.post_message(principal, session_id, ChatRequest(content="..."))
    await fp.close()

It holds the settings, the database engine (application role), the loaded plugins, the
AI gateway and the services (``chat``, ``answers``). Create it on the event loop that
will use it: the engine's connections belong to that loop. Nothing in it is state that
another process or replica would need.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from flowpilot_core.ai.gateway import AIGateway
from flowpilot_core.ai.policy import AIPolicy
from flowpilot_core.ai.provider import provider_from_registry
from flowpilot_core.config import ConfigError, Settings, ensure_secret_key
from flowpilot_core.db.engine import DatabaseUrls, create_engine, make_sessionmaker, resolve_database
from flowpilot_core.plugins import PluginFailure, PluginRegistry, collect, load_plugins
from flowpilot_core.sessions.answers import AnswerService
from flowpilot_core.sessions.chat import ChatService
from flowpilot_core.usage import PostgresUsageSink, UsageMetrics

log = logging.getLogger("flowpilot")


@dataclass
class FlowPilot:
    settings: Settings
    urls: DatabaseUrls
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    plugins: PluginRegistry
    plugin_failures: list[PluginFailure]
    metrics: UsageMetrics
    ai: AIGateway
    chat: ChatService
    answers: AnswerService

    @property
    def secret_key(self) -> str:
        assert self.settings.secret_key is not None
        return self.settings.secret_key

    @classmethod
    def start(cls, settings: Settings, urls: DatabaseUrls | None = None) -> FlowPilot:
        """Wire everything for an already migrated database (see :meth:`open` to migrate too)."""
        settings = ensure_secret_key(settings)
        urls = urls or resolve_database(settings)
        engine = create_engine(urls.app, pool_size=10, max_overflow=20)
        failures = load_plugins()
        for failure in failures:
            log.error("plugin %s is disabled: %s", failure.name, failure.error)
        plugins = collect()
        sessionmaker = make_sessionmaker(engine)
        metrics = UsageMetrics()
        assert settings.secret_key is not None
        ai = AIGateway(
            provider=build_model_provider(settings, plugins),
            policy=load_ai_policy(settings),
            usage_sink=PostgresUsageSink(sessionmaker, metrics),
            secret_key=settings.secret_key,
        )
        return cls(
            settings=settings,
            urls=urls,
            engine=engine,
            sessionmaker=sessionmaker,
            plugins=plugins,
            plugin_failures=list(failures),
            metrics=metrics,
            ai=ai,
            chat=ChatService(sessionmaker, ai, plugins.marker_parsers),
            answers=AnswerService(sessionmaker, ai),
        )

    @classmethod
    async def open(cls, settings: Settings | None = None, *, migrate: bool = True) -> FlowPilot:
        """Load settings, start the embedded database if none is configured, migrate, and wire up."""
        from flowpilot_core.config import load_settings
        from flowpilot_core.db import migrate as migrations

        settings = ensure_secret_key(settings or load_settings())
        urls = resolve_database(settings)
        if migrate:
            await migrations.upgrade(
                urls.owner, app_db_role=settings.app_db_role, app_db_password=settings.app_db_password
            )
        return cls.start(settings, urls)

    async def close(self) -> None:
        closer = getattr(self.ai.provider, "aclose", None)
        if closer is not None:
            await closer()
        sink_closer = getattr(self.ai.usage_sink, "aclose", None)
        if sink_closer is not None:  # stores usage rows still waiting for the database
            await sink_closer()
        await self.engine.dispose()


def load_ai_policy(settings: Settings) -> AIPolicy:
    """The deployment's AI policy; a bad ``[ai]`` value is a configuration error naming its key."""
    try:
        return AIPolicy.from_config(settings.ai)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def build_model_provider(settings: Settings, plugins: PluginRegistry) -> Any:
    name = settings.effective_model_provider
    try:
        return provider_from_registry(plugins, name, settings)
    except ValueError as exc:
        raise ConfigError(f"FLOWPILOT_MODEL_PROVIDER: {exc}") from None
