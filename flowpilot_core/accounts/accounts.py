"""Accounts, API keys, users and authentication of a bearer credential.

Every function takes a SQLAlchemy ``AsyncSession`` inside a transaction. Authentication
first scopes the transaction to the account the credential *claims* (RLS then shows
only that account's rows) and only then checks the credential against those rows, so
even the login path never reads across tenants.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import msgspec
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core.accounts.embed_tokens import (
    EmbedClaims,
    Role,
    unverified_account_id,
    unverified_subject,
    verify_embed_token,
)
from flowpilot_core.accounts.origins import normalize_origin as normalize_origin  # re-exported
from flowpilot_core.accounts.origins import normalize_origins
from flowpilot_core.crypto import decrypt_text, encrypt_text, new_secret, sha256_hex
from flowpilot_core.db.engine import set_account, tenant_session
from flowpilot_core.db.models import Account, ApiKey, User
from flowpilot_core.db.rows import Reader, fetch_one, static
from flowpilot_core.errors import AuthenticationFailed, InvalidInput, NotFound

API_KEY_PREFIX = "fp_"
EMBED_SECRET_PURPOSE = "account-embed-secret"
_TOUCH_INTERVAL = timedelta(minutes=5)


@dataclass(frozen=True)
class Principal:
    """Who is calling: an account, and for embed tokens the technician and the ticket they opened."""

    account_id: uuid.UUID
    via: Literal["api_key", "embed_token"]
    user_id: uuid.UUID | None = None
    ticket: dict[str, Any] | None = None
    api_key_id: uuid.UUID | None = None
    role: Role = "technician"
    """An embed token's ``role`` claim (an API key is the account's own, and an admin's)."""

    @property
    def is_admin(self) -> bool:
        """An MSP admin: an API key, or an embed token minted with ``role="admin"``."""
        return self.via == "api_key" or self.role == "admin"


class AccountOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    allowed_origins: list[str] | None
    """Shown to API-key callers only."""


class CreatedAccount(msgspec.Struct):
    id: uuid.UUID
    name: str
    embed_secret: str


class CreatedApiKey(msgspec.Struct):
    id: uuid.UUID
    name: str
    prefix: str
    key: str
    """Shown once; only its hash is stored."""


class UserOut(msgspec.Struct):
    id: uuid.UUID
    external_id: str
    display_name: str | None
    email: str | None


class Me(msgspec.Struct):
    """``GET /api/v1/me``: the calling account, the technician behind an embed token, and how they signed in."""

    account: AccountOut
    user: UserOut | None
    auth: Literal["api_key", "embed_token"]
    role: Role
    """``admin`` for an API key or an admin's embed token: the usage dashboard is theirs."""


async def create_account(
    session: AsyncSession, *, name: str, secret_key: str, allowed_origins: list[str] | None = None
) -> CreatedAccount:
    name = name.strip()
    if not name:
        raise InvalidInput("account name must not be empty", field="name")
    account_id = uuid.uuid4()
    embed_secret = new_secret()
    await set_account(session, account_id)
    session.add(
        Account(
            id=account_id,
            name=name,
            embed_secret_encrypted=encrypt_text(secret_key, EMBED_SECRET_PURPOSE, embed_secret),
            allowed_origins=normalize_origins(allowed_origins or []),
        )
    )
    await session.flush()
    return CreatedAccount(id=account_id, name=name, embed_secret=embed_secret)


async def get_account(session: AsyncSession, account_id: uuid.UUID) -> Account:
    account = await session.get(Account, account_id)
    if account is None:
        raise NotFound(f"account {account_id} not found")
    return account


async def embed_secret(session: AsyncSession, account_id: uuid.UUID, secret_key: str) -> str:
    account = await get_account(session, account_id)
    return decrypt_text(secret_key, EMBED_SECRET_PURPOSE, account.embed_secret_encrypted)


async def set_allowed_origins(session: AsyncSession, account_id: uuid.UUID, origins: list[str]) -> list[str]:
    account = await get_account(session, account_id)
    account.allowed_origins = normalize_origins(origins)
    return list(account.allowed_origins)


async def embedding_origins(sessionmaker: async_sessionmaker[AsyncSession], account_id: uuid.UUID) -> list[str]:
    """The origins allowed to frame FlowPilot for one account (none for an unknown account), for the CSP.

    Read without a credential (the page is loaded before the widget has a token), so it shows
    nothing but this list, and only within that account's row-level-security scope.
    """
    async with tenant_session(sessionmaker, account_id) as db:
        account = await db.get(Account, account_id)
        return list(account.allowed_origins) if account is not None else []


