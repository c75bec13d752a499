"""Where built previews are kept: in the process (default) or in Redis, shared by every replica.

A key names one state of one session (``state_version``, lane digest, template and
redactor fingerprints), so a cached preview is never stale: a newer state is a new key.
Redis entries expire after a day; losing one only costs a render. A Redis that cannot be
reached is a cache miss (logged), never a failed preview.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Protocol

log = logging.getLogger("flowpilot.previews")


class PreviewCache(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def put(self, key: str, value: bytes) -> None: ...

    async def aclose(self) -> None: ...


class InProcessCache:
    """The most recent previews of this process (an LRU of ``capacity`` entries)."""

    def __init__(self, capacity: int = 512) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, bytes] = OrderedDict()

    async def get(self, key: str) -> bytes | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    async def put(self, key: str, value: bytes) -> None:
        self._items[key] = value
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    async def aclose(self) -> None:
        self._items.clear()


class RedisCache:
    """Previews in Redis (``FLOWPILOT_REDIS_URL``), shared by every FlowPilot process and replica."""

    PREFIX = "flowpilot:preview:"

    def __init__(self, url: str, *, ttl_seconds: int = 86_400, timeout: float = 0.5) -> None:
        from redis.asyncio import Redis

        self.ttl_seconds = ttl_seconds
        self._redis = Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._redis.get(self.PREFIX + key)
        except Exception as exc:  # the cache is an optimisation: never fail a preview for it
            log.warning("preview cache (Redis) unavailable: %s", exc)
            return None
        if value is None:
            return None
        return value.encode() if isinstance(value, str) else bytes(value)

    async def put(self, key: str, value: bytes) -> None:
        try:
            await self._redis.set(self.PREFIX + key, value, ex=self.ttl_seconds)
        except Exception as exc:
            log.warning("preview cache (Redis) unavailable: %s", exc)

    async def aclose(self) -> None:
        await self._redis.aclose()


def preview_cache(redis_url: str | None) -> PreviewCache:
    return RedisCache(redis_url) if redis_url else InProcessCache()
