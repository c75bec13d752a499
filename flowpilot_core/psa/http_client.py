"""The HTTP client every PSA plugin builds: its timeouts and one TLS context per process.

A connection's ``timeout`` is how long FlowPilot waits for the PSA to answer, and it may be
short on purpose (a technician is waiting). Opening the TCP connection is different: a
connect that misses a sub-second budget on a busy host or network is a spurious failure,
not a slow PSA, so it gets at least :data:`CONNECT_FLOOR_SECONDS`.

The writeback builds a provider, so a client, per confirmation; building a verifying TLS
context costs tens of milliseconds, so all of them share :func:`tls_context`.
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

import httpx

from flowpilot_core.psa.errors import PSATransient

CONNECT_FLOOR_SECONDS = 5.0


def http_timeout(seconds: float) -> httpx.Timeout:
    """An httpx timeout: ``seconds`` to read, write and wait for a pooled connection; connecting at least the floor."""
    return httpx.Timeout(seconds, connect=max(seconds, CONNECT_FLOOR_SECONDS))


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default verifying context (certifi's CA bundle), built once per process."""
    return httpx.create_ssl_context()


def psa_client(timeout: float, transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """A client for one PSA connection: its timeouts, the shared TLS context, never following a redirect."""
    return httpx.AsyncClient(
        timeout=http_timeout(timeout), transport=transport, follow_redirects=False, verify=tls_context()
    )


def json_answer(response: httpx.Response, psa: str) -> Any:
    """The decoded JSON of a PSA's answer; an answer that is not JSON is :class:`PSATransient` (a proxy's
    error page, a truncated body: worth a retry), named for ``psa``."""
    try:
        return response.json()
    except ValueError:
        raise PSATransient(f"{psa} answered HTTP {response.status_code} with something that is not JSON") from None


def json_or_none(response: httpx.Response) -> Any:
    """The decoded JSON of an answer, or None when it is not JSON (for reading an error's detail)."""
    try:
        return response.json()
    except ValueError:
        return None
