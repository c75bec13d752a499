"""``FlowPilot``: the library wired up, for Python callers and for the server alike.

::

    from flowpilot_core.library import FlowPilot

    fp = await FlowPilot.open()            # settings from env / flowpilot.toml; embedded DB if none
    turn = await fp.chat.post_message(principal, session_id, ChatRequest(content="..."))
    await fp.close()

It holds the settings, the database engine (application role), the plugin manager and
what its plugins contributed, the AI gateway and the services (``chat``, ``answers``).
Units of work made by its ``sessionmaker`` deliver their lifecycle events
(:mod:`flowpilot_core.events`) to the plugins after they commit. Create it on the event loop that
will use it: the engine's connections belong to that loop. Nothing in it is state that
another process or replica would need.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pluggy
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from flowpilot_core.ai.gateway import AIGateway, ProviderPool
from flowpilot_core.ai.policy import AIPolicy
from flowpilot_core.ai.provider import provider_from_registry
from flowpilot_core.config import ConfigError, Settings, ensure_secret_key
from flowpilot_core.db.engine import DatabaseUrls, create_app_engine, make_sessionmaker, resolve_database
from flowpilot_core.db.pool_metrics import register_pool_metrics
from flowpilot_core.events import EventDispatcher
from flowpilot_core.plugins import PluginFailure, PluginRegistry, collect, load_plugins, pm
from flowpilot_core.previews import PreviewMetrics, PreviewService, WordingService
from flowpilot_core.previews.cache import preview_cache
from flowpilot_core.psa import request_budget
from flowpilot_core.psa.metrics import PsaMetrics, metered_factories
from flowpilot_core.sessions.answers import AnswerService
from flowpilot_core.sessions.chat import ChatService
from flowpilot_core.usage import PostgresUsageSink, UsageMetrics
from flowpilot_core.writeback import WritebackService

log = logging.getLogger("flowpilot")


@dataclass
class FlowPilot:
    settings: Settings
    urls: DatabaseUrls
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    plugin_manager: pluggy.PluginManager
    plugins: PluginRegistry
    plugin_failures: list[PluginFailure]
    metrics: UsageMetrics
    ai: AIGateway
    chat: ChatService
    answers: AnswerService
    previews: PreviewService
    wording: WordingService
    writeback: WritebackService

    @property
    def secret_key(self) -> str:
        assert self.settings.secret_key is not None
        return self.settings.secret_key

    @classmethod
    def start(
        cls,
        settings: Settings,
        urls: DatabaseUrls | None = None,
        *,
        plugin_manager: pluggy.PluginManager | None = None,
    ) -> FlowPilot:
        """Wire everything for an already migrated database (see :meth:`open` to migrate too).

        Without ``plugin_manager`` the process-wide one is loaded from the entry points
        (:func:`flowpilot_core.plugins.load_plugins`); a given manager is used as it is.
        """
        settings = ensure_secret_key(settings)
        urls = urls or resolve_database(settings)
        if plugin_manager is None:
            plugin_manager = pm
            failures = load_plugins(pm)
        else:
            failures = []
        for failure in failures:
            log.error("plugin %s is disabled: %s", failure.name, failure.error)
        plugins = collect(plugin_manager)
        provider = build_model_provider(settings, plugins)  # before the engine: a bad name leaks nothing
        policy = load_ai_policy(settings)
        pool = build_service_providers(settings, plugins, policy)
        engine = create_app_engine(settings, urls.app)
        sessionmaker = make_sessionmaker(engine, events=EventDispatcher(plugin_manager))
        metrics = UsageMetrics()
        register_pool_metrics(metrics.registry, engine, limit=settings.db_pool_size + settings.db_max_overflow)
        # Every provider the runtime builds reports its calls on /metrics (psa/metrics.py).
        plugins.psa_providers = metered_factories(plugins.psa_providers, PsaMetrics(metrics.registry))
        assert settings.secret_key is not None
        ai = AIGateway(
            provider=provider,
            policy=policy,
            usage_sink=PostgresUsageSink(sessionmaker, metrics),
            secret_key=settings.secret_key,
            pool=pool,
            default_name=settings.effective_model_provider,
        )
        previews = PreviewService(PreviewMetrics(metrics.registry), cache=preview_cache(settings.redis_url))
        request_budget.use_redis(settings.redis_url)  # PSA plugins' request budgets: shared by every replica
        return cls(
            settings=settings,
            urls=urls,
            engine=engine,
            sessionmaker=sessionmaker,
            plugin_manager=plugin_manager,
            plugins=plugins,
            plugin_failures=list(failures),
            metrics=metrics,
            ai=ai,
            chat=ChatService(sessionmaker, ai, plugins.marker_parsers, plugins.marker_effects),
            answers=AnswerService(sessionmaker, ai),
            previews=previews,
            wording=WordingService(sessionmaker, previews, ai),
            writeback=WritebackService(sessionmaker, previews, plugins.psa_providers, settings.secret_key),
        )

    @classmethod
    async def open(
        cls,
        settings: Settings | None = None,
        *,
        migrate: bool = True,
        plugin_manager: pluggy.PluginManager | None = None,
    ) -> FlowPilot:
        """Load settings, start the embedded database if none is configured, migrate, and wire up."""
        from flowpilot_core.config import load_settings
        from flowpilot_core.db import migrate as migrations

        settings = ensure_secret_key(settings or load_settings())
        urls = resolve_database(settings)
        if migrate:
            await migrations.upgrade(
                urls.owner, app_db_role=settings.app_db_role, app_db_password=settings.app_db_password
            )
        return cls.start(settings, urls, plugin_manager=plugin_manager)

    async def close(self) -> None:
        await self.ai.aclose()
        sink_closer = getattr(self.ai.usage_sink, "aclose", None)
        if sink_closer is not None:  # stores usage rows still waiting for the database
            await sink_closer()
        await self.previews.cache.aclose()
        await request_budget.close_redis()
        await self.engine.dispose()


def load_ai_policy(settings: Settings) -> AIPolicy:
    """The deployment's AI policy; a bad ``[ai]`` value is a configuration error naming its key."""
    try:
        return AIPolicy.from_config(settings.ai)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def build_service_providers(settings: Settings, plugins: PluginRegistry, policy: AIPolicy) -> ProviderPool:
    """The pool of providers services may name; those the deployment's policy names are built now.

    A service naming an unregistered provider, or one whose settings are wrong, is a
    :class:`ConfigError` at start-up (an account naming one gets an error at call time).
    """
    pool = ProviderPool(plugins.model_providers, settings)
    named = [(f"ai.services.{name}", service) for name, service in sorted(policy.services.items())]
    named.append(("ai.default_service", policy.default_service))
    for key, service_policy in named:
        name = service_policy.provider
        if name is None or name == settings.effective_model_provider:
            continue
        try:
            pool.get(name)
        except LookupError as exc:
            raise ConfigError(f"{key}.provider: {exc}") from None
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    return pool


def build_model_provider(settings: Settings, plugins: PluginRegistry) -> Any:
    """The configured model provider; an unknown name is a :class:`ConfigError` naming the registered ones."""
    name = settings.effective_model_provider
    if name not in plugins.model_providers:
        registered = ", ".join(sorted(plugins.model_providers)) or "none"
        raise ConfigError(
            f"FLOWPILOT_MODEL_PROVIDER: model provider {name!r} is not registered (registered: {registered})"
        )
    try:
        return provider_from_registry(plugins, name, settings)
    except ConfigError:
        raise
    except ValueError as exc:  # a provider's own settings ([ai.<name>] keys) are wrong; its message names the key
        raise ConfigError(str(exc)) from None
