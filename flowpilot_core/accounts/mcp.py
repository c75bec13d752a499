"""Account-level MCP servers, offered to AI services whose MCP capability flag allows them.

Credentials are encrypted at rest; they are decrypted only to build the connector
definitions of one call.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

import msgspec
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from flowpilot_core.crypto import decrypt_text, encrypt_text
from flowpilot_core.db.models import McpServer
from flowpilot_core.errors import Conflict, InvalidInput, NotFound

PURPOSE = "mcp-server-credentials"
_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


class CreateMcpServer(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    url: Annotated[str, msgspec.Meta(max_length=2000)]
    authorization_token: Annotated[str, msgspec.Meta(max_length=4000)] | None = None
    enabled: bool = True


class McpServerOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    url: str
    has_credentials: bool
    enabled: bool
    created_at: datetime


def _out(row: McpServer) -> McpServerOut:
    return McpServerOut(
        id=row.id,
        name=row.name,
        url=row.url,
        has_credentials=bool(row.credentials_encrypted),
        enabled=row.enabled,
        created_at=row.created_at,
    )


async def create_server(
    db: AsyncSession, account_id: uuid.UUID, data: CreateMcpServer, secret_key: str
) -> McpServerOut:
    if not _NAME.match(data.name):
        raise InvalidInput("name may contain letters, digits, '-' and '_' only", field="name")
    parts = urlsplit(data.url)
    if parts.scheme != "https" or not parts.hostname:
        raise InvalidInput("url must be an https:// URL (the MCP connector reaches public HTTPS servers)", field="url")
    row = McpServer(
        account_id=account_id,
        name=data.name,
        url=data.url,
        enabled=data.enabled,
        credentials_encrypted=encrypt_text(secret_key, PURPOSE, data.authorization_token)
        if data.authorization_token
        else None,
    )
    db.add(row)
    try:
        async with db.begin_nested():
            await db.flush()
    except IntegrityError:
        raise Conflict(f"an MCP server named {data.name!r} already exists", field="name") from None
    await db.refresh(row)
    return _out(row)


async def list_servers(db: AsyncSession, account_id: uuid.UUID) -> list[McpServerOut]:
    rows = await db.execute(select(McpServer).where(McpServer.account_id == account_id).order_by(McpServer.name))
    return [_out(r) for r in rows.scalars()]


async def delete_server(db: AsyncSession, account_id: uuid.UUID, server_id: uuid.UUID) -> None:
    result = await db.execute(delete(McpServer).where(McpServer.id == server_id, McpServer.account_id == account_id))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"MCP server {server_id} not found")


async def connector_definitions(db: AsyncSession, account_id: uuid.UUID, secret_key: str) -> list[dict[str, Any]]:
    """The enabled servers as MCP connector definitions, in a stable order (they are part of the cached prefix)."""
    rows = (
        await db.execute(
            select(McpServer)
            .where(McpServer.account_id == account_id, McpServer.enabled.is_(True))
            .order_by(McpServer.name)
        )
    ).scalars()
    definitions = []
    for row in rows:
        definition: dict[str, Any] = {"type": "url", "url": row.url, "name": row.name}
        if row.credentials_encrypted:
            definition["authorization_token"] = decrypt_text(secret_key, PURPOSE, row.credentials_encrypted)
        definitions.append(definition)
    return definitions
