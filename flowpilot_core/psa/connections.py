"""PSA connections per account: which PSA, its credentials (encrypted at rest, never returned), and the
statuses a resolved or escalated ticket gets.

The status mapping names a status as the PSA shows it (``"Closed"``) or by id; the
writeback resolves names to ids from the ticket's own status list, because status ids
differ per board (ConnectWise) or per tenant.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

import msgspec
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from flowpilot_core.crypto import decrypt_text, encrypt_text
from flowpilot_core.db.models import PsaConnection
from flowpilot_core.errors import Conflict, InvalidInput, NotFound
from flowpilot_core.hookspecs import PsaProviderFactory
from flowpilot_core.psa.provider import PSAProvider

PURPOSE = "psa-connection"
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
StatusName = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class StatusMapping(msgspec.Struct, forbid_unknown_fields=True):
    resolved: StatusName
    """The status a resolved ticket gets (name as the PSA shows it, or its id)."""
    escalated: StatusName | None = None
    """The status an escalated ticket gets; without it an escalation posts the package and leaves the status."""


class CreatePsaConnection(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``POST /api/v1/psa-connections``; ``config`` is the provider's (credentials included)."""

    provider: Annotated[str, msgspec.Meta(pattern="^[a-z][a-z0-9_]{0,63}$")]
    name: Name
    config: dict[str, Any]
    statuses: StatusMapping
    is_default: bool = False


