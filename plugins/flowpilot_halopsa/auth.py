"""The OAuth2 client-credentials token: what is asked for, and when it is asked for again.

``POST {auth_url}/token[?tenant=…]`` with the form ``grant_type=client_credentials``,
``client_id``, ``client_secret`` and ``scope`` answers ``access_token``, ``token_type`` and
``expires_in`` (seconds). A token is replaced before it expires (``REFRESH_MARGIN`` ahead),
and once when the Resource Server refuses it (an expired or revoked token): never twice for
one request. Every token this connection held is remembered, so it can be scrubbed from text.

The writeback builds a provider per confirmation, so the token is kept per API application in
the process (:func:`tokens_for`), not per provider: one token serves every confirmation until it
is about to expire.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from flowpilot_halopsa.config import Config

REFRESH_MARGIN = 60.0
"""Seconds before ``expires_in`` runs out that a new token is fetched (a quarter of a shorter lifetime)."""
DEFAULT_LIFETIME = 3600.0
"""Assumed when the answer names no ``expires_in``."""


class TokenCache:
    """The connection's current bearer token and every one it had (for scrubbing)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._token: str | None = None
        self._refresh_at = 0.0
        self.seen: list[str] = []

    def current(self) -> str | None:
        """The token, if it is not about to expire."""
        if self._token is not None and self.clock() < self._refresh_at:
            return self._token
        return None

    def invalidate(self, token: str) -> None:
        """The server refused ``token``: the next request fetches a new one."""
        if self._token == token:
            self._token = None

    def store(self, body: Any) -> str:
        """Keep the token of a token answer; ``ValueError`` (without the answer's content) if it is not one."""
        if not isinstance(body, dict):
            raise ValueError("the token answer is not a JSON object")
        token = body.get("access_token")
        if not isinstance(token, str) or not token.strip():
            raise ValueError("the token answer has no access_token")
        kind = body.get("token_type", "Bearer")
        if not isinstance(kind, str) or kind.lower() != "bearer":
            raise ValueError("the token answer's token_type is not Bearer")
        lifetime = body.get("expires_in", DEFAULT_LIFETIME)
        try:
            seconds = float(lifetime)
        except (TypeError, ValueError):
            seconds = DEFAULT_LIFETIME
        if not math.isfinite(seconds) or seconds <= 0:
            seconds = DEFAULT_LIFETIME
        self.seen.append(token)
        self._token = token
        self._refresh_at = self.clock() + seconds - min(REFRESH_MARGIN, seconds / 4)
        return token


def token_form(config: Config) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": config.client_id,
        "client_secret": config.client_secret,
        "scope": config.scope,
    }


def token_params(config: Config) -> dict[str, str]:
    """Hosted Halo names the tenant in the token URL's query; on-premises installs send none."""
    return {"tenant": config.tenant} if config.tenant else {}


_CACHES: dict[tuple[str, str, str, str], TokenCache] = {}
_CACHES_LOCK = threading.Lock()


def tokens_for(config: Config) -> TokenCache:
    """The process's token cache for one Authorisation Server, tenant and client (the secret included, hashed:
    a connection whose secret changed never uses a token of the old one)."""
    secret = hashlib.sha256(config.client_secret.encode()).hexdigest()
    key = (config.token_url, config.tenant or "", config.client_id, secret)
    with _CACHES_LOCK:
        return _CACHES.setdefault(key, TokenCache())
