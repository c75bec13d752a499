"""Event delivery cost: what ``track_event`` adds to a committed unit of work, per event and plugin.

In process, no database: :class:`flowpilot_core.events.EventDispatcher` delivers
``SessionCreated`` events to 0, 1 and 5 plugins (sync and ``async def`` handlers that do
nothing), so the number is FlowPilot's own overhead (pluggy subset caller, awaiting,
the exception guard), not a plugin's work. Also prints the start-up cost of collecting
the built-in plugins' contributions.

Bounded: ``EVENTS`` events per configuration. The last line is
``event_delivery_us_per_event_plugin=<x>`` (5 async plugins).

Run from the repository root: ``.venv/bin/python bench/event_delivery.py``.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from flowpilot_core import hookimpl
from flowpilot_core.events import Event, EventDispatcher, SessionCreated
from flowpilot_core.plugins import collect, load_plugins, new_manager

EVENTS = 20_000


class SyncHandler:
    @hookimpl
    def track_event(self, event: Event) -> None:
        return None


class AsyncHandler:
    @hookimpl
    async def track_event(self, event: Event) -> None:
        return None


async def per_event_us(handler: type, plugins: int) -> float:
    manager = new_manager()
    for i in range(plugins):
        manager.register(handler(), name=f"handler-{i}")
    dispatcher = EventDispatcher(manager)
    account = uuid.uuid4()
    events = [SessionCreated(account_id=account, session_id=uuid.uuid4(), user_id=None) for _ in range(EVENTS)]
    start = time.perf_counter()
    await dispatcher.deliver(events)
    return (time.perf_counter() - start) / EVENTS * 1e6


async def main() -> None:
    manager = new_manager()
    load_plugins(manager)
    start = time.perf_counter()
    collect(manager)
    print(f"collect_builtin_plugins_ms={(time.perf_counter() - start) * 1e3:.2f}")
    last = 0.0
    for handler in (SyncHandler, AsyncHandler):
        for plugins in (0, 1, 5):
            us = await per_event_us(handler, plugins)
            print(f"{handler.__name__:<12} plugins={plugins}  {us:8.2f} us/event")
            if plugins:
                last = us / plugins
    print(f"event_delivery_us_per_event_plugin={last:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
