"""Signing in a technician whose PSA hosts FlowPilot (a ConnectWise pod): the PSA vouches, FlowPilot mints.

A PSA that shows FlowPilot inside its own screens hands the frame the signed-in member's
identity and a hash of their PSA session. That payload comes from the browser, so it is
only a claim: :func:`mint_for_hosted_member` asks the PSA, through the account's
connection and its provider's :class:`~flowpilot_core.psa.provider.HostedMemberVerifier`,
whether the session is live, and only then mints FlowPilot's own short-lived embed token
for that member, opened on the ticket on screen.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Annotated

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core.accounts.accounts import embed_secret
from flowpilot_core.accounts.embed_tokens import DEFAULT_TTL_SECONDS, mint_embed_token
from flowpilot_core.db.engine import tenant_session
from flowpilot_core.db.models import PsaConnection
from flowpilot_core.errors import AuthenticationFailed
from flowpilot_core.hookspecs import PsaProviderFactory
from flowpilot_core.psa.connections import open_provider
from flowpilot_core.psa.errors import PSAAuthFailed
from flowpilot_core.psa.provider import HostedMember, HostedMemberVerifier

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


_CONNECTWISE_NAMES = {
    "company": "companyid", "member_id": "memberid", "member_hash": "memberHash", "email": "memberEmail",
}  # fmt: skip


class HostedMemberAuth(msgspec.Struct, forbid_unknown_fields=True, rename=_CONNECTWISE_NAMES):
    """What ConnectWise's ``getMemberAuthentication`` answers a pod, under its own names."""

    company: Text
    member_id: Text
    member_hash: Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
    email: Annotated[str, msgspec.Meta(max_length=320)] | None = None


class ScreenObject(msgspec.Struct, forbid_unknown_fields=True):
    """What ``getScreenObject`` answers: the record on screen (a ticket's id when ``screen`` is ``ticket``)."""

    id: Annotated[str, msgspec.Meta(max_length=200)] | int
    screen: Annotated[str, msgspec.Meta(max_length=40)]


class HostedTokenRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``POST /api/v1/embed/connectwise-pod/token``."""

    account_id: uuid.UUID
    member: HostedMemberAuth
    screen: ScreenObject | None = None


class HostedToken(msgspec.Struct):
    token: str
    expires_at: int
    member: str
    ticket_ref: str | None


async def _connections(db: AsyncSession, account_id: uuid.UUID, provider: str) -> list[PsaConnection]:
    query = select(PsaConnection).where(PsaConnection.account_id == account_id, PsaConnection.provider == provider)
    return list((await db.execute(query.order_by(PsaConnection.is_default.desc(), PsaConnection.name))).scalars())


async def _verified(
    rows: list[PsaConnection], auth: HostedMemberAuth, secret_key: str, providers: Mapping[str, PsaProviderFactory]
) -> HostedMember:
    refused: PSAAuthFailed | None = None
    for row in rows:
        provider, _ = open_provider(row, secret_key, providers)
        try:
            if not isinstance(provider, HostedMemberVerifier):
                raise PSAAuthFailed(f"the {row.provider} provider cannot confirm a hosted member")
            return await provider.verify_member(
                company=auth.company, member_id=auth.member_id, member_hash=auth.member_hash
            )
        except PSAAuthFailed as exc:
            refused = exc
        finally:
            await provider.aclose()
    raise AuthenticationFailed(refused.detail if refused else "this account has no connection to that PSA")


async def mint_for_hosted_member(
    sessionmaker: async_sessionmaker[AsyncSession],
    request: HostedTokenRequest,
    *,
    provider: str,
    secret_key: str,
    providers: Mapping[str, PsaProviderFactory],
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
) -> HostedToken:
    """An embed token for the member ``request`` names, once the PSA confirmed them; else ``AuthenticationFailed``.

    Another account's id, an account without a connection to ``provider``, a company that is
    not the connection's and a session the PSA does not confirm all read the same to the
    caller (401), so the endpoint tells a stranger nothing about the account.
    """
    async with tenant_session(sessionmaker, request.account_id) as db:
        rows = await _connections(db, request.account_id, provider)
        secret = await embed_secret(db, request.account_id, secret_key) if rows else None
    if not rows or secret is None:
        raise AuthenticationFailed(f"this account has no {provider} connection for the pod's company")
    member = await _verified(rows, request.member, secret_key, providers)
    screen = request.screen
    ticket_ref = str(screen.id) if screen is not None and screen.screen.lower() == "ticket" else None
    now = int(time.time())
    token = mint_embed_token(
        account_id=request.account_id,
        secret=secret,
        user_id=f"{provider}:{member.identifier}",
        name=member.name or member.identifier,
        email=member.email,  # the one ConnectWise returned, not the browser's
        ticket={"provider": provider, "ref": ticket_ref} if ticket_ref else None,
        ttl_seconds=ttl_seconds,
        now=now,
    )
    return HostedToken(token=token, expires_at=now + ttl_seconds, member=member.identifier, ticket_ref=ticket_ref)
