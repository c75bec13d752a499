"""Authentication: API keys, embed tokens, and the 401s a caller sees."""

from __future__ import annotations

import time

import jwt
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from flowpilot_core.db.engine import DatabaseUrls
from tests.conftest import Tenant, make_tenant

Client = AsyncTestClient[Litestar]


@pytest.mark.parametrize(
    ("header", "detail_part"),
    (
        (None, "missing Authorization"),
        ("Basic dXNlcjpwYXNz", "must be 'Bearer"),
        ("Bearer not-a-token", "neither an API key nor a valid embed token"),
        ("Bearer fp_00000000000000000000000000000000_nope", "invalid or revoked API key"),
        ("Bearer fp_zz", "invalid API key"),
    ),
)
async def test_missing_or_malformed_credentials_are_401_problems(
    client: Client, header: str | None, detail_part: str
) -> None:
    response = await client.get("/api/v1/ai-sessions", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert body["status"] == 401 and detail_part in body["detail"]


async def test_expired_embed_token_is_401_saying_expired(client: Client, tenant: Tenant) -> None:
    old = int(time.time()) - 3600
    response = await client.get("/api/v1/me", headers=tenant.headers(now=old, ttl_seconds=60))
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


async def test_token_signed_with_another_secret_is_401(client: Client, tenant: Tenant) -> None:
    forged = jwt.encode(
        {"aid": str(tenant.account_id), "sub": "x", "iat": int(time.time()), "exp": int(time.time()) + 60},
        "not-the-secret",
        algorithm="HS256",
    )
    response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


async def test_token_for_one_account_signed_by_another_accounts_secret_is_401(
    client: Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    token = jwt.encode(
        {"aid": str(tenant.account_id), "sub": "x", "iat": int(time.time()), "exp": int(time.time()) + 60},
        other_tenant.embed_secret,
        algorithm="HS256",
    )
    assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401


async def test_embed_token_creates_the_user_on_first_sight(client: Client, tenant: Tenant) -> None:
    headers = tenant.headers(user_id="host-42", name="Sam Rivera", email="sam@msp.example")
    me = (await client.get("/api/v1/me", headers=headers)).json()
    assert me["auth"] == "embed_token"
    assert me["account"]["id"] == str(tenant.account_id)
    assert me["user"]["external_id"] == "host-42"
    assert me["user"]["display_name"] == "Sam Rivera" and me["user"]["email"] == "sam@msp.example"
    again = (await client.get("/api/v1/me", headers=tenant.headers(user_id="host-42", name="Sam R."))).json()
    assert again["user"]["id"] == me["user"]["id"]
    assert again["user"]["display_name"] == "Sam R."


async def test_api_key_mints_embed_tokens_that_work(client: Client, tenant: Tenant) -> None:
    response = await client.post(
        "/api/v1/embed/tokens",
        json={"user": {"id": "u-7", "name": "Kim"}, "ticket": {"summary": "Printer", "ref": "T-1"}, "ttl_seconds": 120},
        headers=tenant.api_headers,
    )
    assert response.status_code == 201, response.text
    minted = response.json()
    assert minted["expires_at"] - time.time() <= 121
    me = (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {minted['token']}"})).json()
    assert me["user"]["external_id"] == "u-7"


async def test_embed_token_cannot_mint_tokens(client: Client, tenant: Tenant) -> None:
    response = await client.post("/api/v1/embed/tokens", json={"user": {"id": "u"}}, headers=tenant.headers())
    assert response.status_code == 403


async def test_mint_rejects_bad_payload_naming_the_field(client: Client, tenant: Tenant) -> None:
    response = await client.post(
        "/api/v1/embed/tokens", json={"user": {"id": "u"}, "ttl_seconds": 999999}, headers=tenant.api_headers
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "ttl_seconds"


async def test_revoked_api_key_is_401(client: Client, db_urls: DatabaseUrls) -> None:
    from sqlalchemy import select
    from sqlalchemy.pool import NullPool

    from flowpilot_core.accounts import accounts
    from flowpilot_core.db.engine import create_engine, make_sessionmaker, tenant_session

    fresh = make_tenant(db_urls, "Revoker")
    assert (await client.get("/api/v1/me", headers=fresh.api_headers)).status_code == 200
    engine = create_engine(db_urls.app, poolclass=NullPool)
    async with tenant_session(make_sessionmaker(engine), fresh.account_id) as db:
        key_id = (await db.execute(select(accounts.ApiKey.id))).scalar_one()
        await accounts.revoke_api_key(db, fresh.account_id, key_id)
    await engine.dispose()
    assert (await client.get("/api/v1/me", headers=fresh.api_headers)).status_code == 401


async def test_a_known_embed_token_skips_the_user_lookup_but_a_new_token_updates_the_profile(
    client: Client, tenant: Tenant
) -> None:
    """The process remembers a verified token (fewer round trips per read); the profile follows new tokens."""
    first = tenant.headers(user_id="tech-cache", name="Dana")
    me = (await client.get("/api/v1/me", headers=first)).json()
    assert me["user"]["display_name"] == "Dana"
    renamed = tenant.headers(user_id="tech-cache", name="Dana Smith", now=int(time.time()) + 1)
    assert (await client.get("/api/v1/me", headers=renamed)).json()["user"]["display_name"] == "Dana Smith"
    # The first token still works and names the same technician (whose stored profile is the newer one).
    again = (await client.get("/api/v1/me", headers=first)).json()
    assert again["user"]["id"] == me["user"]["id"] and again["user"]["display_name"] == "Dana Smith"


async def test_usage_and_cost_are_for_admins_only(client: Client, tenant: Tenant) -> None:
    """A technician's token may work sessions but not read what the account's AI costs; an admin's token
    (minted with role admin) and an API key may. /me says which the caller is."""
    technician = await client.get("/api/v1/usage", headers=tenant.headers())
    assert technician.status_code == 403
    assert "MSP admins" in technician.json()["detail"]
    assert (await client.get("/api/v1/me", headers=tenant.headers())).json()["role"] == "technician"

    admin = tenant.headers(user_id="admin-1", role="admin")
    assert (await client.get("/api/v1/usage", headers=admin)).status_code == 200
    assert (await client.get("/api/v1/me", headers=admin)).json()["role"] == "admin"
    assert (await client.get("/api/v1/usage", headers=tenant.api_headers)).status_code == 200
    assert (await client.get("/api/v1/me", headers=tenant.api_headers)).json()["role"] == "admin"

    minted = await client.post(
        "/api/v1/embed/tokens", json={"user": {"id": "admin-2", "role": "admin"}}, headers=tenant.api_headers
    )
    assert minted.status_code == 201, minted.text
    bearer = {"Authorization": f"Bearer {minted.json()['token']}"}
    assert (await client.get("/api/v1/usage", headers=bearer)).status_code == 200


async def test_a_role_the_api_does_not_know_is_refused(client: Client, tenant: Tenant) -> None:
    bad = await client.post(
        "/api/v1/embed/tokens", json={"user": {"id": "u", "role": "owner"}}, headers=tenant.api_headers
    )
    assert bad.status_code == 400, bad.text
    assert bad.json()["errors"][0]["field"] == "user.role" or "role" in bad.json()["detail"]
    # Signed with the account's secret but claiming a role FlowPilot does not have: not a valid token.
    forged = jwt.encode(
        {"aid": str(tenant.account_id), "sub": "u", "role": "superuser", "iat": int(time.time()),
         "exp": int(time.time()) + 60},
        tenant.embed_secret,
        algorithm="HS256",
    )  # fmt: skip
    response = await client.get("/api/v1/usage", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert "role" in response.json()["detail"]
