"""Who am I, my account's embedding settings, and minting embed tokens for host portals."""

from __future__ import annotations

import time
import uuid
from typing import Annotated

import msgspec
from litestar import Controller, get, post, put
from litestar.params import JSONBody

from flowpilot_core.accounts import accounts
from flowpilot_core.accounts.embed_tokens import DEFAULT_TTL_SECONDS, MAX_TTL_SECONDS, Role, mint_embed_token
from flowpilot_core.accounts.origins import MAX_ORIGINS
from flowpilot_core.tickets import Ticket
from flowpilot_server.deps import Ctx, require_api_key


class TokenUser(msgspec.Struct, forbid_unknown_fields=True):
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    name: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    email: Annotated[str, msgspec.Meta(max_length=320)] | None = None
    role: Role = "technician"
    """``admin`` for an MSP admin, who may also read the account's AI usage and cost."""


class MintTokenRequest(msgspec.Struct, forbid_unknown_fields=True):
    user: TokenUser
    ticket: Ticket | None = None
    ttl_seconds: Annotated[int, msgspec.Meta(ge=1, le=MAX_TTL_SECONDS)] = DEFAULT_TTL_SECONDS


class MintedToken(msgspec.Struct):
    token: str
    expires_at: int
    account_id: uuid.UUID


class AllowedOrigins(msgspec.Struct, forbid_unknown_fields=True):
    allowed_origins: Annotated[
        list[Annotated[str, msgspec.Meta(max_length=300)]], msgspec.Meta(max_length=MAX_ORIGINS)
    ]


class AccountController(Controller):
    path = "/api/v1"
    tags = ["account"]

    @get("/me", operation_id="getMe", summary="The calling account and user")
    async def me(self, ctx: Ctx) -> accounts.Me:
        return await accounts.who_am_i(ctx.db, ctx.principal)

    @put(
        "/account/allowed-origins",
        operation_id="setAllowedOrigins",
        summary="Origins allowed to embed FlowPilot (CSP frame-ancestors); API key only",
    )
    async def set_origins(self, ctx: Ctx, data: JSONBody[AllowedOrigins]) -> AllowedOrigins:
        require_api_key(ctx)
        return AllowedOrigins(
            await accounts.set_allowed_origins(ctx.db, ctx.principal.account_id, data.allowed_origins)
        )

    @post(
        "/embed/tokens",
        operation_id="mintEmbedToken",
        status_code=201,
        summary="Mint a short-lived embed token for one technician; API key only",
    )
    async def mint(self, ctx: Ctx, data: JSONBody[MintTokenRequest]) -> MintedToken:
        require_api_key(ctx)
        secret = await accounts.embed_secret(ctx.db, ctx.principal.account_id, ctx.runtime.secret_key)
        now = int(time.time())
        token = mint_embed_token(
            account_id=ctx.principal.account_id,
            secret=secret,
            user_id=data.user.id,
            name=data.user.name,
            email=data.user.email,
            ticket=msgspec.to_builtins(data.ticket) if data.ticket else None,
            ttl_seconds=data.ttl_seconds,
            now=now,
            role=data.user.role,
        )
        return MintedToken(token=token, expires_at=now + data.ttl_seconds, account_id=ctx.principal.account_id)