class UpdatePsaConnection(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``PATCH /api/v1/psa-connections/{id}``: what is omitted (or null) stays as it is."""

    name: Name | None = None
    config: dict[str, Any] | None = None
    """Keys to change in the stored config (a null value removes the key); the provider validates the result."""
    statuses: StatusMapping | None = None
    """The whole mapping (``resolved``, and ``escalated`` or none)."""
    is_default: bool | None = None


class PsaConnectionOut(msgspec.Struct):
    id: uuid.UUID
    provider: str
    name: str
    statuses: StatusMapping
    is_default: bool
    created_at: datetime
    updated_at: datetime
    """The config (credentials) is never returned."""


class _Stored(msgspec.Struct):
    config: dict[str, Any]
    statuses: StatusMapping


def _stored(row: PsaConnection, secret_key: str) -> _Stored:
    return msgspec.json.decode(decrypt_text(secret_key, PURPOSE, row.config_encrypted), type=_Stored)


def _out(row: PsaConnection, secret_key: str) -> PsaConnectionOut:
    return PsaConnectionOut(
        id=row.id,
        provider=row.provider,
        name=row.name,
        statuses=_stored(row, secret_key).statuses,
        is_default=row.is_default,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _factory(providers: Mapping[str, PsaProviderFactory], name: str) -> PsaProviderFactory:
    factory = providers.get(name)
    if factory is None:
        known = ", ".join(sorted(providers)) or "none"
        raise InvalidInput(f"PSA provider {name!r} is not installed (installed: {known})", field="provider")
    return factory


async def create_connection(
    db: AsyncSession,
    account_id: uuid.UUID,
    data: CreatePsaConnection,
    secret_key: str,
    providers: Mapping[str, PsaProviderFactory],
) -> PsaConnectionOut:
    await _validate(providers, data.provider, data.config)
    row = PsaConnection(
        account_id=account_id,
        provider=data.provider,
        name=data.name,
        config_encrypted=_encrypt(secret_key, _Stored(config=data.config, statuses=data.statuses)),
        is_default=data.is_default,
    )
    try:
        async with db.begin_nested():
            db.add(row)
            await db.flush()
    except IntegrityError:
        raise Conflict(f"a PSA connection named {data.name!r} exists already", field="name") from None
    if data.is_default:
        await _only_default(db, account_id, row.id)
    await db.refresh(row)
    return _out(row, secret_key)


async def _validate(providers: Mapping[str, PsaProviderFactory], provider: str, config: dict[str, Any]) -> None:
    """The provider validates the config before anything is stored (its typed Config, for the built-ins)."""
    factory = _factory(providers, provider)
    try:
        built = factory(dict(config))
    except (TypeError, ValueError, msgspec.ValidationError) as exc:
        raise InvalidInput(f"config for {provider}: {exc}", field="config") from None
    closer = getattr(built, "aclose", None)
    if callable(closer):
        await closer()  # nothing was sent; release the HTTP client the provider may have made


def _encrypt(secret_key: str, stored: _Stored) -> str:
    return encrypt_text(secret_key, PURPOSE, msgspec.json.encode(stored).decode())


async def _only_default(db: AsyncSession, account_id: uuid.UUID, connection_id: uuid.UUID) -> None:
    """One default connection per account: marking one clears the others."""
    await db.execute(
        update(PsaConnection)
        .where(PsaConnection.account_id == account_id, PsaConnection.id != connection_id, PsaConnection.is_default)
        .values(is_default=False)
    )


async def update_connection(
    db: AsyncSession,
    account_id: uuid.UUID,
    connection_id: uuid.UUID,
    data: UpdatePsaConnection,
    secret_key: str,
    providers: Mapping[str, PsaProviderFactory],
) -> PsaConnectionOut:
    """Change a connection; a changed config is merged into the stored one and validated before it is stored."""
    row = await get_connection_row(db, account_id, connection_id, lock=True)
    stored = _stored(row, secret_key)
    config, statuses = stored.config, data.statuses or stored.statuses
    if data.config is not None:
        config = {k: v for k, v in {**stored.config, **data.config}.items() if v is not None}
        await _validate(providers, row.provider, config)
    if data.config is not None or data.statuses is not None:
        row.config_encrypted = _encrypt(secret_key, _Stored(config=config, statuses=statuses))
    if data.name is not None:
        row.name = data.name
    if data.is_default is not None:
        row.is_default = data.is_default
    try:
        async with db.begin_nested():
            await db.flush()
    except IntegrityError:
        raise Conflict(f"a PSA connection named {data.name!r} exists already", field="name") from None
    if data.is_default:
        await _only_default(db, account_id, row.id)
    await db.refresh(row)
    return _out(row, secret_key)


async def list_connections(db: AsyncSession, account_id: uuid.UUID, secret_key: str) -> list[PsaConnectionOut]:
    rows = await db.execute(
        select(PsaConnection).where(PsaConnection.account_id == account_id).order_by(PsaConnection.name)
    )
    return [_out(r, secret_key) for r in rows.scalars()]


async def get_connection_row(
    db: AsyncSession, account_id: uuid.UUID, connection_id: uuid.UUID, *, lock: bool = False
) -> PsaConnection:
    """The connection, or :class:`NotFound`: another account's connection is indistinguishable from none."""
    query = select(PsaConnection).where(PsaConnection.id == connection_id, PsaConnection.account_id == account_id)
    row = (await db.execute(query.with_for_update() if lock else query)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"PSA connection {connection_id} not found")
    return row


async def delete_connection(db: AsyncSession, account_id: uuid.UUID, connection_id: uuid.UUID) -> None:
    await db.delete(await get_connection_row(db, account_id, connection_id))


async def connection_for(
    db: AsyncSession, account_id: uuid.UUID, *, connection_id: uuid.UUID | None, provider: str | None
) -> PsaConnection | None:
    """The session's connection: the one it names, else the account's default one for its provider."""
    if connection_id is not None:
        return await get_connection_row(db, account_id, connection_id)
    query = select(PsaConnection).where(PsaConnection.account_id == account_id)
    if provider:
        query = query.where(PsaConnection.provider == provider)
    rows = list((await db.execute(query.order_by(PsaConnection.is_default.desc(), PsaConnection.name))).scalars())
    return rows[0] if rows and (provider or rows[0].is_default) else None


def open_provider(
    row: PsaConnection, secret_key: str, providers: Mapping[str, PsaProviderFactory]
) -> tuple[PSAProvider, StatusMapping]:
    """A live provider for the connection and its status mapping."""
    stored = _stored(row, secret_key)
    provider = _factory(providers, row.provider)(dict(stored.config))
    if not isinstance(provider, PSAProvider):
        raise TypeError(f"PSA provider {row.provider!r} does not implement PSAProvider")
    return provider, stored.statuses


async def connection_named(db: AsyncSession, account_id: uuid.UUID, name: str) -> PsaConnection:
    """The account's connection called ``name`` (what the CLI names connections by), or :class:`NotFound`."""
    query = select(PsaConnection).where(PsaConnection.account_id == account_id, PsaConnection.name == name)
    row = (await db.execute(query)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"the account has no PSA connection named {name!r}")
    return row
