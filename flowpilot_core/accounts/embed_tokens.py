"""Embed tokens: short-lived JWTs a host portal mints for the widget with the account's embed secret.

A host portal's backend calls :func:`mint_embed_token` (or ``POST /api/v1/embed/tokens``
with an API key) and hands the token to ``FlowPilot.mount`` in the browser. Users are
created on first sight from the claims, so the host needs no user sync.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

from flowpilot_core.errors import AuthenticationFailed, InvalidInput

ALGORITHM = "HS256"
MAX_TTL_SECONDS = 12 * 3600
DEFAULT_TTL_SECONDS = 15 * 60
_LEEWAY_SECONDS = 30
TICKET_KEYS = ("provider", "ref", "summary", "description", "company", "contact", "board", "status", "priority")


@dataclass(frozen=True)
class EmbedClaims:
    account_id: uuid.UUID
    user_external_id: str
    name: str | None
    email: str | None
    ticket: dict[str, Any] | None
    expires_at: int


def mint_embed_token(
    *,
    account_id: uuid.UUID | str,
    secret: str,
    user_id: str,
    name: str | None = None,
    email: str | None = None,
    ticket: dict[str, Any] | None = None,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    now: int | None = None,
) -> str:
    """Sign an embed token for one user of one account (optionally opened on one ticket)."""
    if not str(user_id).strip():
        raise InvalidInput("user id must not be empty", field="user.id")
    if not 1 <= ttl_seconds <= MAX_TTL_SECONDS:
        raise InvalidInput(f"ttl_seconds must be between 1 and {MAX_TTL_SECONDS}", field="ttl_seconds")
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "aid": str(uuid.UUID(str(account_id))),
        "sub": str(user_id),
        "iat": issued,
        "exp": issued + ttl_seconds,
    }
    if name:
        claims["name"] = name
    if email:
        claims["email"] = email
    if ticket:
        unknown = sorted(set(ticket) - set(TICKET_KEYS))
        if unknown:
            raise InvalidInput(f"unknown ticket field(s): {', '.join(unknown)}", field="ticket")
        claims["ticket"] = {k: str(v) for k, v in ticket.items() if v is not None}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def unverified_account_id(token: str) -> uuid.UUID:
    """The account a token claims to be for; the caller must then verify it with that account's secret."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
        return uuid.UUID(str(claims["aid"]))
    except (jwt.PyJWTError, KeyError, ValueError, TypeError):
        raise AuthenticationFailed("the bearer token is neither an API key nor a valid embed token") from None


def verify_embed_token(token: str, secret: str) -> EmbedClaims:
    """Check signature, expiry and shape; raise :class:`AuthenticationFailed` with the reason."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            leeway=_LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "sub", "aid"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthenticationFailed("the embed token has expired; mint a new one") from None
    except jwt.PyJWTError:
        raise AuthenticationFailed("the embed token is invalid") from None
    if int(claims["exp"]) - int(claims["iat"]) > MAX_TTL_SECONDS + _LEEWAY_SECONDS:
        raise AuthenticationFailed("the embed token lives longer than 12 hours; mint a shorter-lived one")
    ticket = claims.get("ticket")
    return EmbedClaims(
        account_id=uuid.UUID(str(claims["aid"])),
        user_external_id=str(claims["sub"]),
        name=claims.get("name"),
        email=claims.get("email"),
        ticket=ticket if isinstance(ticket, dict) else None,
        expires_at=int(claims["exp"]),
    )
