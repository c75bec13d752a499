"""Request budgets and concurrency limits for a PSA's API, kept where every FlowPilot process sees them.

A PSA limits requests per tenant, not per FlowPilot process: hosted Halo allows 300 per rolling
5 minutes per instance, and Autotask 10,000 per rolling hour per database, shared with every other
integration. A plugin asks :func:`budget_for` for the budget of one tenant (a name it chooses, such
as ``"halopsa:<api url>:<client id>"``) and spends it before each request:

- without Redis it is a :class:`SlidingWindow` of this process, shared by every provider built for
  that name (the writeback builds a provider per confirmation, and the budget must outlive them);
- with ``FLOWPILOT_REDIS_URL`` set it is a :class:`SharedWindow` in Redis, so that N replicas with
  W workers each spend one budget, not N x W. Its times are Redis's clock (``TIME``), the one clock
  every process shares. A Redis that cannot be reached is not a failed PSA call: the request is
  counted in the process's own window instead (logged), which is what every process did before.

A request counts from when its answer arrived (:meth:`RequestBudget.settle`), not from when it was
sent: the server counts it somewhere in between, so counting from the send would free its place too
early. A 429 blocks the budget (:meth:`RequestBudget.block_for`) until its ``Retry-After`` has passed,
for every process, so that the next request waits instead of spending the window again.

Some PSAs also limit how many requests run at once (Autotask: 3 per endpoint per integration).
:func:`concurrency_for` gives such a limit, kept the same way: a :class:`LocalConcurrency` (a semaphore
per event loop) without Redis, a :class:`SharedConcurrency` with it. A place in Redis is a lease: a
process that dies holding one frees it when the lease ends.

The FlowPilot runtime chooses the store when it opens (:func:`use_redis`); a plugin only calls
:func:`budget_for` and :func:`concurrency_for` (and :func:`acquire` to wait for a budget's place).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

log = logging.getLogger("flowpilot.psa")


class _Unavailable:
    """Logs that Redis could not be reached, at most once a minute (not once per PSA request)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._warned_at = -float("inf")

    def __call__(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at > 60:
            self._warned_at = now
            log.warning("%s (Redis) unavailable, kept in this process only: %s", self.what, exc)


class Slot:
    """One counted request: the time it counts from, and its name in a shared window."""

    __slots__ = ("at", "key")

    def __init__(self, at: float, key: str = "") -> None:
        self.at, self.key = at, key


class RequestBudget(Protocol):
    """At most ``limit`` requests in any ``window`` seconds."""

    limit: int
    window: float

    async def wait_needed(self) -> float:
        """Seconds until one more request fits (0: now)."""
        ...

    async def take(self) -> Slot | float:
        """Count one request if it fits now (its :class:`Slot`), else the seconds until one fits (nothing is
        counted): one call, so that a shared budget answers both in one round trip."""
        ...

    async def settle(self, slot: Slot) -> None:
        """The request's answer arrived (or it failed): it counts from now."""
        ...

    async def block_for(self, seconds: float) -> None:
        """The server said to wait (a 429's ``Retry-After``): nothing is sent before then."""
        ...

    async def count_since(self, seconds_ago: float) -> int:
        """Requests counted in the last ``seconds_ago`` seconds (at most the window)."""
        ...


async def acquire(
    budget: RequestBudget, sleep: Callable[[float], Awaitable[None]], *, longest_wait: float = float("inf")
) -> Slot | float:
    """Wait (with ``sleep``) until a request fits, then count it; a wait longer than ``longest_wait`` is
    returned instead (nothing is counted), for the caller to refuse without sending."""
    while not isinstance(got := await budget.take(), Slot):
        if got > longest_wait:
            return got
        await sleep(max(got, 0.001))
    return got


class SlidingWindow:
    """A :class:`RequestBudget` kept in this process, on ``clock``."""

    def __init__(self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window = limit, window
        self.clock = clock
        self._sent: list[Slot] = []
        self._blocked_until = -float("inf")
        self._lock = threading.Lock()  # providers on different event loops (a test's, the app's) share one budget

    def _expire(self, now: float) -> None:
        self._sent = [slot for slot in self._sent if slot.at > now - self.window]

    def _wait(self, now: float) -> float:
        self._expire(now)
        wait = self._blocked_until - now
        if len(self._sent) >= self.limit:
            times = sorted(slot.at for slot in self._sent)
            wait = max(wait, times[len(times) - self.limit] + self.window - now)
        return max(0.0, wait)

    async def wait_needed(self) -> float:
        with self._lock:
            return self._wait(self.clock())

    async def take(self) -> Slot | float:
        with self._lock:
            now = self.clock()
            wait = self._wait(now)
            if wait > 0:
                return wait
            slot = Slot(now)
            self._sent.append(slot)
            return slot

    async def settle(self, slot: Slot) -> None:
        with self._lock:
            slot.at = max(slot.at, self.clock())

    async def block_for(self, seconds: float) -> None:
        with self._lock:
            self._blocked_until = max(self._blocked_until, self.clock() + seconds)

    async def count_since(self, seconds_ago: float) -> int:
        with self._lock:
            now = self.clock()
            self._expire(now)
            return sum(1 for slot in self._sent if slot.at > now - seconds_ago)


# Each script reads Redis's clock itself, so that every process counts on one clock. KEYS[1] is the
# window's sorted set (member: a request, score: the time it counts from), KEYS[2] the time a 429 blocks
# it until. Numbers come back as strings: Redis would truncate a Lua number to an integer.
_NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) + tonumber(t[2]) / 1000000 "
_WAIT = (
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window) "
    "local wait = (tonumber(redis.call('GET', KEYS[2]) or '0')) - now "
    "local n = redis.call('ZCARD', KEYS[1]) "
    "if n >= limit then "
    "  local kth = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES') "
    "  wait = math.max(wait, tonumber(kth[2]) + window - now) "
    "end "
)
_TAKE = (
    _NOW
    + "local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2]) "
    + _WAIT
    + "if wait > 0 or ARGV[3] == '' then return tostring(math.max(wait, 0)) end "
    "redis.call('ZADD', KEYS[1], now, ARGV[3]) "
    "redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000) + 1000) "
    "return '0'"
)
"""ARGV: limit, window, the request's member (empty: only say how long to wait). The wait, or 0 when counted."""
_SETTLE = _NOW + "redis.call('ZADD', KEYS[1], 'XX', 'GT', now, ARGV[1]) return 1"
_BLOCK = (
    _NOW + "local blocked = now + tonumber(ARGV[1]) "
    "if blocked > tonumber(redis.call('GET', KEYS[2]) or '0') then "
    "  redis.call('SET', KEYS[2], tostring(blocked), 'PX', math.ceil(tonumber(ARGV[1]) * 1000) + 1000) "
    "end return 1"
)
_COUNT = (
    _NOW + "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1])) "
    "return redis.call('ZCOUNT', KEYS[1], '(' .. tostring(now - tonumber(ARGV[2])), '+inf')"
)


class SharedWindow:
    """A :class:`RequestBudget` in Redis, shared by every process that names the same budget.

    ``fallback`` (this process's window of the same size) counts the requests made while Redis cannot be
    reached; a slot taken there is settled there.
    """

    PREFIX = "flowpilot:psa-budget:"

    def __init__(self, redis: Callable[[], Any], name: str, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._redis = redis
        # The name holds what identifies a PSA tenant (an API user, a client id): Redis sees only its digest.
        # The braces keep both keys in one Redis Cluster slot, as a script may only touch such keys.
        tag = "{" + hashlib.sha256(name.encode()).hexdigest()[:32] + "}"
        self._keys = (f"{self.PREFIX}{tag}:sent", f"{self.PREFIX}{tag}:blocked")
        self.fallback = SlidingWindow(limit, window)
        self._unavailable = _Unavailable("PSA request budget")

    async def _run(self, script: str, *args: Any) -> Any:
        return await self._redis().eval(script, 2, *self._keys, *args)

    async def wait_needed(self) -> float:
        try:
            return max(float(await self._run(_TAKE, self.limit, self.window, "")), 0.0)
        except Exception as exc:  # a budget is a courtesy to the PSA: never fail the request for it
            self._unavailable(exc)
            return await self.fallback.wait_needed()

    async def take(self) -> Slot | float:
        key = uuid.uuid4().hex
        try:
            wait = float(await self._run(_TAKE, self.limit, self.window, key))
        except Exception as exc:
            self._unavailable(exc)
            return await self.fallback.take()
        return Slot(0.0, key) if wait <= 0 else wait

    async def settle(self, slot: Slot) -> None:
        if not slot.key:
            await self.fallback.settle(slot)
            return
        try:
            await self._run(_SETTLE, slot.key)
        except Exception as exc:  # the request then counts from when it was sent
            self._unavailable(exc)

    async def block_for(self, seconds: float) -> None:
        await self.fallback.block_for(seconds)  # also here: a Redis that fails now must not lift the block
        try:
            await self._run(_BLOCK, seconds)
        except Exception as exc:
            self._unavailable(exc)

    async def count_since(self, seconds_ago: float) -> int:
        try:
            return int(await self._run(_COUNT, self.window, min(seconds_ago, self.window)))
        except Exception as exc:
            self._unavailable(exc)
            return await self.fallback.count_since(seconds_ago)


class ConcurrencyLimit(Protocol):
    """At most ``limit`` requests at once."""

    limit: int

    def slot(self) -> AbstractAsyncContextManager[None]:
        """Wait for a place, hold it while the block runs, then free it."""
        ...


class LocalConcurrency:
    """A :class:`ConcurrencyLimit` in this process: a semaphore per event loop (one cannot serve two loops)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        with self._lock:
            semaphore = self._semaphores.get(loop)
            if semaphore is None:
                semaphore = self._semaphores[loop] = asyncio.Semaphore(self.limit)
        async with semaphore:
            yield


_HOLD = (
    _NOW + "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now) "
    "if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end "
    "redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3]) "
    "redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) * 1000) + 1000) "
    "return 1"
)
"""KEYS[1]: the places held (member: a holder, score: when its lease ends); ARGV: limit, lease, holder."""


class SharedConcurrency:
    """A :class:`ConcurrencyLimit` in Redis, shared by every process that names the same limit.

    A place is held for at most ``lease`` seconds (a process that dies holding it frees it then); a full
    limit is asked again after a short, growing pause. While Redis cannot be reached, ``fallback`` (this
    process's limit of the same size) applies instead.
    """

    PREFIX = "flowpilot:psa-slots:"
    POLL_FIRST, POLL_MAX = 0.005, 0.1

    def __init__(self, redis: Callable[[], Any], name: str, limit: int, lease: float) -> None:
        self.limit, self.lease = limit, lease
        self._redis = redis
        self._key = self.PREFIX + hashlib.sha256(name.encode()).hexdigest()[:32]
        self.fallback = LocalConcurrency(limit)
        self._unavailable = _Unavailable("PSA concurrency limit")

    async def _hold(self, holder: str) -> bool:
        """Wait for a place; ``False`` when Redis cannot be reached (nothing is held)."""
        pause = self.POLL_FIRST
        while True:
            try:
                held = await self._redis().eval(_HOLD, 1, self._key, self.limit, self.lease, holder)
            except Exception as exc:  # a limit is a courtesy to the PSA: never fail the request for it
                self._unavailable(exc)
                return False
            if int(held):
                return True
            await asyncio.sleep(pause)
            pause = min(pause * 2, self.POLL_MAX)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        holder = uuid.uuid4().hex
        if not await self._hold(holder):
            async with self.fallback.slot():
                yield
            return
        try:
            yield
        finally:
            try:
                await self._redis().zrem(self._key, holder)
            except Exception as exc:  # the lease ends it
                self._unavailable(exc)


class _RedisClients:
    """One Redis client per event loop (a client's connections belong to the loop that opened them)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def __call__(self) -> Any:
        from redis.asyncio import Redis

        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._clients.get(loop)
            if client is None:
                client = self._clients[loop] = Redis.from_url(self.url, socket_timeout=0.5, socket_connect_timeout=0.5)
            return client

    async def aclose(self) -> None:
        """Close this loop's client (the others close with their loops)."""
        with self._lock:
            client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()


_lock = threading.Lock()
_budgets: dict[tuple[str, int, float], RequestBudget] = {}
_limits: dict[tuple[str, int, float], ConcurrencyLimit] = {}
_redis: _RedisClients | None = None


def use_redis(url: str | None) -> None:
    """Where budgets are kept from now on: Redis at ``url``, or this process (``None``). The FlowPilot
    runtime calls it when it opens; budgets handed out earlier keep their store."""
    global _redis
    with _lock:
        if (_redis.url if _redis else None) == url:
            return
        _redis = _RedisClients(url) if url else None
        _budgets.clear()
        _limits.clear()


async def close_redis() -> None:
    """Close the running loop's Redis client for budgets, if there is one (the runtime, on close)."""
    clients = _redis
    if clients is not None:
        await clients.aclose()


def budget_for(name: str, limit: int, window: float) -> RequestBudget:
    """The budget called ``name``: ``limit`` requests per ``window`` seconds, in Redis when the runtime
    has one (shared by every process), else this process's (shared by its providers)."""
    key = (name, limit, window)
    with _lock:
        budget = _budgets.get(key)
        if budget is None:
            budget = _budgets[key] = (
                SharedWindow(_redis, name, limit, window) if _redis else SlidingWindow(limit, window)
            )
        return budget


def concurrency_for(name: str, limit: int, lease: float) -> ConcurrencyLimit:
    """The concurrency limit called ``name``: at most ``limit`` requests at once, in Redis when the runtime
    has one (every process's requests together, each place held at most ``lease`` seconds), else this
    process's."""
    key = (name, limit, lease)
    with _lock:
        found = _limits.get(key)
        if found is None:
            found = _limits[key] = SharedConcurrency(_redis, name, limit, lease) if _redis else LocalConcurrency(limit)
        return found
