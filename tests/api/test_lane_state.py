"""One state for chat and lane: racing answers, answers given in the chat, lane continuation, transcript order."""

from __future__ import annotations

import asyncio
import json
import uuid

import pluggy
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core import hookimpl, hookspecs
from flowpilot_core.accounts import Principal, authenticate
from flowpilot_core.ai.errors import AIUnavailable
from flowpilot_core.ai.gateway import AIGateway
from flowpilot_core.db.engine import tenant_session
from flowpilot_core.db.models import AiSession, SessionFact
from flowpilot_core.markers import Marker
from flowpilot_core.markers import builtin as builtin_markers
from flowpilot_core.markers.effects import TurnContext
from flowpilot_core.plugins import collect
from flowpilot_core.sessions import ChatRequest, ChatService
from flowpilot_core.sessions import marker_effects as builtin_effects
from flowpilot_core.usage import PostgresUsageSink, UsageMetrics
from tests.conftest import Tenant
from tests.echo_model import EchoProvider

Client = AsyncTestClient[Litestar]

FIRST_REPLY = (
    "Two things to establish first.\n"
    "[QUESTION]Can other people print to ACC-PRN-01?[/QUESTION]\n"
    '[CHECK title="Spooler status"]Get-Service -Name Spooler[/CHECK]'
)


async def _session(client: Client, tenant: Tenant) -> str:
    body = {"problem_statement": "Accounts can't print to ACC-PRN-01"}
    response = await client.post("/api/v1/ai-sessions", json=body, headers=tenant.headers())
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _chat(client: Client, tenant: Tenant, sid: str, content: str, **extra: object) -> dict:
    response = await client.post(
        f"/api/v1/ai-sessions/{sid}/messages", json={"content": content, **extra}, headers=tenant.headers()
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _first_turn(client: Client, tenant: Tenant, echo: EchoProvider) -> tuple[str, str, str]:
    sid = await _session(client, tenant)
    echo.replies.append(FIRST_REPLY)
    lane = (await _chat(client, tenant, sid, "Accounts can't print"))["task_lane"]
    return sid, lane["questions"][0]["id"], lane["checks"][0]["id"]


async def _live_facts(sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant, sid: str, ref: str) -> list[str]:
    async with tenant_session(sessionmaker, tenant.account_id) as db:
        rows = await db.execute(
            select(SessionFact.text).where(
                SessionFact.session_id == uuid.UUID(sid),
                SessionFact.source_ref == ref,
                SessionFact.deleted_at.is_(None),
            )
        )
        return list(rows.scalars())


# ==== Facts never contradict their item =====================================================


async def test_racing_answers_leave_only_the_fact_of_the_stored_answer(
    client: Client, tenant: Tenant, echo: EchoProvider, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    sid, qid, _ = await _first_turn(client, tenant, echo)
    echo.jitter = 0.02
    url = f"/api/v1/ai-sessions/{sid}/task-lane/{qid}/answer"
    for round_ in range(100):
        first, second = ("Yes", "No") if round_ % 2 else ("No, nobody can", "Yes, everyone else can")
        responses = await asyncio.gather(
            client.post(url, json={"answer": first}, headers=tenant.headers()),
            client.post(url, json={"answer": second}, headers=tenant.headers()),
        )
        assert [r.status_code for r in responses] == [200, 200]
        lane = (await client.get(f"/api/v1/ai-sessions/{sid}/task-lane", headers=tenant.headers())).json()
        stored = next(q for q in lane["questions"] if q["id"] == qid)["answer"]
        assert await _live_facts(sessionmaker, tenant, sid, qid) == [f"The technician said: {stored}"], round_


async def test_check_output_replaced_while_synthesis_runs_keeps_the_newer_output(
    client: Client, tenant: Tenant, echo: EchoProvider, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    sid, _, cid = await _first_turn(client, tenant, echo)
    echo.jitter = 0.05
    url = f"/api/v1/ai-sessions/{sid}/task-lane/{cid}/output"
    for round_ in range(10):
        await asyncio.gather(
            client.post(url, json={"output": "Status: Stopped"}, headers=tenant.headers()),
            client.post(url, json={"output": "Status: Running"}, headers=tenant.headers()),
        )
        lane = (await client.get(f"/api/v1/ai-sessions/{sid}/task-lane", headers=tenant.headers())).json()
        stored = lane["checks"][0]["output"]
        assert await _live_facts(sessionmaker, tenant, sid, cid) == [f"The technician said: {stored}"], round_


# ==== Answering in the chat, explicitly =====================================================


async def test_a_chat_message_that_answers_a_question_answers_it_and_makes_its_fact(
    client: Client, tenant: Tenant, echo: EchoProvider
) -> None:
    sid, qid, _ = await _first_turn(client, tenant, echo)
    echo.replies.append("Then it is this PC.")
    turn = await _chat(client, tenant, sid, "No, nobody else can print", answers_item_id=qid)
    question = next(q for q in turn["task_lane"]["questions"] if q["id"] == qid)
    assert question["status"] == "answered"
    assert question["answer"] == "No, nobody else can print"
    assert question["answered_via"] == "chat"
    assert question["answer_message_id"] == turn["user_message"]["id"]
    facts = (await client.get(f"/api/v1/ai-sessions/{sid}/facts", headers=tenant.headers())).json()["items"]
    assert [(f["text"], f["origin"], f["source_ref"]) for f in facts] == [
        ("The technician said: No, nobody else can print", "question", qid)
    ]
    # The model's next step is built on the new fact.
    trailing = json.loads(echo.chat_calls()[-1].kwargs["messages"][-1]["content"][0]["text"])
    assert [f["text"] for f in trailing["facts"]] == ["The technician said: No, nobody else can print"]


async def test_a_chat_message_without_answers_item_id_answers_nothing(
    client: Client, tenant: Tenant, echo: EchoProvider
) -> None:
    sid, qid, _ = await _first_turn(client, tenant, echo)
    echo.replies.append("OK.")
    turn = await _chat(client, tenant, sid, "No")
    assert next(q for q in turn["task_lane"]["questions"] if q["id"] == qid)["status"] == "open"
    facts = (await client.get(f"/api/v1/ai-sessions/{sid}/facts", headers=tenant.headers())).json()["items"]
    assert facts == []


@pytest.mark.parametrize(
    ("target", "message"), (("unknown", "is not in this session"), ("check", "record its output in the task lane"))
)
async def test_answering_something_that_is_not_a_question_of_the_session_is_a_422(
    client: Client, tenant: Tenant, echo: EchoProvider, target: str, message: str
) -> None:
    sid, _, cid = await _first_turn(client, tenant, echo)
    item = str(uuid.uuid4()) if target == "unknown" else cid
    response = await client.post(
        f"/api/v1/ai-sessions/{sid}/messages",
        json={"content": "It is stopped", "answers_item_id": item},
        headers=tenant.headers(),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "answers_item_id"
    assert message in response.json()["detail"]
    messages = (await client.get(f"/api/v1/ai-sessions/{sid}/messages", headers=tenant.headers())).json()["items"]
    assert len(messages) == 2  # the refused message was not stored


# ==== The conversation moves on after lane answers ==========================================


async def test_settling_the_last_reply_in_the_lane_makes_a_continuation_due_once(
    client: Client, tenant: Tenant, echo: EchoProvider
) -> None:
    sid, qid, cid = await _first_turn(client, tenant, echo)
    base = f"/api/v1/ai-sessions/{sid}"
    answered = await client.post(f"{base}/task-lane/{qid}/answer", json={"answer": "No"}, headers=tenant.headers())
    assert answered.json()["continue_due"] is False  # the check is still open
    early = await client.post(f"{base}/messages/continue", headers=tenant.headers())
    assert early.status_code == 409
    output = await client.post(
        f"{base}/task-lane/{cid}/output", json={"output": "Status: Stopped"}, headers=tenant.headers()
    )
    assert output.json()["continue_due"] is True

    echo.replies.append("The spooler is stopped: start it.\n[ACTION]Start the Print Spooler service[/ACTION]")
    turn = (await client.post(f"{base}/messages/continue", headers=tenant.headers())).json()
    assert turn["user_message"]["origin"] == "lane"
    assert turn["user_message"]["content"] == (
        "I answered in the task lane:\n"
        "- Can other people print to ACC-PRN-01? No\n"
        "- Spooler status: Status: Stopped"
    )
    assert [i["text"] for i in turn["added_items"]] == ["Start the Print Spooler service"]
    # The model saw it as the technician's turn, after the facts of the answers.
    last_call = echo.chat_calls()[-1].kwargs["messages"]
    assert [m["role"] for m in last_call] == ["user", "assistant", "user"]
    assert last_call[-1]["content"][-1]["text"] == turn["user_message"]["content"]

    again = await client.post(f"{base}/messages/continue", headers=tenant.headers())
    assert again.status_code == 409  # the new reply's action is still open: nothing is due, no loop
    messages = (await client.get(f"{base}/messages", headers=tenant.headers())).json()["items"]
    assert [m["origin"] for m in messages] == ["chat", "chat", "lane", "chat"]


async def test_a_failed_continuation_is_retried_with_the_same_message(
    client: Client, tenant: Tenant, echo: EchoProvider
) -> None:
    sid, qid, cid = await _first_turn(client, tenant, echo)
    base = f"/api/v1/ai-sessions/{sid}"
    await client.post(f"{base}/task-lane/{cid}/dismiss", headers=tenant.headers())
    assert (
        await client.post(f"{base}/task-lane/{qid}/answer", json={"answer": "Yes"}, headers=tenant.headers())
    ).json()["continue_due"] is True
    echo.replies.append(AIUnavailable())
    failed = await client.post(f"{base}/messages/continue", headers=tenant.headers())
    assert failed.status_code == 503
    echo.replies.append("Then it is the accounts PCs.")
    retried = await client.post(f"{base}/messages/continue", headers=tenant.headers())
    assert retried.status_code == 200
    messages = (await client.get(f"{base}/messages", headers=tenant.headers())).json()["items"]
    assert [(m["role"], m["origin"]) for m in messages] == [
        ("user", "chat"),
        ("assistant", "chat"),
        ("user", "lane"),
        ("assistant", "chat"),
    ]
    assert "- Spooler status (skipped)" in messages[2]["content"]


async def test_an_account_can_turn_continuation_off(
    client: Client, tenant: Tenant, echo: EchoProvider
) -> None:
    sid, qid, cid = await _first_turn(client, tenant, echo)
    base = f"/api/v1/ai-sessions/{sid}"
    off = await client.patch(
        "/api/v1/account/settings", json={"auto_continue_enabled": False}, headers=tenant.api_headers
    )
    assert off.status_code == 200, off.text
    try:
        await client.post(f"{base}/task-lane/{cid}/dismiss", headers=tenant.headers())
        answered = await client.post(f"{base}/task-lane/{qid}/answer", json={"answer": "No"}, headers=tenant.headers())
        assert answered.json()["continue_due"] is False
        refused = await client.post(f"{base}/messages/continue", headers=tenant.headers())
        assert refused.status_code == 409
        assert "auto_continue_enabled" in refused.json()["detail"]
    finally:
        await client.patch("/api/v1/account/settings", json={"auto_continue_enabled": True}, headers=tenant.api_headers)


# ==== Transcript order ======================================================================


async def test_a_retried_turn_reads_directly_after_its_message_and_the_model_sees_alternating_turns(
    client: Client, tenant: Tenant, echo: EchoProvider
) -> None:
    sid = await _session(client, tenant)
    echo.replies.append(AIUnavailable())
    failed = await client.post(
        f"/api/v1/ai-sessions/{sid}/messages",
        json={"content": "Printing is stuck", "client_message_id": "m-1"},
        headers=tenant.headers(),
    )
    assert failed.status_code == 503
    echo.replies.append("Which printer?")
    await _chat(client, tenant, sid, "It is ACC-PRN-01", client_message_id="m-2")
    # The model saw one technician turn holding both messages, never two user turns in a row.
    second_call = echo.chat_calls()[-1].kwargs["messages"]
    assert [m["role"] for m in second_call] == ["user"]
    assert second_call[0]["content"][-1]["text"] == "Printing is stuck\n\nIt is ACC-PRN-01"

    echo.replies.append("Let us look at the queue.")
    await _chat(client, tenant, sid, "Printing is stuck", client_message_id="m-1")
    retry_call = echo.chat_calls()[-1].kwargs["messages"]
    assert [m["role"] for m in retry_call] == ["user"]  # built on what came before the retried message

    messages = (await client.get(f"/api/v1/ai-sessions/{sid}/messages", headers=tenant.headers())).json()["items"]
    assert [m["content"] for m in messages] == [
        "Printing is stuck",
        "Let us look at the queue.",
        "It is ACC-PRN-01",
        "Which printer?",
    ]
    echo.replies.append("Next.")
    await _chat(client, tenant, sid, "Done")
    roles = [m["role"] for m in echo.chat_calls()[-1].kwargs["messages"]]
    assert roles == ["user", "assistant", "user", "assistant", "user"]


# ==== Who edited a note =====================================================================


async def test_a_fact_edit_records_who_made_it(client: Client, tenant: Tenant) -> None:
    sid = await _session(client, tenant)
    dana, sam = tenant.headers(user_id="tech-dana", name="Dana"), tenant.headers(user_id="tech-sam", name="Sam")
    note = (await client.post(f"/api/v1/ai-sessions/{sid}/facts", json={"text": "VPN drops"}, headers=dana)).json()
    assert note["updated_by_user_id"] is None
    url = f"/api/v1/ai-sessions/{sid}/facts/{note['id']}"
    edited = (await client.patch(url, json={"text": "VPN drops hourly"}, headers=sam)).json()
    sam_id = (await client.get("/api/v1/me", headers=sam)).json()["user"]["id"]
    assert edited["author_user_id"] == note["author_user_id"] != sam_id
    assert edited["updated_by_user_id"] == sam_id


# ==== A plugin marker with its own effect ===================================================


class RenameMarker(Marker, frozen=True, kw_only=True, tag="rename"):
    title: str


class RenamePlugin:
    """A third-party marker: ``[RENAME]title[/RENAME]`` renames the session."""

    class Parser:
        tag = "RENAME"

        def parse(self, body: str, attrs: dict[str, str]) -> Marker | None:
            return RenameMarker(title=body) if body else None

    @hookimpl
    def register_marker_parsers(self, register):  # type: ignore[no-untyped-def]
        register(self.Parser())

    @hookimpl
    def register_marker_effects(self, register):  # type: ignore[no-untyped-def]
        async def rename(turn: TurnContext, marker: Marker) -> None:
            assert isinstance(marker, RenameMarker)
            if marker.title == "boom":
                raise RuntimeError("this effect fails")
            turn.session.title = marker.title

        register("rename", rename)


def _chat_with_plugin(
    client: Client, echo: EchoProvider, sessionmaker: async_sessionmaker[AsyncSession]
) -> ChatService:
    """A library ChatService on this test's event loop, with the plugin registered on a manager of its own."""
    manager = pluggy.PluginManager("flowpilot")
    manager.add_hookspecs(hookspecs)
    for plugin in (builtin_markers, builtin_effects, RenamePlugin()):
        manager.register(plugin)
    registry = collect(manager)
    runtime = client.app.state.runtime
    ai = AIGateway(
        provider=echo,
        policy=runtime.ai.policy,
        usage_sink=PostgresUsageSink(sessionmaker, UsageMetrics()),
        secret_key=runtime.secret_key,
    )
    return ChatService(sessionmaker, ai, registry.marker_parsers, registry.marker_effects)


async def test_a_plugin_marker_changes_the_session_through_its_own_effect(
    client: Client, tenant: Tenant, echo: EchoProvider, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    chat = _chat_with_plugin(client, echo, sessionmaker)
    sid = await _session(client, tenant)
    principal = await _principal(client, tenant, sessionmaker)
    echo.replies.append("[RENAME]ACC-PRN-01 offline for accounts[/RENAME]\n[QUESTION]Since when?[/QUESTION]")
    turn = await chat.post_message(principal, uuid.UUID(sid), ChatRequest(content="Printer problem"))
    assert [m["type"] for m in turn.assistant_message.markers] == ["rename", "question"]
    async with tenant_session(sessionmaker, tenant.account_id) as db:
        assert (await db.get(AiSession, uuid.UUID(sid))).title == "ACC-PRN-01 offline for accounts"  # type: ignore[union-attr]


async def test_a_failing_plugin_effect_loses_neither_the_reply_nor_the_other_markers(
    client: Client, tenant: Tenant, echo: EchoProvider, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    chat = _chat_with_plugin(client, echo, sessionmaker)
    sid = await _session(client, tenant)
    principal = await _principal(client, tenant, sessionmaker)
    echo.replies.append("Noted.\n[RENAME]boom[/RENAME]\n[QUESTION]Since when?[/QUESTION]")
    turn = await chat.post_message(principal, uuid.UUID(sid), ChatRequest(content="Printer problem"))
    assert turn.assistant_message.content.startswith("Noted.")
    assert [q.text for q in turn.task_lane.questions] == ["Since when?"]


async def _principal(client: Client, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]) -> Principal:
    async with sessionmaker() as db, db.begin():
        return await authenticate(db, tenant.token(), client.app.state.runtime.secret_key)
