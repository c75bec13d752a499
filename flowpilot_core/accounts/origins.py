"""Allowed embedding origins: a strict ``scheme://host[:port]`` grammar.

An origin ends up verbatim in the ``frame-ancestors`` directive of the Content-Security-Policy,
so anything beyond that grammar (a space, ``*``, ``;``) would widen or rewrite the policy.
"""

from __future__ import annotations

import ipaddress
import re

from flowpilot_core.errors import InvalidInput

MAX_ORIGINS = 50
_ORIGIN = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<host>\[[0-9A-Fa-f:.]+\]|[^:/\[\]]+)(?::(?P<port>[0-9]{1,5}))?/?"
)
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def _valid_host(host: str) -> bool:
    if host.startswith("["):
        try:
            return ipaddress.ip_address(host[1:-1]).version == 6
        except ValueError:
            return False
    if re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return False
        return True
    return len(host) <= 253 and all(_LABEL.fullmatch(label) for label in host.split("."))


def normalize_origin(origin: str) -> str:
    """``https://portal.example.com[:port]`` in lower case; raises :class:`InvalidInput` naming the problem."""
    match = _ORIGIN.fullmatch(origin)
    example = "an origin like https://portal.example.com or http://10.0.0.5:8443"
    if match is None:
        raise InvalidInput(f"{origin!r} is not {example}", field="allowed_origins")
    scheme, host, port = match.group("scheme").lower(), match.group("host").lower(), match.group("port")
    if scheme not in {"http", "https"}:
        raise InvalidInput(f"{origin!r}: the scheme must be http or https", field="allowed_origins")
    if not _valid_host(host):
        raise InvalidInput(f"{origin!r}: {host!r} is not a valid host name or IP address", field="allowed_origins")
    if port is not None and not 1 <= int(port) <= 65535:
        raise InvalidInput(f"{origin!r}: the port must be between 1 and 65535", field="allowed_origins")
    default_port = {"http": "80", "https": "443"}[scheme]
    suffix = f":{int(port)}" if port is not None and str(int(port)) != default_port else ""
    return f"{scheme}://{host}{suffix}"


def normalize_origins(origins: list[str]) -> list[str]:
    """Sorted, de-duplicated, each normalised; at most :data:`MAX_ORIGINS`."""
    if len(origins) > MAX_ORIGINS:
        raise InvalidInput(f"at most {MAX_ORIGINS} allowed origins", field="allowed_origins")
    return sorted({normalize_origin(o) for o in origins})
