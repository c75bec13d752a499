"""The ConnectWise connection's config: what FlowPilot validates before it stores a connection.

The keys are FlowPilot's (snake case); what they become on the wire is in
:mod:`flowpilot_connectwise.http`. The repr never shows a key, so a config can be logged
or shown in a traceback without leaking credentials.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated
from urllib.parse import urlsplit

import msgspec

NoColon = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[^:\s]+$")]
"""Basic authentication splits ``company+public:private`` at the first colon: neither half before it may hold one."""
Secret = Annotated[str, msgspec.Meta(min_length=1, max_length=500, pattern=r"^\S+$")]
ClientId = Annotated[
    str, msgspec.Meta(pattern=r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")
]
ApiVersion = Annotated[str, msgspec.Meta(pattern=r"^\d{4}\.\d{1,2}$")]
Codebase = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.]{1,100}/?$")]


class Config(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One ConnectWise PSA (Manage) tenant."""

    site: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
    """The API host (``api-na.myconnectwise.net``) or an on-premises URL (``https://cw.example.com``).
    A cloud UI host (``na.myconnectwise.net``) is turned into its API host."""
    company: NoColon
    """The company id technicians type at the ConnectWise login."""
    public_key: NoColon
    private_key: Secret
    client_id: ClientId
    """The integration's clientId (a GUID from developer.connectwise.com)."""
    api_version: ApiVersion = "2025.1"
    """Pinned in every request's ``Accept`` header: a ConnectWise upgrade cannot change the shapes FlowPilot reads."""
    codebase: Codebase | None = None
    """Skips the codebase lookup (``/login/companyinfo/{company}``) when set, e.g. ``v2025_1/``."""
    timeout: Annotated[float, msgspec.Meta(gt=0, le=300)] = 30.0
    """Seconds per request attempt."""
    max_retries: Annotated[int, msgspec.Meta(ge=0, le=5)] = 2
    """Extra attempts after a 429, a 5xx or a timeout of a request that is safe to repeat."""
    max_retry_wait: Annotated[float, msgspec.Meta(ge=0, le=60)] = 10.0
    """The longest ``Retry-After`` waited out inside one call; a longer one is returned to the caller as a 429."""

    def __post_init__(self) -> None:
        base_url(self.site)  # a bad site is refused when the connection is stored, not at the first post

    def __repr__(self) -> str:
        return f"Config(site={self.site!r}, company={self.company!r}, api_version={self.api_version!r}, keys hidden)"

    __str__ = __repr__


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def base_url(site: str) -> str:
    """``https://host[:port]`` for ``site``; plain HTTP only to a loopback address (a local fake), never a network."""
    raw = site.strip().rstrip("/")
    parts = urlsplit(raw if "://" in raw else f"https://{raw}")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"site {site!r} is not a host name or an http(s) URL")
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(
            f"site {site!r} must be a host (or scheme://host[:port]) only; the API path is found by itself"
        )
    host = parts.hostname
    if parts.scheme == "http" and not _loopback(host):
        raise ValueError(f"site {site!r}: credentials go over https only (http is accepted for localhost)")
    if host.endswith(".myconnectwise.net") and not host.startswith("api-"):
        host = f"api-{host}"  # the cloud UI host; its API lives on api-<region>.myconnectwise.net
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"
