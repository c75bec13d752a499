"""A client-side sliding-window request budget: hosted Halo allows 300 requests per rolling 5 minutes.

One budget per Halo instance and API application in this process (:func:`budget_for`), shared by
every provider built for it: the writeback builds a provider per confirmation, and the budget must
outlive them. A 429 blocks the budget until its ``Retry-After`` has passed, so the next request
waits instead of spending the window again. Other processes (replicas) are not counted.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable


class SlidingWindow:
    """At most ``limit`` acquisitions in any ``window`` seconds of ``clock``."""

    def __init__(self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window = limit, window
        self.clock = clock
        self._sent: deque[float] = deque()
        self._blocked_until = 0.0
        self._lock = threading.Lock()  # providers on different event loops (a test's, the app's) share one budget

    def wait_needed(self) -> float:
        """Seconds until one more request fits (0: now)."""
        with self._lock:
            now = self.clock()
            while self._sent and self._sent[0] <= now - self.window:
                self._sent.popleft()
            wait = self._blocked_until - now
            if len(self._sent) >= self.limit:
                wait = max(wait, self._sent[len(self._sent) - self.limit] + self.window - now)
            return max(0.0, wait)

    def take(self) -> bool:
        """Count one request if it fits now; ``False`` (nothing counted) if it does not."""
        with self._lock:
            now = self.clock()
            while self._sent and self._sent[0] <= now - self.window:
                self._sent.popleft()
            if now < self._blocked_until or len(self._sent) >= self.limit:
                return False
            self._sent.append(now)
            return True

    def block_for(self, seconds: float) -> None:
        """The server said to wait (a 429's ``Retry-After``): nothing is sent before then."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self.clock() + seconds)

    @property
    def used(self) -> int:
        """Requests counted in the current window."""
        self.wait_needed()
        return len(self._sent)

    async def acquire(self, sleep: Callable[[float], Awaitable[None]]) -> None:
        """Wait (with ``sleep``) until a request fits, then count it."""
        while not self.take():
            await sleep(max(self.wait_needed(), 0.001))


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
