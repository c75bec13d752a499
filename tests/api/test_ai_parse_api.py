"""``POST /api/v1/tickets/ai-parse`` over HTTP: labelled tickets with the offline model, bad input,
usage rows, and the Anthropic provider (real SDK) against the fake Messages API."""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from flowpilot_server.app import create_app
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core.ai.tokens import canonical_json, estimate_block_tokens, estimate_text_tokens
from flowpilot_core.config import Settings
from flowpilot_core.db.engine import DatabaseUrls, tenant_session
from flowpilot_core.db.models import AiUsage
from flowpilot_core.testing import FakeAnthropic
from flowpilot_core.tickets.intake import MAX_TEXT_BYTES, PARSE_INSTRUCTIONS, normalise_taxonomy
from tests.api.conftest import ANTHROPIC_TEST_KEY as API_KEY
from tests.conftest import Tenant

Client = AsyncTestClient[Litestar]
URL = "/api/v1/tickets/ai-parse"
SETTINGS_URL = "/api/v1/account/settings"

DATA = Path(__file__).resolve().parents[1] / "data" / "ai_parse"
CASES = sorted(DATA.glob("*.json"))
FIELDS = ("priority", "category", "affected_user", "affected_device", "suggested_board")

PRINTER_TEXT = (
    "From: Tom Reed <tom.reed@contoso.com>\nSubject: printer\n\n"
    "Nobody in accounts can print since 9am, jobs sit in the queue on WS-ACC-04. Error 0x00000709 when I "
    "try to set the default printer."
)


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


async def _usage_rows(sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant) -> list[AiUsage]:
    async with tenant_session(sessionmaker, tenant.account_id) as db:
        rows = (await db.execute(select(AiUsage).order_by(AiUsage.id))).scalars().all()
    return list(rows)


async def _set_taxonomy(client: Client, tenant: Tenant, taxonomy: dict[str, Any]) -> None:
    response = await client.patch(SETTINGS_URL, json={"ticket_taxonomy": taxonomy}, headers=tenant.api_headers)
    assert response.status_code == 200, response.text


def _field_errors(response: Any) -> list[str]:
    return [e["field"] for e in response.json().get("errors", [])]


# ==== the offline model through HTTP =========================================================


@pytest.mark.parametrize("source", ["account", "body"])
@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
async def test_labelled_ticket_through_the_api(client: Client, tenant: Tenant, path: Path, source: str) -> None:
    """Every labelled ticket, with the taxonomy from the account's settings or from the request body."""
    case = _load(path)
    expect, text, taxonomy = case["expect"], case["text"], case["taxonomy"]
    body: dict[str, Any] = {"text": text}
    if taxonomy is not None:
        if source == "account":
            await _set_taxonomy(client, tenant, taxonomy)
        else:
            body["taxonomy"] = taxonomy

    response = await client.post(URL, json=body, headers=tenant.headers())
    assert response.status_code == 200, response.text
    draft = response.json()

    for field in FIELDS:
        got, want = draft[field], expect[field]
        assert (got or "").lower() == (want or "").lower(), f"{field}: got {got!r}, want {want!r}"
    assert draft["error_messages"] == expect["error_messages"]
    for message in draft["error_messages"]:
        assert message in text, "error messages are quoted verbatim"
    assert 0 < len(draft["summary"]) <= 100
    for word in expect["summary_contains"]:
        assert word.lower() in draft["summary"].lower(), draft["summary"]
    for word in expect["symptoms_include"]:
        assert any(word.lower() in s.lower() for s in draft["symptoms"]), (word, draft["symptoms"])
    assert draft["priority"] in ("low", "medium", "high", "critical")
    assert draft["priority_reason"] and "\n" not in draft["priority_reason"]
    assert draft["description"]
    assert all(line in text for line in draft["description"].splitlines()), "the description invents nothing"
    if taxonomy is not None and draft["suggested_board"] is not None:
        assert draft["suggested_board"] in taxonomy["boards"], "the board is one of the account's, spelled as given"


