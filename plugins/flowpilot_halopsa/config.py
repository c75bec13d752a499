"""The HaloPSA connection's config: what FlowPilot validates before it stores a connection.

The keys are FlowPilot's; what they become on the wire is in :mod:`flowpilot_halopsa.auth`
and :mod:`flowpilot_halopsa.http`. The repr never shows the client secret, so a config can be
logged or shown in a traceback without leaking it.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated
from urllib.parse import urlsplit

import msgspec

Secret = Annotated[str, msgspec.Meta(min_length=1, max_length=500, pattern=r"^\S+$")]
ClientId = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^\S+$")]
Tenant = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]
Outcome = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Scope = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.: -]+$")]


class Config(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One HaloPSA instance (hosted or on-premises)."""

    site: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    """The Resource Server's host (``acme.halopsa.com``) or URL (``https://halo.example.com``); the API is
    ``{site}/api``."""
    client_id: ClientId
    """The API application's Client ID (Configuration > Integrations > Halo API)."""
    client_secret: Secret
    tenant: Tenant | None = None
    """Hosted Halo's tenant name, sent as ``?tenant=`` on the token request; on-premises installs have none."""
    auth_url: Annotated[str, msgspec.Meta(min_length=1, max_length=300)] | None = None
    """The Authorisation Server (Halo shows it under API Details); default ``{site}/auth``."""
    scope: Scope = "all"
    note_outcome: Outcome = "Private Note"
    """The action type (outcome) FlowPilot's notes are posted as."""
    resolution_outcome: Outcome | None = None
    """The action type of a resolution note (e.g. a tenant's own "Resolution" outcome); default ``note_outcome``."""
    requests_per_window: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 300
    """Requests FlowPilot sends per ``rate_window`` seconds at most (hosted Halo: 300 per rolling 5 minutes)."""
    rate_window: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 300.0
    timeout: Annotated[float, msgspec.Meta(gt=0, le=300)] = 30.0
    """Seconds per request attempt."""
    max_retries: Annotated[int, msgspec.Meta(ge=0, le=5)] = 2
    """Extra attempts after a 429, a 5xx or a timeout of a request that is safe to repeat."""
    max_retry_wait: Annotated[float, msgspec.Meta(ge=0, le=120)] = 10.0
    """The longest wait (``Retry-After`` or the rate budget) inside one call; a longer one is returned as a 429."""

    def __post_init__(self) -> None:
        base_url(self.site)  # a bad site or auth URL is refused when the connection is stored
        if self.auth_url is not None:
            auth_base(self.auth_url)

    @property
    def token_url(self) -> str:
        return f"{auth_base(self.auth_url) if self.auth_url else base_url(self.site) + '/auth'}/token"

    @property
    def api_url(self) -> str:
        return f"{base_url(self.site)}/api"

    def __repr__(self) -> str:
        return f"Config(site={self.site!r}, tenant={self.tenant!r}, client secret hidden)"

    __str__ = __repr__


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _origin(raw_url: str, key: str, *, path_allowed: bool) -> tuple[str, str]:
    raw = raw_url.strip().rstrip("/")
    parts = urlsplit(raw if "://" in raw else f"https://{raw}")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{key} {raw_url!r} is not a host name or an http(s) URL")
    if (parts.path and not path_allowed) or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{key} {raw_url!r} must be a plain URL (no query, fragment or user name)")
    host = parts.hostname
    if parts.scheme == "http" and not _loopback(host):
        raise ValueError(f"{key} {raw_url!r}: credentials go over https only (http is accepted for localhost)")
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}", parts.path.rstrip("/")


def base_url(site: str) -> str:
    """``https://host[:port]`` for ``site`` (a pasted Resource Server URL ending in ``/api`` is accepted); plain
    HTTP only to a loopback address (a local fake), never a network."""
    origin, path = _origin(site, "site", path_allowed=True)
    if path.lower() not in ("", "/api"):
        raise ValueError(f"site {site!r} must be a host (or scheme://host[:port]) only; /api is added")
    return origin


def auth_base(auth_url: str) -> str:
    """The Authorisation Server's URL (its path kept: trial hosts' auth URL does not end in ``/auth``)."""
    origin, path = _origin(auth_url, "auth_url", path_allowed=True)
    return f"{origin}{path}"
