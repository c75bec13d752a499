"""The Autotask connection's config: what FlowPilot validates before it stores a connection.

The keys are FlowPilot's (snake case); what they become on the wire is in
:mod:`flowpilot_autotask.http`. The repr never shows the user name, the secret or the
integration code, so a config can be logged or shown in a traceback without leaking them.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated
from urllib.parse import urlsplit

import msgspec

Token = Annotated[str, msgspec.Meta(min_length=1, max_length=500, pattern=r"^\S+$")]
Picklist = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
"""A picklist value named by its label (``"Internal Only"``) or its value (``"1"``)."""

DEFAULT_ZONE_LOOKUP = "https://webservices.autotask.net/atservicesrest"


class Config(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One Autotask PSA database, reached as one API-only user."""

    username: Token
    """The API user's user name (``UserName`` header); the zone lookup is made for it."""
    secret: Token
    """The API user's secret (``Secret`` header)."""
    integration_code: Token
    """The API tracking identifier (``ApiIntegrationCode`` header)."""
    zone_url: str | None = None
    """Skips the zone lookup when set: the zone's REST root as Autotask names it
    (``https://webservices5.autotask.net/atservicesrest/``)."""
    zone_lookup: str = DEFAULT_ZONE_LOOKUP
    """Where ``/v1.0/zoneInformation?user=`` is asked (a local fake in tests)."""
    internal_publish: Picklist = "Internal Only"
    """The TicketNotes ``publish`` value FlowPilot's internal notes get (label or value)."""
    visible_publish: Picklist = "All Autotask Users"
    """The ``publish`` value of a note posted with ``internal=False`` (never one the end user sees by default)."""
    note_type: Picklist | None = None
    """The TicketNotes ``noteType`` (label or value); without it, the picklist's default value."""
    resolution_note_type: Picklist | None = None
    """The ``noteType`` of a resolution note; without it, ``note_type``."""
    timeout: Annotated[float, msgspec.Meta(gt=0, le=300)] = 30.0
    """Seconds per request attempt."""
    max_retries: Annotated[int, msgspec.Meta(ge=0, le=5)] = 2
    """Extra attempts after a 429, a 502/503/504 or a timeout of a request that is safe to repeat."""
    max_retry_wait: Annotated[float, msgspec.Meta(ge=0, le=60)] = 10.0
    """The longest ``Retry-After`` waited out inside one call; a longer one is returned to the caller as a 429."""
    hourly_budget: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 2_000
    """Requests this process sends to the database per rolling hour. Autotask allows 10,000 per hour for the
    whole database, shared with every other integration, and blocks them all above it."""
    usage_ceiling: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.8
    """FlowPilot stops sending when ``ThresholdInformation`` shows the database this close to its hourly limit."""
    picklist_ttl: Annotated[float, msgspec.Meta(ge=0, le=86_400)] = 600.0
    """Seconds the status, note type and publish picklists are kept before they are read again."""

    def __post_init__(self) -> None:
        # A bad URL is refused when the connection is stored, not at the first post.
        rest_root(self.zone_lookup, what="zone_lookup")
        if self.zone_url is not None:
            rest_root(self.zone_url, what="zone_url")

    def __repr__(self) -> str:
        return f"Config(zone_url={self.zone_url!r}, zone_lookup={self.zone_lookup!r}, credentials hidden)"

    __str__ = __repr__


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def rest_root(url: str, *, what: str) -> str:
    """``url`` as a REST root ending in ``/``: https only, plain HTTP only to a loopback address (a local fake)."""
    raw = url.strip()
    parts = urlsplit(raw)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{what} {url!r} is not an http(s) URL")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{what} {url!r} must be scheme://host[:port]/path only")
    if parts.scheme == "http" and not loopback(parts.hostname):
        raise ValueError(f"{what} {url!r}: credentials go over https only (http is accepted for localhost)")
    return raw if raw.endswith("/") else f"{raw}/"