async def test_body_taxonomy_overrides_the_accounts(client: Client, tenant: Tenant) -> None:
    await _set_taxonomy(client, tenant, {"boards": ["Projects"]})
    from_account = (await client.post(URL, json={"text": PRINTER_TEXT}, headers=tenant.headers())).json()
    assert from_account["suggested_board"] is None, "no board of the account fits a printer fault"

    body = {"text": PRINTER_TEXT, "taxonomy": {"boards": ["Projects", "Service Desk"]}}
    overridden = (await client.post(URL, json=body, headers=tenant.headers())).json()
    assert overridden["suggested_board"] == "Service Desk"
    # The override is for this call only: the account's settings are unchanged.
    stored = (await client.get(SETTINGS_URL, headers=tenant.headers())).json()["ticket_taxonomy"]
    assert stored["boards"] == ["Projects"]


async def test_api_key_callers_may_parse_too(client: Client, tenant: Tenant) -> None:
    response = await client.post(URL, json={"text": PRINTER_TEXT}, headers=tenant.api_headers)
    assert response.status_code == 200
    assert response.json()["affected_device"] == "WS-ACC-04"
    assert response.json()["error_messages"] == ["0x00000709"]


# ==== bad input ===============================================================================


@pytest.mark.parametrize("text", ["", "   \n\t  "], ids=["empty", "whitespace"])
async def test_empty_text_is_a_422_naming_text(
    client: Client, tenant: Tenant, text: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    response = await client.post(URL, json={"text": text}, headers=tenant.headers())
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert _field_errors(response) == ["text"]
    assert "empty" in problem["detail"]
    assert await _usage_rows(sessionmaker, tenant) == [], "nothing was sent to a model"


@pytest.mark.parametrize(
    ("char", "size"),
    [("a", 1), ("é", 2), ("€", 3), ("😀", 4)],
    ids=["ascii", "2-byte", "3-byte", "4-byte"],
)
async def test_size_limit_is_32_kb_of_utf8(
    client: Client, tenant: Tenant, char: str, size: int, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    at_limit = "Printer offline. " + char * ((MAX_TEXT_BYTES - 17) // size)
    assert len(at_limit.encode()) <= MAX_TEXT_BYTES < len((at_limit + char).encode())
    ok = await client.post(URL, json={"text": at_limit}, headers=tenant.headers())
    assert ok.status_code == 200, ok.text

    over = at_limit + char
    too_big = await client.post(URL, json={"text": over}, headers=tenant.headers())
    assert too_big.status_code == 413, too_big.text
    problem = too_big.json()
    assert _field_errors(too_big) == ["text"]
    assert f"{len(over.encode())} bytes" in problem["detail"] and "32 KB" in problem["detail"]
    assert "trim" in problem["detail"], "the message says what to do"
    if size > 1:
        # Far fewer characters than 32,768, still over the limit: bytes are what count.
        assert len(over) <= MAX_TEXT_BYTES // size + 17 < MAX_TEXT_BYTES
    rows = await _usage_rows(sessionmaker, tenant)
    assert len(rows) == 1, "the rejected text never reached the model"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "text"),
        ({"text": None}, "text"),
        ({"text": 42}, "text"),
        ({"text": ["Printer offline"]}, "text"),
        ({"text": "Printer offline", "taxonomy": "Service Desk"}, "taxonomy"),
        ({"text": "Printer offline", "taxonomy": {"boards": "Service Desk"}}, "taxonomy"),
        ({"text": "Printer offline", "taxonomy": {"boards": ["x"] * 201}}, "taxonomy"),
    ],
    ids=["missing", "null", "number", "list", "taxonomy-string", "boards-string", "too-many-boards"],
)
async def test_malformed_bodies_are_400s_naming_the_field(
    client: Client, tenant: Tenant, body: dict[str, Any], field: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    response = await client.post(URL, json=body, headers=tenant.headers())
    assert response.status_code == 400, response.text
    fields = _field_errors(response)
    assert len(fields) == 1 and fields[0].split("[")[0].split(".")[0] == field, response.json()
    assert field in response.json()["detail"]
    assert await _usage_rows(sessionmaker, tenant) == []


async def test_an_unknown_field_is_a_400_that_names_it(client: Client, tenant: Tenant) -> None:
    response = await client.post(URL, json={"text": "Printer offline", "board": "x"}, headers=tenant.headers())
    assert response.status_code == 400
    assert "unknown field board" in response.json()["detail"]


async def test_a_body_that_is_not_json_is_a_400(client: Client, tenant: Tenant) -> None:
    response = await client.post(
        URL, content=b"Printer offline", headers={**tenant.headers(), "content-type": "application/json"}
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer not-a-token"}],
    ids=["none", "basic", "garbage"],
)
async def test_unauthenticated_calls_are_401(client: Client, headers: dict[str, str]) -> None:
    response = await client.post(URL, json={"text": PRINTER_TEXT}, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_an_expired_embed_token_is_401(client: Client, tenant: Tenant) -> None:
    response = await client.post(URL, json={"text": PRINTER_TEXT}, headers=tenant.headers(now=1_000_000))
    assert response.status_code == 401


# ==== usage ===================================================================================


async def test_each_call_writes_one_usage_row_for_the_callers_account(
    client: Client, tenant: Tenant, other_tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    for text in (PRINTER_TEXT, "Outlook keeps asking for the password on LAPTOP-7F3K2"):
        assert (await client.post(URL, json={"text": text}, headers=tenant.headers())).status_code == 200

    rows = await _usage_rows(sessionmaker, tenant)
    assert len(rows) == 2
    for row in rows:
        assert (row.service, row.provider, row.model) == ("ai_parse", "offline", "claude-haiku-4-5")
        assert row.estimated is True and row.error is None and row.session_id is None
        assert row.input_tokens > estimate_text_tokens(PARSE_INSTRUCTIONS), "the instructions were sent"
        assert row.output_tokens > 0 and row.cost_usd > 0
    assert await _usage_rows(sessionmaker, other_tenant) == [], "rows belong to the caller's account only"

    report = (await client.get("/api/v1/usage", headers=tenant.headers(role="admin"))).json()
    assert report["totals"]["calls"] == 2 and report["totals"]["estimated_calls"] == 2
    by_service = {row["key"]: row for row in report["by_service"]}
    assert set(by_service) == {"ai_parse"}
    assert by_service["ai_parse"]["input_tokens"] == sum(r.input_tokens for r in rows)
    assert by_service["ai_parse"]["output_tokens"] == sum(r.output_tokens for r in rows)

    other = (await client.get("/api/v1/usage", headers=other_tenant.headers(role="admin"))).json()
    assert other["totals"]["calls"] == 0 and other["by_service"] == []


# ==== the Anthropic provider (real SDK) against the fake Messages API ========================


# A realistic MSP taxonomy, as an administrator would configure it.
BOARDS = ["Service Desk", "Infrastructure", "Security", "Projects", "Onboarding", "Managed Print", "Alerts"]
CATEGORIES = [
    f"{area} / {kind}"
    for area in (
        "Email & Collaboration", "Network & Connectivity", "Hardware", "Printing", "Accounts & Access",
        "Security", "Line-of-Business Apps", "Remote Access", "Backup & Recovery", "Servers",
    )
    for kind in ("Incident", "Service Request", "How-to", "Change")
]  # fmt: skip
PRIORITIES = ["Priority 1 - Critical", "Priority 2 - High", "Priority 3 - Medium", "Priority 4 - Low"]
TAXONOMY = {"boards": BOARDS, "categories": CATEGORIES, "priorities": PRIORITIES}

OUTLOOK_TEXT = (
    "From: Jane Doe <jane.doe@contoso.com>\nSubject: Outlook keeps asking for my password\n\n"
    "Since this morning Outlook keeps popping up asking for my password. Webmail works. "
    "Laptop is LAPTOP-7F3K2. It also said 0x800CCC0E once."
)

MODEL_DRAFT = {
    "summary": "Outlook keeps prompting for password after sign-in on LAPTOP-7F3K2 for Jane Doe, webmail "
    "unaffected, started this morning",  # longer than 100 characters: the API must clamp it
    "description": "Outlook prompts for the password repeatedly since this morning; webmail works.",
    "category": "Email & Collaboration / Incident",
    "priority": "P3",
    "priority_reason": "One user, a workaround (webmail) exists.",
    "affected_user": "Jane Doe <jane.doe@contoso.com>",
    "affected_device": "LAPTOP-7F3K2",
    "symptoms": ["Outlook asks for the password repeatedly"],
    "error_messages": ["0x800CCC0E", "Cannot connect to the server"],  # the second is paraphrased: dropped
    "suggested_board": "service desk",
}


def _no_cache_control(value: Any) -> bool:
    return "cache_control" not in json.dumps(value)


async def test_anthropic_draft_is_validated_and_the_prompt_is_laid_out_for_caching(
    anthropic_app: tuple[Client, FakeAnthropic], tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    client, fake = anthropic_app
    await _set_taxonomy(client, tenant, TAXONOMY)
    fake.queue_reply("```json\n" + json.dumps(MODEL_DRAFT, indent=2) + "\n```")

    response = await client.post(URL, json={"text": OUTLOOK_TEXT}, headers=tenant.headers())
    assert response.status_code == 200, response.text
    draft = response.json()
    assert len(draft["summary"]) <= 100 and draft["summary"].endswith("…")
    assert draft["summary"].startswith("Outlook keeps prompting for password")
    assert draft["priority"] == "medium"
    assert draft["error_messages"] == ["0x800CCC0E"], "only text quoted verbatim from the e-mail survives"
    assert draft["suggested_board"] == "Service Desk", "the account's spelling of the board"
    assert (draft["affected_user"], draft["affected_device"]) == (MODEL_DRAFT["affected_user"], "LAPTOP-7F3K2")
    assert draft["category"] == "Email & Collaboration / Incident"

    (sent,) = fake.message_requests
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    body = sent.json
    assert body["model"] == "claude-haiku-4-5", "ai_parse uses the fast tier"
    assert "tools" not in body and "mcp_servers" not in body
    # The cached prefix: the instructions, then the account's taxonomy, each ending a breakpoint.
    instructions, taxonomy = body["system"]
    assert instructions["text"] == PARSE_INSTRUCTIONS and instructions["cache_control"]["type"] == "ephemeral"
    assert json.loads(taxonomy["text"]) == {"taxonomy": normalise_taxonomy(TAXONOMY)}
    assert taxonomy["cache_control"]["type"] == "ephemeral"
    # The volatile part: the ticket text, alone in the final user message, never under cache_control.
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": OUTLOOK_TEXT}]}]
    assert OUTLOOK_TEXT not in json.dumps(body["system"])

    (row,) = await _usage_rows(sessionmaker, tenant)
    assert (row.service, row.provider, row.model, row.estimated) == ("ai_parse", "anthropic", "claude-haiku-4-5", False)
    assert sent.usage is not None
    assert (row.input_tokens, row.output_tokens) == (sent.usage["input_tokens"], sent.usage["output_tokens"])


async def test_second_parse_reads_the_cached_instructions_and_taxonomy(
    anthropic_app: tuple[Client, FakeAnthropic], tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Two different tickets share the prefix; the second reads it from cache.

    The default fast tier is Haiku 4.5, whose minimum cacheable prefix (4,096 tokens) is
    far above instructions plus a typical taxonomy, so this account moves ai_parse to the
    balanced tier (Sonnet 4.6, 1,024), a per-account setting.
    """
    client, fake = anthropic_app
    await _set_taxonomy(client, tenant, TAXONOMY)
    override = {"ai": {"services": {"ai_parse": {"tier": "balanced"}}}}
    assert (await client.patch(SETTINGS_URL, json=override, headers=tenant.api_headers)).status_code == 200
    system = (PARSE_INSTRUCTIONS, canonical_json({"taxonomy": normalise_taxonomy(TAXONOMY)}))
    prefix = sum(estimate_block_tokens({"type": "text", "text": text}) for text in system)
    assert prefix >= fake.min_cacheable_for("claude-sonnet-4-6"), "premise: the prefix is cacheable on Sonnet"

    def reply(body: dict[str, Any]) -> str:
        text = body["messages"][-1]["content"][-1]["text"]
        return json.dumps({"summary": text.splitlines()[0][:90], "priority": "medium", "symptoms": [text[:40]]})

    fake.reply = reply
    texts = [OUTLOOK_TEXT, PRINTER_TEXT]
    drafts = [(await client.post(URL, json={"text": t}, headers=tenant.headers())).json() for t in texts]
    assert [d["summary"] for d in drafts] == [t.splitlines()[0] for t in texts]

    first, second = fake.message_requests
    assert first.json["model"] == second.json["model"] == "claude-sonnet-4-6"
    assert first.json["system"] == second.json["system"], "byte-identical prefix for different tickets"
    assert first.body.split(b'"messages"')[0] == second.body.split(b'"messages"')[0]

    rows = await _usage_rows(sessionmaker, tenant)
    assert len(rows) == 2
    assert rows[0].cache_creation_input_tokens == prefix and rows[0].cache_read_input_tokens == 0
    assert rows[1].cache_read_input_tokens == prefix and rows[1].cache_creation_input_tokens == 0
    assert rows[1].input_tokens < rows[1].cache_read_input_tokens, "only the ticket text is billed in full"
    assert rows[1].cost_usd < rows[1].uncached_cost_usd, "the report shows what caching saved"
    for row, sent in zip(rows, (first, second), strict=True):
        assert sent.usage is not None
        assert (row.input_tokens, row.cache_creation_input_tokens, row.cache_read_input_tokens) == (
            sent.usage["input_tokens"],
            sent.usage["cache_creation_input_tokens"],
            sent.usage["cache_read_input_tokens"],
        )

    report = (await client.get("/api/v1/usage", headers=tenant.headers(role="admin"))).json()
    assert report["totals"]["cache_read_input_tokens"] == prefix
    assert report["totals"]["saved_usd"] > 0


async def test_rate_limit_is_a_429_with_retry_after_and_a_usage_row(
    anthropic_app: tuple[Client, FakeAnthropic], tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    client, fake = anthropic_app
    fake.queue_error(429, "rate_limit_error", "Number of request tokens has exceeded your rate limit", retry_after=7)
    response = await client.post(URL, json={"text": OUTLOOK_TEXT}, headers=tenant.headers())
    assert response.status_code == 429, response.text
    assert response.headers["retry-after"] == "7"
    problem = response.json()
    assert problem["retryable"] is True and "about 7 seconds" in problem["detail"]

    (row,) = await _usage_rows(sessionmaker, tenant)
    assert row.service == "ai_parse" and row.provider == "anthropic"
    assert row.error is not None and row.error.startswith("rate_limited")
    assert "exceeded your rate limit" in row.error

    report = (await client.get("/api/v1/usage", headers=tenant.headers(role="admin"))).json()
    assert report["totals"]["calls"] == 1 and report["totals"]["failed_calls"] == 1


async def test_overloaded_is_a_retryable_503(
    anthropic_app: tuple[Client, FakeAnthropic], tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    client, fake = anthropic_app
    fake.queue_error(529, "overloaded_error", "Overloaded")
    response = await client.post(URL, json={"text": OUTLOOK_TEXT}, headers=tenant.headers())
    assert response.status_code == 503, response.text
    assert response.json()["retryable"] is True
    (row,) = await _usage_rows(sessionmaker, tenant)
    assert row.error is not None and row.error.startswith("overloaded")

    fake.queue_reply(json.dumps(MODEL_DRAFT))  # the retry the technician makes succeeds
    retried = await client.post(URL, json={"text": OUTLOOK_TEXT}, headers=tenant.headers())
    assert retried.status_code == 200 and retried.json()["affected_device"] == "LAPTOP-7F3K2"


async def test_an_unusable_model_reply_is_a_retryable_503(
    anthropic_app: tuple[Client, FakeAnthropic], tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    client, fake = anthropic_app
    fake.queue_reply("Sorry, I can't help with that.")
    response = await client.post(URL, json={"text": OUTLOOK_TEXT}, headers=tenant.headers())
    assert response.status_code == 503
    assert "unusable ticket draft" in response.json()["detail"] and response.json()["retryable"] is True
    (row,) = await _usage_rows(sessionmaker, tenant)
    assert row.error is None and row.output_tokens > 0, "the call itself succeeded and is billed"


async def test_a_rejected_api_key_is_not_retryable(
    settings: Settings, db_urls: DatabaseUrls, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    with FakeAnthropic(api_key=API_KEY) as fake:
        configured = dataclasses.replace(
            settings,
            model_provider="anthropic",
            anthropic_api_key="sk-ant-revoked",
            anthropic_base_url=fake.url,
            ai={"anthropic": {"max_retries": 0}},
        )
        async with AsyncTestClient(app=create_app(configured, urls=db_urls)) as client:
            response = await client.post(URL, json={"text": OUTLOOK_TEXT}, headers=tenant.headers())
            await client.app.state.runtime.ai.provider.aclose()
    (row,) = await _usage_rows(sessionmaker, tenant)
    assert row.error is not None and row.error.startswith("auth_failed")
    assert uuid.UUID(str(row.account_id)) == tenant.account_id
    assert response.status_code == 503
    problem = response.json()
    assert "administrator" in problem["detail"], "the technician is told who can fix it"
    # Sending it again cannot help until the key is fixed: the problem must not invite a retry.
    assert problem["retryable"] is False, problem
