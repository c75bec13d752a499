"""What a running server holds: settings, the database engine, loaded plugins.

Built in the app's startup hook so the engine belongs to the event loop that serves
requests. Nothing here is per-process state that another replica would need.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from flowpilot_core.config import Settings, ensure_secret_key
from flowpilot_core.db.engine import DatabaseUrls, create_engine, make_sessionmaker, resolve_database
from flowpilot_core.plugins import PluginFailure, PluginRegistry, collect, load_plugins

log = logging.getLogger("flowpilot.server")


@dataclass
class Runtime:
    settings: Settings
    urls: DatabaseUrls
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    plugins: PluginRegistry
    plugin_failures: list[PluginFailure]

    @property
    def secret_key(self) -> str:
        assert self.settings.secret_key is not None
        return self.settings.secret_key

    @classmethod
    def start(cls, settings: Settings, urls: DatabaseUrls | None = None) -> Runtime:
        settings = ensure_secret_key(settings)
        urls = urls or resolve_database(settings)
        engine = create_engine(urls.app, pool_size=10, max_overflow=20)
        failures = load_plugins()
        for failure in failures:
            log.error("plugin %s is disabled: %s", failure.name, failure.error)
        return cls(
            settings=settings,
            urls=urls,
            engine=engine,
            sessionmaker=make_sessionmaker(engine),
            plugins=collect(),
            plugin_failures=list(failures),
        )

    async def close(self) -> None:
        await self.engine.dispose()
