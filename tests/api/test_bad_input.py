"""Bad input gets a clear 4xx naming what is wrong, never a 500 (issue 9), one regression test per finding."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from flowpilot_core.accounts.embed_tokens import mint_embed_token
from flowpilot_core.accounts.origins import normalize_origin
from flowpilot_core.errors import InvalidInput
from tests.conftest import Tenant

Client = AsyncTestClient[Litestar]


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


def _fields(body: dict[str, Any]) -> list[str]:
    return [e["field"] for e in body.get("errors", [])]


# ---- NUL ----


@pytest.mark.parametrize(
    ("body", "field"),
    (
        ({"problem_statement": "printer\u0000down"}, "problem_statement"),
        ({"problem_statement": "x", "ticket": {"summary": "a\u0000"}}, "ticket.summary"),
        ({"problem_statement": "x", "title": "\u0000"}, "title"),
    ),
)
async def test_nul_in_a_text_field_is_422_naming_the_field(
    client: Client, tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    problem = _problem(await client.post("/api/v1/ai-sessions", json=body, headers=tenant.api_headers), 422)
    assert _fields(problem) == [field]
    assert "NUL" in problem["detail"]


async def test_nul_in_a_query_parameter_is_422_naming_it(client: Client, tenant: Tenant) -> None:
    response = await client.get("/api/v1/ai-sessions", params={"q": "print\u0000er"}, headers=tenant.api_headers)
    assert _fields(_problem(response, 422)) == ["q"]


async def test_nul_in_an_embed_token_claim_is_401_naming_the_claim(client: Client, tenant: Tenant) -> None:
    now = int(time.time())
    token = jwt.encode(
        {"aid": str(tenant.account_id), "sub": "tech\u0000", "iat": now, "exp": now + 60},
        tenant.embed_secret,
        algorithm="HS256",
    )
    problem = _problem(await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}), 401)
    assert "invalid embed token" in problem["detail"] and "sub" in problem["detail"]


# ---- Embed-token claims ----

BAD_CLAIMS = (
    ({"name": {"first": "Dana"}}, "name"),
    ({"email": ["a@b.example"]}, "email"),
    ({"sub": "x" * 201}, "sub"),
    ({"sub": ""}, "sub"),
    ({"sub": "   "}, "sub"),
    ({"sub": 42}, "sub"),
    ({"ticket": {"summary": 7}}, "ticket.summary"),
    ({"ticket": {"provider": "p" * 65}}, "ticket.provider"),
    ({"ticket": {"colour": "red"}}, "ticket"),
    ({"ticket": "T-1"}, "ticket"),
)


@pytest.mark.parametrize(("claims", "claim"), BAD_CLAIMS)
async def test_signed_token_with_bad_claims_is_401_naming_the_claim(
    client: Client, tenant: Tenant, claims: dict[str, Any], claim: str
) -> None:
    now = int(time.time())
    token = jwt.encode(
        {"aid": str(tenant.account_id), "sub": "tech-1", "iat": now, "exp": now + 60, **claims},
        tenant.embed_secret,
        algorithm="HS256",
    )
    for path in ("/api/v1/me", "/api/v1/ai-sessions"):
        problem = _problem(await client.get(path, headers={"Authorization": f"Bearer {token}"}), 401)
        assert problem["detail"].startswith(f"invalid embed token: claim {claim}:"), problem["detail"]


@pytest.mark.parametrize(("claims", "claim"), BAD_CLAIMS)
def test_mint_embed_token_refuses_the_same_claims(tenant: Tenant, claims: dict[str, Any], claim: str) -> None:
    kwargs: dict[str, Any] = {"user_id": claims.get("sub", "tech-1")}
    for key in ("name", "email", "ticket"):
        if key in claims:
            kwargs[key] = claims[key]
    with pytest.raises(InvalidInput) as raised:
        mint_embed_token(account_id=tenant.account_id, secret=tenant.embed_secret, **kwargs)
    expected = {"sub": "user.id", "name": "user.name", "email": "user.email"}.get(claim, claim)
    assert raised.value.field == expected


@pytest.mark.parametrize(
    ("body", "field"),
    (
        ({"user": {"id": ""}}, "user.id"),
        ({"user": {"id": "   "}}, "user.id"),
        ({"user": {"id": "x" * 201}}, "user.id"),
        ({"user": {"id": "u", "name": {"a": 1}}}, "user.name"),
        ({"user": {"id": "u"}, "ticket": {"summary": 7}}, "ticket.summary"),
        ({"user": {"id": "u"}, "ticket": {"provider": "p" * 65}}, "ticket.provider"),
    ),
)
async def test_mint_endpoint_refuses_the_same_claims(
    client: Client, tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/v1/embed/tokens", json=body, headers=tenant.api_headers)
    assert response.status_code in (400, 422), response.text
    assert _fields(response.json()) == [field]


# ---- JSON ----


async def test_json_nested_10000_deep_is_400_nested_too_deeply(client: Client, tenant: Tenant) -> None:
    deep = "[" * 10_000 + "]" * 10_000
    for body in (deep, json.dumps({"problem_statement": "x", "ticket": {"summary": "s"}})[:-1] + f', "x": {deep}}}'):
        response = await client.post(
            "/api/v1/ai-sessions", content=body, headers={**tenant.api_headers, "content-type": "application/json"}
        )
        problem = _problem(response, 400)
        assert "JSON nested too deeply" in problem["detail"]


async def test_malformed_json_is_400_naming_the_body(client: Client, tenant: Tenant) -> None:
    response = await client.post(
        "/api/v1/ai-sessions",
        content=b'{"problem_statement": ',
        headers={**tenant.api_headers, "content-type": "application/json"},
    )
    problem = _problem(response, 400)
    assert _fields(problem) == ["body"] and "not valid JSON" in problem["detail"]


@pytest.mark.parametrize("number", ("1e400", "-1e999", "123456789012345678901234567890"))
async def test_number_out_of_range_names_the_field(client: Client, tenant: Tenant, number: str) -> None:
    body = '{"user": {"id": "u"}, "ttl_seconds": ' + number + "}"
    response = await client.post(
        "/api/v1/embed/tokens", content=body, headers={**tenant.api_headers, "content-type": "application/json"}
    )
    assert response.status_code in (400, 422), response.text
    assert _fields(response.json()) == ["ttl_seconds"]


@pytest.mark.parametrize("content_type", ("text/plain", "application/x-www-form-urlencoded", None))
async def test_a_json_body_with_another_content_type_is_415(
    client: Client, tenant: Tenant, content_type: str | None
) -> None:
    headers = {**tenant.api_headers, **({"content-type": content_type} if content_type else {})}
    response = await client.post("/api/v1/ai-sessions", content=json.dumps({"problem_statement": "x"}), headers=headers)
    problem = _problem(response, 415)
    assert _fields(problem) == ["content-type"]
    listed = await client.get("/api/v1/ai-sessions", headers=tenant.api_headers)
    assert listed.json()["items"] == [], "a refused body must not have created a session"


async def test_json_with_a_structured_suffix_is_accepted(client: Client, tenant: Tenant) -> None:
    response = await client.post(
        "/api/v1/ai-sessions",
        content=json.dumps({"problem_statement": "x"}),
        headers={**tenant.api_headers, "content-type": "application/merge-patch+json; charset=utf-8"},
    )
    assert response.status_code == 201, response.text


# ---- Allowed embedding origins ----


@pytest.mark.parametrize(
    "origin",
    (
        "https://portal.example *",
        "*",
        "https://*.example.com",
        "https://portal.example.com; sandbox allow-scripts",
        "https://portal.example.com;sandbox",
        "https://portal.example.com:99999",
        "https://portal.example.com:0",
        "https://portal.example.com/path",
        "https://portal.example.com?x=1",
        "https://user@portal.example.com",
        "ftp://portal.example.com",
        " https://portal.example.com",
        "https://-bad-.example.com",
        "https://999.1.1.1",
        "https://[not-ipv6]",
        "portal.example.com",
    ),
)
async def test_invalid_origins_are_422_and_change_nothing(client: Client, tenant: Tenant, origin: str) -> None:
    tenant.allow_origin("https://kept.example.com")
    response = await client.put(
        "/api/v1/account/allowed-origins", json={"allowed_origins": [origin]}, headers=tenant.api_headers
    )
    assert _fields(_problem(response, 422)) == ["allowed_origins"]
    csp = (await client.get("/pilot", params={"account": str(tenant.account_id)})).headers["content-security-policy"]
    assert "frame-ancestors 'self' https://kept.example.com;" in csp


@pytest.mark.parametrize(
    ("origin", "normal"),
    (
        ("HTTPS://Portal.Example.com/", "https://portal.example.com"),
        ("https://portal.example.com:8443", "https://portal.example.com:8443"),
        ("https://portal.example.com:443", "https://portal.example.com"),
        ("http://10.0.0.5:8080", "http://10.0.0.5:8080"),
        ("http://localhost:8001", "http://localhost:8001"),
        ("https://[::1]:8443", "https://[::1]:8443"),
    ),
)
def test_valid_origins_are_normalised(origin: str, normal: str) -> None:
    assert normalize_origin(origin) == normal


# ---- A signed ticket claim ----

SIGNED_TICKET = {"provider": "connectwise", "ref": "T-100", "summary": "Printer offline"}


@pytest.mark.parametrize(
    ("body", "field"),
    (
        ({"ticket_ref": "T-999"}, "ticket_ref"),
        ({"psa_provider": "autotask"}, "psa_provider"),
        ({"ticket": {"ref": "T-999"}}, "ticket.ref"),
    ),
)
async def test_a_body_naming_another_ticket_than_the_signed_one_is_409(
    client: Client, tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    headers = tenant.headers(ticket=SIGNED_TICKET)
    response = await client.post("/api/v1/ai-sessions", json={"problem_statement": "x", **body}, headers=headers)
    assert _fields(_problem(response, 409)) == [field]


async def test_the_signed_ticket_claim_wins_over_the_body(client: Client, tenant: Tenant) -> None:
    headers = tenant.headers(ticket=SIGNED_TICKET)
    body = {
        "problem_statement": "x",
        "ticket_ref": "T-100",
        "psa_provider": "connectwise",
        "ticket": {"summary": "Something else", "company": "Contoso"},
    }
    response = await client.post("/api/v1/ai-sessions", json=body, headers=headers)
    assert response.status_code == 201, response.text
    session = response.json()
    assert (session["ticket_ref"], session["psa_provider"]) == ("T-100", "connectwise")
    assert session["ticket"] == {"summary": "Printer offline", "company": "Contoso"}


# ---- The OpenAPI document and /schema ----


async def test_openapi_documents_problem_responses(client: Client) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    assert document["components"]["schemas"]["Problem"]["properties"]["errors"]["type"] == "array"
    create = document["paths"]["/api/v1/ai-sessions"]["post"]["responses"]
    for status in ("400", "401", "409", "415", "422", "503"):
        assert list(create[status]["content"]) == ["application/problem+json"], status
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if path.startswith("/api/") and isinstance(operation, dict) and "responses" in operation:
                assert "401" in operation["responses"], f"{method} {path}"
    assert document["components"]["schemas"]["CreateSession"]["additionalProperties"] is False


async def test_api_docs_load_nothing_from_elsewhere_and_send_the_pilot_headers(client: Client) -> None:
    docs = await client.get("/schema")
    pilot = await client.get("/pilot")
    assert docs.status_code == 200 and docs.headers["content-type"] == "text/html; charset=utf-8"
    assert "createSession" in docs.text and "/api/v1/ai-sessions" in docs.text
    assert "cdn" not in docs.text.lower() and "<script" not in docs.text
    assert 'src="http' not in docs.text and 'href="http' not in docs.text
    for header in ("content-security-policy", "x-content-type-options", "referrer-policy"):
        assert docs.headers[header] == pilot.headers[header], header
    css = await client.get("/schema/api-reference.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert (await client.get("/schema/openapi.json")).json()["info"]["title"] == "FlowPilot API"
