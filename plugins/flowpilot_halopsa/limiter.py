"""A client-side sliding-window request budget: hosted Halo allows 300 requests per rolling 5 minutes.

One budget per Halo instance and API application in this process (:func:`budget_for`), shared by
every provider built for it: the writeback builds a provider per confirmation, and the budget must
outlive them. A 429 blocks the budget until its ``Retry-After`` has passed, so the next request
waits instead of spending the window again. Other processes (replicas) are not counted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable

Slot = list[float]
"""One counted request: ``[time]``, moved to when its answer arrived by :meth:`SlidingWindow.settle`."""


class SlidingWindow:
    """At most ``limit`` requests in any ``window`` seconds of ``clock``.

    A request counts from when its answer arrived (:meth:`settle`), not from when it was sent: the
    server counts it somewhere in between, so counting from the send would free its place too early.
    """

    def __init__(self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window = limit, window
        self.clock = clock
        self._sent: list[Slot] = []
        self._blocked_until = 0.0
        self._lock = threading.Lock()  # providers on different event loops (a test's, the app's) share one budget

    def _expire(self, now: float) -> None:
        self._sent = [slot for slot in self._sent if slot[0] > now - self.window]

    def _wait(self, now: float) -> float:
        self._expire(now)
        wait = self._blocked_until - now
        if len(self._sent) >= self.limit:
            times = sorted(slot[0] for slot in self._sent)
            wait = max(wait, times[len(times) - self.limit] + self.window - now)
        return max(0.0, wait)

    def wait_needed(self) -> float:
        """Seconds until one more request fits (0: now)."""
        with self._lock:
            return self._wait(self.clock())

    def take(self) -> Slot | None:
        """Count one request if it fits now; ``None`` (nothing counted) if it does not."""
        with self._lock:
            now = self.clock()
            if self._wait(now) > 0:
                return None
            slot = [now]
            self._sent.append(slot)
            return slot

    def settle(self, slot: Slot) -> None:
        """The request's answer arrived (or it failed): it counts from now."""
        with self._lock:
            slot[0] = max(slot[0], self.clock())

    def block_for(self, seconds: float) -> None:
        """The server said to wait (a 429's ``Retry-After``): nothing is sent before then."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self.clock() + seconds)

    @property
    def used(self) -> int:
        """Requests counted in the current window."""
        with self._lock:
            self._expire(self.clock())
            return len(self._sent)

    async def acquire(self, sleep: Callable[[float], Awaitable[None]]) -> Slot:
        """Wait (with ``sleep``) until a request fits, then count it."""
        while (slot := self.take()) is None:
            await sleep(max(self.wait_needed(), 0.001))
        return slot


_BUDGETS: dict[tuple[str, str], SlidingWindow] = {}
_BUDGETS_LOCK = threading.Lock()


def budget_for(api_url: str, client_id: str, limit: int, window: float) -> SlidingWindow:
    """The process's budget for one Halo instance and API application (created on first use)."""
    key = (api_url, client_id)
    with _BUDGETS_LOCK:
        budget = _BUDGETS.get(key)
        if budget is None or (budget.limit, budget.window) != (limit, window):
            budget = _BUDGETS[key] = SlidingWindow(limit, window)
        return budget