async def who_am_i(session: AsyncSession, principal: Principal) -> Me:
    """The caller's account and technician; embedding settings only for an API key (an administrator's)."""
    account = await get_account(session, principal.account_id)
    user = await session.get(User, principal.user_id) if principal.user_id else None
    return Me(
        account=AccountOut(
            id=account.id,
            name=account.name,
            allowed_origins=list(account.allowed_origins) if principal.via == "api_key" else None,
        ),
        user=user_out(user) if user is not None else None,
        auth=principal.via,
        role="admin" if principal.is_admin else "technician",
    )


async def create_api_key(session: AsyncSession, account_id: uuid.UUID, name: str) -> CreatedApiKey:
    await get_account(session, account_id)
    # The account id is part of the key so authentication can scope RLS before looking the key up.
    key = f"{API_KEY_PREFIX}{account_id.hex}_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        account_id=account_id,
        name=name.strip() or "api key",
        prefix=key[:11] + "…" + key[-4:],
        key_hash=sha256_hex(key),
    )
    session.add(row)
    await session.flush()
    return CreatedApiKey(id=row.id, name=row.name, prefix=row.prefix, key=key)


async def revoke_api_key(session: AsyncSession, account_id: uuid.UUID, key_id: uuid.UUID) -> None:
    result = await session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.account_id == account_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"no active API key {key_id} in this account")


def api_key_account(key: str) -> uuid.UUID:
    """The account an API key names (not yet checked: :func:`check_api_key` does)."""
    try:
        return uuid.UUID(hex=key[len(API_KEY_PREFIX) : len(API_KEY_PREFIX) + 32])
    except ValueError:
        raise AuthenticationFailed("invalid API key") from None


_API_KEY_BY_HASH = static(
    select(ApiKey.id, ApiKey.account_id, ApiKey.revoked_at, ApiKey.last_used_at).where(
        (ApiKey.key_hash == bindparam("key_hash")) & (ApiKey.account_id == bindparam("account_id"))
    )
)


async def check_api_key(db: Reader, key: str) -> tuple[Principal, bool]:
    """The principal of an API key, and whether its ``last_used_at`` is due an update (:func:`touch_api_key`).

    ``db`` is scoped to the key's :func:`api_key_account` already: the key is looked up among that
    account's rows only.
    """
    account_id = api_key_account(key)
    row = await fetch_one(db, _API_KEY_BY_HASH, {"key_hash": sha256_hex(key), "account_id": account_id})
    if row is None or row["revoked_at"] is not None:
        raise AuthenticationFailed("invalid or revoked API key")
    last_used = row["last_used_at"]
    stale = last_used is None or datetime.now(UTC) - last_used > _TOUCH_INTERVAL
    return Principal(account_id=account_id, via="api_key", api_key_id=row["id"]), stale


async def touch_api_key(session: AsyncSession, key_id: uuid.UUID) -> None:
    await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=datetime.now(UTC)))


def known_principal(bearer: str) -> Principal | None:
    """The principal of an embed token this process verified a moment ago, without the database (or None)."""
    return _known_tokens.get(bearer.strip())


async def authenticate(session: AsyncSession, bearer: str, secret_key: str) -> Principal:
    """Verify an API key or an embed token and scope the session's transaction to its account."""
    bearer = bearer.strip()
    if bearer.startswith(API_KEY_PREFIX):
        await set_account(session, api_key_account(bearer))
        principal, stale = await check_api_key(session, bearer)
        if stale:
            assert principal.api_key_id is not None
            await touch_api_key(session, principal.api_key_id)
        return principal

    cached = _known_tokens.get(bearer)
    if cached is not None:  # verified, and its technician stored, a moment ago
        await set_account(session, cached.account_id)
        return cached
    account_id = unverified_account_id(bearer)
    await set_account(session, account_id)
    verified = await _verify_embed_token(session, account_id, bearer, secret_key)
    user_id = verified.user_id if not verified.changed else None
    if user_id is None:
        user_id = await _store_technician(session, account_id, verified.claims)
    return _remember(bearer, account_id, verified.claims, user_id)


async def stored_principal(db: Reader, bearer: str, secret_key: str) -> Principal | None:
    """Verify an embed token in ``db`` (already scoped to the account it names) without writing: its principal
    when its technician is stored as the token claims, or None when :func:`authenticate` must store it."""
    bearer = bearer.strip()
    account_id = unverified_account_id(bearer)
    verified = await _verify_embed_token(db, account_id, bearer, secret_key)
    if verified.user_id is None or verified.changed:
        return None
    return _remember(bearer, account_id, verified.claims, verified.user_id)


def _remember(bearer: str, account_id: uuid.UUID, claims: EmbedClaims, user_id: uuid.UUID) -> Principal:
    principal = Principal(
        account_id=account_id, via="embed_token", user_id=user_id, ticket=claims.ticket, role=claims.role
    )
    _known_tokens.put(bearer, principal, expires_at=claims.expires_at)
    return principal


@dataclass(frozen=True)
class _VerifiedToken:
    claims: EmbedClaims
    user_id: uuid.UUID | None
    """The stored technician the token names, if any."""
    changed: bool
    """Whether the technician must be stored: missing, different from the claims, or last seen long ago."""


_ACCOUNT_AND_TECHNICIAN = static(
    select(Account.embed_secret_encrypted, User.id, User.display_name, User.email, User.last_seen_at)
    .outerjoin(User, (User.account_id == Account.id) & (User.external_id == bindparam("subject")))
    .where(Account.id == bindparam("account_id"))
)


async def _verify_embed_token(db: Reader, account_id: uuid.UUID, bearer: str, secret_key: str) -> _VerifiedToken:
    """Verify an embed token against its account's secret, with the technician it names as stored.

    One query reads the account's secret and the technician the token names (the subject is
    read before the signature is checked, but the row is trusted only once it is); a token whose
    technician is stored as claimed needs no write, so every worker can verify it independently.
    """
    params = {"account_id": account_id, "subject": unverified_subject(bearer)}
    row = await fetch_one(db, _ACCOUNT_AND_TECHNICIAN, params)
    if row is None:
        raise AuthenticationFailed("the embed token is invalid")
    claims = verify_embed_token(bearer, decrypt_text(secret_key, EMBED_SECRET_PURPOSE, row["embed_secret_encrypted"]))
    if row["id"] is None:
        return _VerifiedToken(claims=claims, user_id=None, changed=True)
    name, email = claims.name, claims.email
    differs = bool((name and row["display_name"] != name) or (email and row["email"] != email))
    stale = datetime.now(UTC) - row["last_seen_at"] > _TOUCH_INTERVAL
    return _VerifiedToken(claims=claims, user_id=row["id"], changed=differs or stale)


async def _store_technician(session: AsyncSession, account_id: uuid.UUID, claims: EmbedClaims) -> uuid.UUID:
    """Create or update the technician an embed token names; its id."""
    now = datetime.now(UTC)
    # ON CONFLICT: two first requests of the same technician at once must not fail one of them.
    insert = pg_insert(User).values(
        account_id=account_id,
        external_id=claims.user_external_id,
        display_name=claims.name,
        email=claims.email,
        last_seen_at=now,
    )
    stored = await session.execute(
        insert.on_conflict_do_update(
            constraint="uq_users_account_external",
            set_={
                "display_name": func.coalesce(insert.excluded.display_name, User.display_name),
                "email": func.coalesce(insert.excluded.email, User.email),
                "last_seen_at": now,
            },
        ).returning(User.id)
    )
    user_id: uuid.UUID = stored.scalar_one()
    return user_id


class _TokenCache:
    """Embed tokens this process verified recently, with the principal they gave.

    A widget sends the same token with every request for its lifetime; verifying it and
    upserting its technician each time is most of a read's database round trips. An entry
    lives until the token expires or ``max_age`` passes (then the full check runs again and
    the technician's ``last_seen_at`` and profile are refreshed), so a change of the
    account's embed secret is honoured within ``max_age``. Per process, like the pool.
    """

    def __init__(self, *, max_age: float = 300.0, capacity: int = 10_000) -> None:
        self.max_age, self.capacity = max_age, capacity
        self._entries: dict[str, tuple[float, Principal]] = {}

    def get(self, token: str) -> Principal | None:
        entry = self._entries.get(sha256_hex(token))
        if entry is None:
            return None
        deadline, principal = entry
        if time.time() >= deadline:
            self._entries.pop(sha256_hex(token), None)
            return None
        return principal

    def put(self, token: str, principal: Principal, *, expires_at: int) -> None:
        if len(self._entries) >= self.capacity:
            now = time.time()
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            if len(self._entries) >= self.capacity:
                self._entries.clear()
        self._entries[sha256_hex(token)] = (min(float(expires_at), time.time() + self.max_age), principal)

    def clear(self) -> None:
        self._entries.clear()


_known_tokens = _TokenCache()


async def upsert_user(
    session: AsyncSession, account_id: uuid.UUID, external_id: str, name: str | None, email: str | None
) -> User:
    """The technician behind an embed token, created on first sight and kept up to date."""
    # ON CONFLICT: two first requests of the same technician at once must not fail one of them.
    await session.execute(
        pg_insert(User)
        .values(account_id=account_id, external_id=external_id, display_name=name, email=email)
        .on_conflict_do_nothing(constraint="uq_users_account_external")
    )
    user = (
        await session.execute(select(User).where(User.account_id == account_id, User.external_id == external_id))
    ).scalar_one()
    now = datetime.now(UTC)
    if (name and user.display_name != name) or (email and user.email != email):
        user.display_name = name or user.display_name
        user.email = email or user.email
    if now - user.last_seen_at > _TOUCH_INTERVAL:
        user.last_seen_at = now
    return user


def user_out(user: User) -> UserOut:
    return msgspec.convert(user, UserOut, from_attributes=True)
