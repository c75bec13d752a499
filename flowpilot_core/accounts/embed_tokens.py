"""Embed tokens: short-lived JWTs a host portal mints for the widget with the account's embed secret.

A host portal's backend calls :func:`mint_embed_token` (or ``POST /api/v1/embed/tokens``
with an API key) and hands the token to ``FlowPilot.mount`` in the browser. Users are
created on first sight from the claims, so the host needs no user sync. The ``role`` claim says
whether the user is a technician (the default) or an MSP admin, who may also read the account's
AI usage and cost (``/pilot/usage``).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import jwt
import msgspec

from flowpilot_core.errors import AuthenticationFailed, InvalidInput
from flowpilot_core.tickets.ticket import Ticket

ALGORITHM = "HS256"
MAX_TTL_SECONDS = 12 * 3600
DEFAULT_TTL_SECONDS = 15 * 60
_LEEWAY_SECONDS = 30

Role = Literal["technician", "admin"]
"""Who the user is to FlowPilot: a ``technician``, or an MSP ``admin`` (who may also read usage and cost)."""


class _IdentityClaims(msgspec.Struct):
    """The claims FlowPilot stores (the technician and the ticket), checked on minting and on every request."""

    sub: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    name: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    email: Annotated[str, msgspec.Meta(max_length=320)] | None = None
    ticket: Ticket | None = None
    role: Role | None = None


def claims_problem(claims: dict[str, Any]) -> tuple[str, str] | None:
    """The first stored claim that is the wrong type, too long, empty or holds NUL, as (claim, message)."""
    try:
        checked = msgspec.convert(claims, _IdentityClaims)
    except msgspec.ValidationError as exc:
        message, _, where = str(exc).partition(" - at `$")
        return (where.rstrip("`").lstrip(".") or "claims"), message.replace("`", "")
    if not checked.sub.strip():
        return "sub", "must not be blank"
    values = {"sub": checked.sub, "name": checked.name, "email": checked.email}
    if checked.ticket is not None:
        values.update({f"ticket.{k}": v for k, v in msgspec.to_builtins(checked.ticket).items()})
    for claim, value in values.items():
        if isinstance(value, str) and "\x00" in value:
            return claim, "must not contain the NUL character (\\u0000)"
    return None


@dataclass(frozen=True)
class EmbedClaims:
    account_id: uuid.UUID
    user_external_id: str
    name: str | None
    email: str | None
    ticket: dict[str, Any] | None
    expires_at: int
    role: Role = "technician"


_MINT_FIELDS = {"sub": "user.id", "name": "user.name", "email": "user.email", "role": "user.role"}
"""Claims named as ``POST /api/v1/embed/tokens`` names them."""


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
    role: Role = "technician",
) -> str:
    """Sign an embed token for one user of one account (optionally opened on one ticket); ``role="admin"``
    for an MSP admin."""
    if not 1 <= ttl_seconds <= MAX_TTL_SECONDS:
        raise InvalidInput(f"ttl_seconds must be between 1 and {MAX_TTL_SECONDS}", field="ttl_seconds")
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {"aid": str(uuid.UUID(str(account_id))), "sub": user_id}
    if name:
        claims["name"] = name
    if email:
        claims["email"] = email
    if ticket:
        claims["ticket"] = {k: v for k, v in ticket.items() if v is not None} if isinstance(ticket, dict) else ticket
    if role != "technician":
        claims["role"] = role
    problem = claims_problem(claims)
    if problem:
        claim, message = problem
        field = _MINT_FIELDS.get(claim, claim)
        raise InvalidInput(f"{field}: {message}", field=field)
    claims.update(iat=issued, exp=issued + ttl_seconds)
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def unverified_account_id(token: str) -> uuid.UUID:
    """The account a token claims to be for; the caller must then verify it with that account's secret."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
        return uuid.UUID(str(claims["aid"]))
    except (jwt.PyJWTError, KeyError, ValueError, TypeError):
        raise AuthenticationFailed("the bearer token is neither an API key nor a valid embed token") from None


def unverified_subject(token: str) -> str:
    """The technician a token claims (``sub``), to look up beside the account before verifying it; ``""`` if
    there is none that could be stored (verification then says what is wrong with it)."""
    try:
        subject = jwt.decode(token, options={"verify_signature": False}).get("sub")
    except jwt.PyJWTError:
        return ""
    if not isinstance(subject, str) or len(subject) > 200 or "\x00" in subject:
        return ""
    return subject


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
    except jwt.exceptions.InvalidSubjectError:
        raise AuthenticationFailed("invalid embed token: claim sub: must be a string") from None
    except jwt.PyJWTError:
        raise AuthenticationFailed("the embed token is invalid") from None
    if not all(isinstance(claims[k], int | float) and not isinstance(claims[k], bool) for k in ("exp", "iat")):
        raise AuthenticationFailed("invalid embed token: exp and iat must be numbers")  # NumericDate, RFC 7519
    if claims["exp"] - claims["iat"] > MAX_TTL_SECONDS + _LEEWAY_SECONDS:
        raise AuthenticationFailed("the embed token lives longer than 12 hours; mint a shorter-lived one")
    problem = claims_problem({k: claims[k] for k in ("sub", "name", "email", "ticket", "role") if k in claims})
    if problem:
        raise AuthenticationFailed(f"invalid embed token: claim {problem[0]}: {problem[1]}")
    ticket = claims.get("ticket")
    return EmbedClaims(
        account_id=uuid.UUID(str(claims["aid"])),
        user_external_id=claims["sub"],
        name=claims.get("name"),
        email=claims.get("email"),
        ticket=dict(ticket) if ticket else None,
        expires_at=int(claims["exp"]),
        role=claims.get("role") or "technician",
    )
