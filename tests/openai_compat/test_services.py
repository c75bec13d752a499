"""FlowPilot's services on a local model: chat turns with markers, fact synthesis, ai-parse, usage rows.

The app's provider is ``openai_compat`` (the real ``openai`` SDK) pointed at the fake
server; the services are unchanged. Replies a small model gets wrong fall back the way
they do for Claude: text stays text, an unreadable synthesis makes no fact, an unusable
ticket draft is a retryable 503.
"""

from __future__ import annotations

import json
from typing import Any

from flowpilot_openai_compat.testing import FakeOpenAICompat
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core.db.engine import tenant_session
from flowpilot_core.db.models import AiUsage
from flowpilot_core.sessions.chat import SYSTEM_SECTIONS
from tests.api.test_ai_parse_api import MODEL_DRAFT, OUTLOOK_TEXT, TAXONOMY
from tests.conftest import Tenant

from .conftest import LOCAL_TIERS

Client = AsyncTestClient[Litestar]

TICKET = {
    "summary": "Accounts cannot print - jobs stuck in queue on PRINT01",
    "description": "Since 9am nobody in accounts can print; jobs sit in the queue on WS-ACC-04 and PRINT01.",
    "company": "Contoso Dental",
}
FIRST_REPLY = (
    "Jobs stuck for everyone on one print server points at the spooler on PRINT01.\n"
    "[QUESTION]Can reception print to the accounts printer (ACC-PRN-01)?[/QUESTION]\n"
    '[CHECK title="Spooler on PRINT01"]Get-Service -ComputerName PRINT01 -Name Spooler[/CHECK]'
)


async def _session(client: Client, tenant: Tenant) -> str:
    body = {"problem_statement": "Nobody in accounts can print", "ticket": TICKET}
    response = await client.post("/api/v1/ai-sessions", json=body, headers=tenant.headers())
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _turn(client: Client, tenant: Tenant, sid: str, content: str) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/ai-sessions/{sid}/messages", json={"content": content}, headers=tenant.headers()
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _streamed(client: Client, tenant: Tenant, sid: str, content: str) -> list[tuple[str, Any]]:
    response = await client.post(
        f"/api/v1/ai-sessions/{sid}/messages",
        json={"content": content},
        headers={**tenant.headers(), "accept": "text/event-stream"},
    )
    assert response.status_code == 200, response.text
    events = []
    for block in response.text.replace("\r\n", "\n").strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in lines:
            events.append((lines["event"], json.loads(lines["data"])))
    return events


async def _rows(sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant) -> list[AiUsage]:
    async with tenant_session(sessionmaker, tenant.account_id) as db:
        return list((await db.execute(select(AiUsage).order_by(AiUsage.id))).scalars().all())


