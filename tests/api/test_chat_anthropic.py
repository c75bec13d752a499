"""Chat turns end to end through the real ``anthropic`` SDK and the fake Messages API.

The app is built with the ``anthropic`` provider pointed at :class:`FakeAnthropic`, so
what is asserted is what the Messages API would see and bill: the cached prefix
(system, stable context, history), the technician's message as the only volatile part,
and one usage row per call with the four token counts the API reported.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core.ai.tokens import estimate_block_tokens
from flowpilot_core.db.engine import tenant_session
from flowpilot_core.db.models import AiUsage
from flowpilot_core.sessions.chat import SYSTEM_SECTIONS
from flowpilot_core.testing import FakeAnthropic, RecordedRequest
from tests.api.conftest import ANTHROPIC_TEST_KEY as API_KEY
from tests.conftest import Tenant

Client = AsyncTestClient[Litestar]

MODEL = "claude-sonnet-4-6"  # the chat service's default (balanced) tier

# A real ticket: the e-mail thread makes the stable context large enough to cache on Sonnet.
DESCRIPTION = """From: Tom Reed <tom.reed@contoso-dental.com>
Sent: Monday 09:12
Subject: RE: printing in accounts

Hi,

Since about 9am nobody in the accounts office can print. Jobs go into the queue and just sit there with
status "Printing" and never come out. We tried turning the HP LaserJet M608 (ACC-PRN-01) off and on, no change.
Reception can print to their own printer fine. Sarah's PC (WS-ACC-04) also shows "Operation could not be
completed (error 0x00000709)" when she tries to set the default printer. We need to print the payment run
before 2pm today, so this is quite urgent.

The printers were working on Friday. Over the weekend the PCs installed updates (we saw the restart prompts on
Monday morning). Nothing else changed as far as we know. The print server is PRINT01 and all printers are shared
from there.

Thanks,
Tom

-----Original Message-----
From: Sarah Lin <sarah.lin@contoso-dental.com>
Sent: Monday 09:05
Subject: printing in accounts

Tom, the printer has stopped again, my invoices are stuck in the queue and the payroll report too. Can you ask
IT? I have restarted my PC twice. Clearing the queue from the printer's own menu did nothing either; the small
screen on the printer says Ready. Jane says hers are stuck as well, and the ones from the laptop on the dock too.
"""
TICKET = {
    "summary": "Accounts cannot print - jobs stuck in queue on PRINT01",
    "description": DESCRIPTION,
    "company": "Contoso Dental",
    "contact": "Tom Reed",
    "board": "Service Desk",
    "priority": "Priority 2 - High",
}

FIRST_REPLY = (
    "Jobs stuck in the queue for everyone on one print server points at the spooler on PRINT01.\n"
    "[QUESTION]Can reception print to the accounts printer (ACC-PRN-01) from their PCs?[/QUESTION]\n"
    '[CHECK title="Spooler on PRINT01"]Get-Service -ComputerName PRINT01 -Name Spooler[/CHECK]'
)


async def _session(client: Client, tenant: Tenant) -> str:
    body = {"problem_statement": "Nobody in accounts can print; jobs stuck in the queue", "ticket": TICKET}
    response = await client.post("/api/v1/ai-sessions", json=body, headers=tenant.headers())
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _turn(client: Client, tenant: Tenant, sid: str, content: str, **extra: Any) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/ai-sessions/{sid}/messages", json={"content": content, **extra}, headers=tenant.headers()
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _streamed(client: Client, tenant: Tenant, sid: str, content: str, **extra: Any) -> list[tuple[str, Any]]:
    response = await client.post(
        f"/api/v1/ai-sessions/{sid}/messages",
        json={"content": content, **extra},
        headers={**tenant.headers(), "accept": "text/event-stream"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = []
    for block in response.text.replace("\r\n", "\n").strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        events.append((lines["event"], json.loads(lines["data"])))
    return events


async def _usage(sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant, sid: str) -> list[AiUsage]:
    async with tenant_session(sessionmaker, tenant.account_id) as db:
        rows = await db.execute(select(AiUsage).where(AiUsage.session_id == uuid.UUID(sid)).order_by(AiUsage.id))
        return list(rows.scalars().all())


def _counts(row: AiUsage) -> tuple[int, int, int, int]:
    return (row.input_tokens, row.cache_creation_input_tokens, row.cache_read_input_tokens, row.output_tokens)


def _reported(request: RecordedRequest) -> tuple[int, int, int, int]:
    usage = request.usage
    assert usage is not None
    return (
        usage["input_tokens"],
        usage["cache_creation_input_tokens"],
        usage["cache_read_input_tokens"],
        usage["output_tokens"],
    )


def _assert_laid_out(request: RecordedRequest, technician_message: str, history: list[str]) -> dict[str, Any]:
    """The request's prefix is system → stable context → history; the message is last and never cached."""
    body = request.json
    assert body["model"] == MODEL
    *static, context = body["system"]
    assert [block["text"] for block in static] == list(SYSTEM_SECTIONS)
    assert all("cache_control" not in block for block in static[:-1])
    assert static[-1]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}, "the shared prefix ends a 1h breakpoint"
    assert context["cache_control"] == {"type": "ephemeral", "ttl": "5m"}
    stable = json.loads(context["text"])
    assert stable["ticket"]["summary"] == TICKET["summary"] and stable["ticket"]["description"] == DESCRIPTION
    assert "facts" not in stable and "task_lane" not in stable, "growing context stays out of the cached prefix"

    *past, final = body["messages"]
    assert [m["content"][0]["text"] for m in past] == history, "history is re-sent verbatim"
    assert [m["role"] for m in past] == ["user", "assistant"] * (len(history) // 2)
    if past:
        assert past[-1]["content"][-1]["cache_control"]["type"] == "ephemeral", "the history ends a breakpoint"
        assert all("cache_control" not in m["content"][0] for m in past[:-1])
    assert final["role"] == "user"
    assert final["content"][-1] == {"type": "text", "text": technician_message}
    assert "cache_control" not in json.dumps(final), "the volatile turn is never under cache_control"
    trailing = json.loads(final["content"][0]["text"])
    assert set(trailing) == {"facts", "task_lane"}
    assert len(request.breakpoints) <= 4
    return trailing


async def test_turns_read_the_cached_prefix_and_record_usage_per_call(
    anthropic_app: tuple[Client, FakeAnthropic], tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    client, fake = anthropic_app
    sid = await _session(client, tenant)

    # Turn 1: nothing is cached yet; the system prompt and the ticket are written.
    fake.queue_reply(FIRST_REPLY)
    first = await _turn(client, tenant, sid, "Users in accounts can't print, jobs stuck")
    question = first["task_lane"]["questions"][0]
    assert question["text"] == "Can reception print to the accounts printer (ACC-PRN-01) from their PCs?"
    assert first["task_lane"]["checks"][0]["command"] == "Get-Service -ComputerName PRINT01 -Name Spooler"

    # Turn 2: reads that prefix; the turn-1 exchange becomes cached history.
    # A statement from the conversation: the question stays open (the technician answered in the chat without
    # saying it answers the question), so the fact is not the question's.
    promote = "[PROMOTE]Reception cannot print to ACC-PRN-01 either.[/PROMOTE]"
    fake.queue_reply("Then it is not the accounts PCs. " + promote)
    second = await _turn(client, tenant, sid, "No, reception can't print to it either")
    assert [f["text"] for f in second["facts_added"]] == ["Reception cannot print to ACC-PRN-01 either."]

    # Turn 3, streamed: reads everything up to the end of turn 1.
    third_reply = "Check the spooler on PRINT01 next: it is the one thing every job goes through."
    fake.queue_reply(third_reply)
    events = await _streamed(client, tenant, sid, "What next?")
    names = [name for name, _ in events]
    assert names[0] == "user_message" and names[-1] == "done" and names.count("delta") > 3
    assert "".join(data["text"] for name, data in events if name == "delta") == third_reply
    assert events[-1][1]["assistant_message"]["content"] == third_reply

    t1, t2, t3 = fake.message_requests
    assert all(r.headers["authorization"] == f"Bearer {API_KEY}" for r in (t1, t2, t3))
    user1, user2 = "Users in accounts can't print, jobs stuck", "No, reception can't print to it either"
    _assert_laid_out(t1, user1, [])
    trailing2 = _assert_laid_out(t2, user2, [user1, FIRST_REPLY])
    assert [i["id"] for i in trailing2["task_lane"]] == [question["id"], first["task_lane"]["checks"][0]["id"]]
    trailing3 = _assert_laid_out(
        t3, "What next?", [user1, FIRST_REPLY, user2, "Then it is not the accounts PCs. " + promote]
    )
    assert [f["text"] for f in trailing3["facts"]] == ["Reception cannot print to ACC-PRN-01 either."]
    assert t3.streamed and not t1.streamed and not t2.streamed

    # Premise: system + ticket context reaches Sonnet's minimum, so turn 1 writes it.
    context_prefix = sum(estimate_block_tokens(b) for b in t1.json["system"])
    assert context_prefix >= fake.min_cacheable_for(MODEL)
    (_, write1, read1, _), (_, write2, read2, _), (in3, write3, read3, _) = map(_reported, (t1, t2, t3))
    static_prefix = sum(estimate_block_tokens(b) for b in t1.json["system"][: len(SYSTEM_SECTIONS)])
    assert (read1, write1) == (0, context_prefix)
    assert t1.usage is not None and t1.usage["cache_creation"]["ephemeral_1h_input_tokens"] == static_prefix
    # Each turn reads exactly everything the turns before it wrote: system, context, then history.
    assert read2 == context_prefix and write2 > 0
    assert read3 == read2 + write2 and write3 > 0
    assert in3 < read3 / 4, "only the facts, the lane and the new message are billed in full"

    rows = await _usage(sessionmaker, tenant, sid)
    assert [(r.service, r.provider, r.model, r.estimated, r.error) for r in rows] == [
        ("chat", "anthropic", MODEL, False, None)
    ] * 3
    assert [_counts(r) for r in rows] == [_reported(r) for r in (t1, t2, t3)], "the four counts as billed"
    assert all(r.output_tokens > 0 for r in rows), "the streamed turn's output tokens are recorded too"
    assert rows[2].cost_usd < rows[2].uncached_cost_usd

    report = (await client.get("/api/v1/usage", headers=tenant.headers(role="admin"))).json()
    (by_session,) = report["by_session"]
    assert by_session["key"] == sid and by_session["calls"] == 3
    assert by_session["cache_read_input_tokens"] == read2 + read3


async def test_a_mid_stream_error_is_an_sse_error_and_the_message_is_kept(
    anthropic_app: tuple[Client, FakeAnthropic], tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    client, fake = anthropic_app
    sid = await _session(client, tenant)
    fake.queue_reply("Let's look at the spooler on PRINT01 first, then the queue on WS-ACC-04.")
    fake.queue_stream_error(after_deltas=2, error_type="overloaded_error", message="Overloaded")

    events = await _streamed(client, tenant, sid, "Jobs are stuck again", client_message_id="m-1")
    names = [name for name, _ in events]
    assert names == ["user_message", "delta", "delta", "error"]
    error = events[-1][1]
    assert error["retryable"] is True and error["status"] == 503
    assert "overloaded" in error["detail"].lower() and "Nothing you sent was lost" in error["detail"]

    transcript = (await client.get(f"/api/v1/ai-sessions/{sid}/messages", headers=tenant.headers())).json()["items"]
    assert [(m["role"], m["content"]) for m in transcript] == [("user", "Jobs are stuck again")]

    (row,) = await _usage(sessionmaker, tenant, sid)
    assert row.error is not None and row.error.startswith("overloaded")
    (broken,) = fake.message_requests
    assert broken.usage is not None
    assert (row.input_tokens, row.cache_creation_input_tokens) == (
        broken.usage["input_tokens"],
        broken.usage["cache_creation_input_tokens"],
    ), "input and cache tokens from message_start are kept for a broken stream"
    assert row.input_tokens + row.cache_creation_input_tokens > 0

    # Sending the same message again (its client id) continues the same turn: no duplicate.
    fake.queue_reply("Check the spooler on PRINT01.")
    retried = await _turn(client, tenant, sid, "Jobs are stuck again", client_message_id="m-1")
    assert retried["assistant_message"]["content"] == "Check the spooler on PRINT01."
    assert retried["user_message"]["id"] == transcript[0]["id"]
    transcript = (await client.get(f"/api/v1/ai-sessions/{sid}/messages", headers=tenant.headers())).json()["items"]
    assert [(m["role"], m["content"]) for m in transcript] == [
        ("user", "Jobs are stuck again"),
        ("assistant", "Check the spooler on PRINT01."),
    ]
    # The retry re-sent the same request: it reads the prefix the broken stream had already written.
    assert _reported(fake.message_requests[-1])[2] == _reported(broken)[1] > 0


async def test_facts_promoted_in_one_reply_keep_the_order_the_model_stated_them(
    anthropic_app: tuple[Client, FakeAnthropic], tenant: Tenant
) -> None:
    client, fake = anthropic_app
    sid = await _session(client, tenant)
    stated = [
        "The Print Spooler service on PRINT01 is running.",
        "Jobs for ACC-PRN-01 are stuck with status Printing.",
        "Reception can print to its own printer.",
        "WS-ACC-04 shows error 0x00000709 when setting the default printer.",
        "Windows updates were installed on the accounts PCs over the weekend.",
    ]
    fake.queue_reply("Noted.\n" + "\n".join(f"[PROMOTE]{text}[/PROMOTE]" for text in stated))
    turn = await _turn(client, tenant, sid, "Here is what I found so far")
    assert [f["text"] for f in turn["facts_added"]] == stated

    # What We Know, and the next request to the model, list them in the same order.
    listed = (await client.get(f"/api/v1/ai-sessions/{sid}/facts", headers=tenant.headers())).json()["items"]
    assert [f["text"] for f in listed] == stated
    fake.queue_reply("Thanks.")
    await _turn(client, tenant, sid, "Anything else?")
    trailing = json.loads(fake.message_requests[-1].json["messages"][-1]["content"][0]["text"])
    assert [f["text"] for f in trailing["facts"]] == stated


async def test_a_new_session_of_another_account_reads_the_shared_prefix_on_its_first_turn(
    anthropic_app: tuple[Client, FakeAnthropic], tenant: Tenant, other_tenant: Tenant
) -> None:
    """The static prefix is byte-identical for every account, so 30 minutes after one account's turn
    another account's first turn reads it from the cache (one API workspace, one cache)."""
    client, fake = anthropic_app
    await _turn(client, tenant, await _session(client, tenant), "Users in accounts can't print, jobs stuck")
    fake.advance(30 * 60)
    await _turn(client, other_tenant, await _session(client, other_tenant), "Where do I start?")

    first, other = fake.message_requests
    static = len(SYSTEM_SECTIONS)
    assert first.json["system"][:static] == other.json["system"][:static]
    assert json.loads(first.json["system"][static]["text"])["account"]["name"] == tenant.name
    assert json.loads(other.json["system"][static]["text"])["account"]["name"] == other_tenant.name
    static_prefix = sum(estimate_block_tokens(b) for b in other.json["system"][:static])
    assert static_prefix >= fake.min_cacheable_for(MODEL), "the static prefix alone is cacheable"
    (inp, write, read, _) = _reported(other)
    assert read == static_prefix, "the other account's first turn reads the shared static prefix"
    assert read / (inp + write + read) >= 0.5


async def test_an_account_with_a_one_hour_cache_ttl_keeps_its_conversation_cached_through_a_pause(
    anthropic_app: tuple[Client, FakeAnthropic], tenant: Tenant
) -> None:
    client, fake = anthropic_app
    url = "/api/v1/account/settings"
    bad = await client.patch(url, json={"ai": {"cache_ttl": "2h"}}, headers=tenant.api_headers)
    assert bad.status_code == 422 and "ai.cache_ttl" in bad.json()["detail"], bad.text
    ok = await client.patch(url, json={"ai": {"cache_ttl": "1h"}}, headers=tenant.api_headers)
    assert ok.status_code == 200 and ok.json()["ai"] == {"cache_ttl": "1h"}

    sid = await _session(client, tenant)
    await _turn(client, tenant, sid, "Users in accounts can't print, jobs stuck")
    fake.advance(20 * 60)  # the technician waits for the user: longer than five minutes
    await _turn(client, tenant, sid, "Back: reception can't print to it either")

    first, after_pause = fake.message_requests
    context = first.json["system"][len(SYSTEM_SECTIONS)]
    assert context["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert after_pause.json["messages"][-2]["content"][-1]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    (_, write1, _, _), (_, _, read2, _) = _reported(first), _reported(after_pause)
    assert read2 == write1, "after 20 minutes the whole first-turn prefix is still read"
