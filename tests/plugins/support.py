"""Plugins for the plugin tests, each registered on a manager of the test's own, and the app around one."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pluggy
from flowpilot_server.app import create_app
from litestar import Litestar
from litestar.testing import AsyncTestClient

from flowpilot_core import hookimpl
from flowpilot_core.ai.layout import LaidOutCall
from flowpilot_core.ai.provider import StreamEvent, TextDelta
from flowpilot_core.ai.types import Completion, TokenUsage
from flowpilot_core.config import Settings
from flowpilot_core.db.engine import DatabaseUrls
from flowpilot_core.events import Event
from flowpilot_core.plugins import load_plugins, new_manager


def manager_with(*plugins: tuple[str, object]) -> pluggy.PluginManager:
    """FlowPilot's built-in plugins plus ``plugins`` (name, plugin), on a fresh manager."""
    manager = new_manager()
    assert load_plugins(manager) == []
    for name, plugin in plugins:
        manager.register(plugin, name=name)
    return manager


@asynccontextmanager
async def client_for(
    settings: Settings, db_urls: DatabaseUrls, manager: pluggy.PluginManager, **changes: Any
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """The FlowPilot server over the test database, with ``manager``'s plugins."""
    app = create_app(dataclasses.replace(settings, **changes), urls=db_urls, plugin_manager=manager)
    async with AsyncTestClient(app=app) as client:
        yield client


class EchoProvider:
    """A model provider a plugin contributes: replies ``echo: <the technician's message>``."""

    name = "echo"

    def __init__(self, prefix: str = "echo") -> None:
        self.prefix = prefix

    def _text(self, request: LaidOutCall) -> str:
        return f"{self.prefix}: {request.spec.request}"

    async def complete(self, request: LaidOutCall) -> Completion:
        text = self._text(request)
        return Completion(text=text, model=request.model, usage=TokenUsage(output_tokens=len(text.split())))

    async def stream(self, request: LaidOutCall) -> AsyncIterator[StreamEvent]:
        text = self._text(request)
        yield TextDelta(text)
        yield Completion(text=text, model=request.model, usage=TokenUsage(output_tokens=len(text.split())))


class EventRecorder:
    """A plugin that keeps every event it is given (an async handler: it must be awaited)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    @hookimpl
    async def track_event(self, event: Event) -> None:
        self.events.append(event)


class BrokenEventHandler:
    """A plugin whose event handler always raises."""

    @hookimpl
    def track_event(self, event: Event) -> None:
        raise RuntimeError(f"webhook down while handling {event.name}")


# -- installed plugins, for subprocess tests --------------------------------------------------


def install_plugin(site: Path, dist: str, entry_point: str, module: str, source: str) -> None:
    """Put a distribution ``dist`` with ``[flowpilot] entry_point = module`` on the path ``site``."""
    # The directory name is what importlib.metadata dedups on: "-" would cut it to "flowpilot".
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[flowpilot]\n{entry_point} = {module}\n")
    (site / f"{module}.py").write_text(textwrap.dedent(source))


def subprocess_env(site: Path, **extra: str) -> dict[str, str]:
    """The environment a user has: no FLOWPILOT_* of the test run, ``site`` importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWPILOT_", "ANTHROPIC_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(site), os.environ.get("PYTHONPATH", "")] if p)
    env.update(extra)
    return env


def run_flowpilot(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flowpilot_server.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )
