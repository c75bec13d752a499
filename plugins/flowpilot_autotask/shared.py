"""What every provider of this process shares about one Autotask database: its zone, limits and picklists.

The writeback opens a provider per confirmation, but Autotask's limits are per database
and per integration, so they are kept here, per database (its REST root and API user):

- **Zone**: where the zone lookup said the database is, until a 401 says it moved.

- **Threads**: at most 3 concurrent requests per object endpoint per integration
  (Autotask's thread limiting): :func:`thread_limit`, in Redis and so across every FlowPilot
  process when ``FLOWPILOT_REDIS_URL`` is set, else a semaphore per endpoint in the process.
- **Hourly budget**: Autotask allows 10,000 requests per rolling hour for the whole
  database, shared with every other integration, and blocks them all above it. FlowPilot
  counts what it sent in the last hour (:func:`hourly_budget`, in Redis and so counted
  across every FlowPilot process when ``FLOWPILOT_REDIS_URL`` is set) and refuses to
  exceed ``hourly_budget``; it also
  reads ``ThresholdInformation`` now and then and stops when the whole database is near
  its limit (``usage_ceiling``), because going over locks out the MSP's other tools too.
- **Picklists** (statuses, note types, publish values): tenant data, cached for
  ``picklist_ttl`` seconds.

And one TLS context for every provider: building one loads the CA bundle (about 50 ms),
which would otherwise be paid on every writeback.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flowpilot_core.psa.request_budget import ConcurrencyLimit, RequestBudget, budget_for, concurrency_for

THREADS_PER_ENDPOINT = 3
WINDOW_SECONDS = 3600.0
THRESHOLD_CHECK_SECONDS = 300.0
"""How often the database's own usage (``ThresholdInformation``) is read, at most."""


@dataclass
class Usage:
    """The database's request count as ``ThresholdInformation`` reported it."""

    limit: int
    used: int
    read_at: float


@dataclass
class TenantState:
    usage: Usage | None = None
    usage_checked_at: float = -math.inf
    picklists: dict[str, tuple[float, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def usage_due(self, now: float) -> bool:
        """Whether to read ``ThresholdInformation`` now (claims the check, so concurrent callers do not all read it)."""
        with self._lock:
            if now - self.usage_checked_at < THRESHOLD_CHECK_SECONDS:
                return False
            self.usage_checked_at = now
            return True

    def picklist(self, key: str, ttl: float, now: float) -> Any | None:
        with self._lock:
            cached = self.picklists.get(key)
        return cached[1] if cached is not None and now - cached[0] < ttl else None

    def keep_picklist(self, key: str, value: Any, now: float) -> None:
        with self._lock:
            self.picklists[key] = (now, value)

    def forget_picklist(self, key: str) -> None:
        with self._lock:
            self.picklists.pop(key, None)


_zones: dict[tuple[str, str], str] = {}
_tenants: dict[tuple[str, str], TenantState] = {}
_tenants_lock = threading.Lock()
clock: Callable[[], float] = time.monotonic


def tenant(rest_root: str, username: str) -> TenantState:
    """The shared state of the database ``username`` belongs to (one API user belongs to one database)."""
    key = (rest_root.lower(), username.lower())
    with _tenants_lock:
        return _tenants.setdefault(key, TenantState())


def hourly_budget(rest_root: str, username: str, limit: int) -> RequestBudget:
    """FlowPilot's budget of ``limit`` requests per rolling hour to the database of ``username``."""
    return budget_for(f"autotask:{rest_root.lower()}:{username.lower()}", limit, WINDOW_SECONDS)


def thread_limit(rest_root: str, username: str, endpoint: str, lease: float) -> ConcurrencyLimit:
    """At most :data:`THREADS_PER_ENDPOINT` concurrent requests to ``endpoint`` of the database of ``username``
    (every FlowPilot process's together when Redis is configured, each place held at most ``lease`` seconds)."""
    name = f"autotask:{rest_root.lower()}:{username.lower()}:{endpoint}"
    return concurrency_for(name, THREADS_PER_ENDPOINT, lease)


def known_zone(zone_lookup: str, username: str) -> str | None:
    """The zone a lookup named for ``username`` earlier in this process."""
    with _tenants_lock:
        return _zones.get((zone_lookup.lower(), username.lower()))


def keep_zone(zone_lookup: str, username: str, zone: str) -> None:
    with _tenants_lock:
        _zones[(zone_lookup.lower(), username.lower())] = zone
