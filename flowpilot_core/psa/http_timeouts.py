"""How long a PSA plugin's HTTP client waits: the connection's budget for an answer, a floor for connecting.

A connection's ``timeout`` is how long FlowPilot waits for the PSA to answer, and it may be
short on purpose (a technician is waiting). Opening the TCP connection is different: a
connect that misses a sub-second budget on a busy host or network is a spurious failure,
not a slow PSA, so it gets at least :data:`CONNECT_FLOOR_SECONDS`.
"""

from __future__ import annotations

import httpx

CONNECT_FLOOR_SECONDS = 5.0


def http_timeout(seconds: float) -> httpx.Timeout:
    """An httpx timeout: ``seconds`` to read, write and wait for a pooled connection; connecting at least the floor."""
    return httpx.Timeout(seconds, connect=max(seconds, CONNECT_FLOOR_SECONDS))