async def test_chat_turns_on_a_local_model_fill_the_lane_and_promote_facts(
    openai_app: tuple[Client, FakeOpenAICompat], tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    client, fake = openai_app
    sid = await _session(client, tenant)

    fake.queue_reply(FIRST_REPLY)
    first = await _turn(client, tenant, sid, "Users in accounts can't print")
    assert [q["text"] for q in first["task_lane"]["questions"]] == [
        "Can reception print to the accounts printer (ACC-PRN-01)?"
    ]
    assert first["task_lane"]["checks"][0]["command"] == "Get-Service -ComputerName PRINT01 -Name Spooler"

    promote = "[PROMOTE]Reception cannot print to ACC-PRN-01 either.[/PROMOTE]"
    fake.queue_reply("Then it is not the accounts PCs. " + promote)
    second = await _turn(client, tenant, sid, "Reception can't print to it either")
    assert [f["text"] for f in second["facts_added"]] == ["Reception cannot print to ACC-PRN-01 either."]

    third_reply = "Check the spooler on PRINT01 next: every job goes through it. [QUESTION]Is it running?[/QUESTION]"
    fake.queue_reply(third_reply)
    events = await _streamed(client, tenant, sid, "What next?")
    names = [name for name, _ in events]
    assert names[0] == "user_message" and names[-1] == "done" and names.count("delta") > 3
    assert "".join(d["text"] for n, d in events if n == "delta") == third_reply
    assert "Is it running?" in [q["text"] for q in events[-1][1]["task_lane"]["questions"]]

    t1, t2, t3 = fake.completion_requests
    for sent in (t1, t2, t3):
        assert sent.json["model"] == LOCAL_TIERS["balanced"] and "cache_control" not in sent.body.decode()
        system = sent.json["messages"][0]
        assert system["role"] == "system" and system["content"].startswith("\n\n".join(SYSTEM_SECTIONS))
    # The same check as the Anthropic path: each turn re-sends the one before it byte for byte.
    assert t2.json["messages"][:2] == [
        *t1.json["messages"][:1],
        {"role": "user", "content": "Users in accounts can't print"},
    ]
    assert t2.json["messages"][2] == {"role": "assistant", "content": FIRST_REPLY}
    assert t3.json["messages"][:4] == [
        *t2.json["messages"][:3],
        {"role": "user", "content": "Reception can't print to it either"},
    ]
    assert t3.streamed and not t1.streamed

    rows = await _rows(sessionmaker, tenant)
    assert [(r.service, r.provider, r.model, r.usage_reported, r.error) for r in rows] == [
        ("chat", "openai_compat", LOCAL_TIERS["balanced"], True, None)
    ] * 3
    for row, sent in zip(rows, (t1, t2, t3), strict=True):
        assert sent.usage is not None
        cached = sent.usage["prompt_tokens_details"]["cached_tokens"]
        assert (row.input_tokens + row.cache_read_input_tokens, row.cache_read_input_tokens) == (
            sent.usage["prompt_tokens"],
            cached,
        )
        assert row.output_tokens == sent.usage["completion_tokens"] > 0
    assert rows[2].cache_read_input_tokens > 0, "the server read the stable prefix from its cache"


async def test_a_reply_without_markers_stays_text(openai_app: tuple[Client, FakeOpenAICompat], tenant: Tenant) -> None:
    client, fake = openai_app
    sid = await _session(client, tenant)
    fake.queue_reply("Maybe restart the spooler? [QUESTION]Is it on PRINT01")  # a small model forgets to close
    turn = await _turn(client, tenant, sid, "help")
    assert turn["task_lane"]["questions"] == []
    assert turn["assistant_message"]["content"].endswith("[QUESTION]Is it on PRINT01")


async def test_answers_are_synthesised_into_facts_on_the_fast_local_model(
    openai_app: tuple[Client, FakeOpenAICompat], tenant: Tenant
) -> None:
    client, fake = openai_app
    sid = await _session(client, tenant)
    fake.queue_reply(FIRST_REPLY)
    qid = (await _turn(client, tenant, sid, "Nobody can print"))["task_lane"]["questions"][0]["id"]

    fake.queue_reply('{"fact": "Reception cannot print to ACC-PRN-01.", "reason": "a clear no"}')
    url = f"/api/v1/ai-sessions/{sid}/task-lane/{qid}/answer"
    answered = await client.post(url, json={"answer": "No, they can't"}, headers=tenant.headers())
    assert answered.status_code == 200, answered.text
    assert answered.json()["fact"]["text"] == "Reception cannot print to ACC-PRN-01."
    synthesis = fake.completion_requests[1]
    assert synthesis.json["model"] == LOCAL_TIERS["fast"], "fact synthesis runs on the fast tier"


async def test_an_unreadable_synthesis_makes_no_fact(
    openai_app: tuple[Client, FakeOpenAICompat], tenant: Tenant
) -> None:
    client, fake = openai_app
    sid = await _session(client, tenant)
    fake.queue_reply(FIRST_REPLY)
    qid = (await _turn(client, tenant, sid, "Nobody can print"))["task_lane"]["questions"][0]["id"]

    fake.queue_reply("Sure! So reception can't print, which means the spooler is probably the issue here.")
    url = f"/api/v1/ai-sessions/{sid}/task-lane/{qid}/answer"
    answered = await client.post(url, json={"answer": "No, they can't"}, headers=tenant.headers())
    assert answered.status_code == 200, answered.text
    assert answered.json()["fact"] is None
    assert answered.json()["item"]["answer"] == "No, they can't", "the answer is kept"


async def test_ai_parse_on_a_local_model_validates_the_draft_like_claudes(
    openai_app: tuple[Client, FakeOpenAICompat], tenant: Tenant
) -> None:
    client, fake = openai_app
    patched = await client.patch(
        "/api/v1/account/settings", json={"ticket_taxonomy": TAXONOMY}, headers=tenant.api_headers
    )
    assert patched.status_code == 200, patched.text
    fake.queue_reply("```json\n" + json.dumps(MODEL_DRAFT, indent=2) + "\n```")
    response = await client.post("/api/v1/tickets/ai-parse", json={"text": OUTLOOK_TEXT}, headers=tenant.headers())
    assert response.status_code == 200, response.text
    draft = response.json()
    assert draft["error_messages"] == ["0x800CCC0E"] and draft["suggested_board"] == "Service Desk"
    (sent,) = fake.completion_requests
    assert sent.json["model"] == LOCAL_TIERS["fast"]
    assert sent.json["messages"][-1] == {"role": "user", "content": OUTLOOK_TEXT}, "the ticket text alone, last"

    fake.queue_reply("I think this is an Outlook problem.")
    unusable = await client.post("/api/v1/tickets/ai-parse", json={"text": OUTLOOK_TEXT}, headers=tenant.headers())
    assert unusable.status_code == 503 and unusable.json()["retryable"] is True
    assert "unusable ticket draft" in unusable.json()["detail"]


async def test_usage_a_server_did_not_report_is_stored_and_reported_as_unreported(
    openai_app: tuple[Client, FakeOpenAICompat], tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    client, fake = openai_app
    sid = await _session(client, tenant)
    await _turn(client, tenant, sid, "reported")
    fake.report_usage = False
    await _turn(client, tenant, sid, "not reported")
    await _streamed(client, tenant, sid, "not reported, streamed")

    rows = await _rows(sessionmaker, tenant)
    assert [r.usage_reported for r in rows] == [True, False, False]
    assert rows[0].input_tokens > 0
    report = (await client.get("/api/v1/usage", headers=tenant.headers(role="admin"))).json()
    assert report["totals"]["calls"] == 3 and report["totals"]["unreported_calls"] == 2
    (by_session,) = report["by_session"]
    assert by_session["key"] == sid and by_session["unreported_calls"] == 2
    assert report["totals"]["input_tokens"] == rows[0].input_tokens, "only the reported call has token counts"
