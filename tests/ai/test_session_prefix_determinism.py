"""A stored session gives byte-identical chat requests in every process, whatever PYTHONHASHSEED.

Prompt caching needs a 100% identical prefix: if two server processes (or replicas)
laid out the same session differently, every turn that landed on "the other" process
would be a full cache write. The session is built through the API (ticket, task-lane
items, facts, a few messages); child processes with different hash seeds then load it
with the library and lay out the chat call for the next message, and the server
itself lays out the same call when that message is actually sent.

The children build the call with ``flowpilot_core.sessions.chat.build_chat_spec`` (what the chat
turn itself uses) and ``prepare_call``; comparing their bytes with what the server
really sent shows the library and the server agree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from flowpilot_core.db.engine import DatabaseUrls
from tests.conftest import REPO_ROOT, Tenant
from tests.scripted import ScriptedProvider

Client = AsyncTestClient[Litestar]

NEXT_MESSAGE = "The spooler on PRINT01 was stopped; I started it and jobs are moving again."

CHILD = textwrap.dedent(
    """
    import asyncio, json, sys, uuid

    from sqlalchemy.pool import NullPool

    from flowpilot_core.accounts.accounts import Principal
    from flowpilot_core.ai.policy import AIPolicy
    from flowpilot_core.ai.provider import prepare_call
    from flowpilot_core.sessions.chat import build_chat_spec
    from flowpilot_core.db.engine import create_engine, make_sessionmaker, tenant_session
    from flowpilot_core.db.models import AiSession


    async def main(url: str, account_id: uuid.UUID, session_id: uuid.UUID, request: str) -> None:
        engine = create_engine(url, poolclass=NullPool)
        principal = Principal(account_id=account_id, via="api_key")
        try:
            async with tenant_session(make_sessionmaker(engine), account_id) as db:
                session = await db.get(AiSession, session_id)
                spec = await build_chat_spec(db, principal, session, request)
        finally:
            await engine.dispose()
        laid_out = prepare_call(spec, policy=AIPolicy.from_config({}))
        sys.stdout.write(json.dumps(laid_out.kwargs))


    asyncio.run(main(sys.argv[1], uuid.UUID(sys.argv[2]), uuid.UUID(sys.argv[3]), sys.argv[4]))
    """
)


async def _build_session(client: Client, tenant: Tenant) -> str:
    """A realistic session with the offline model: ticket, questions and checks, facts, four messages."""
    headers = tenant.headers()
    ticket = {
        "summary": "Accounts cannot print - jobs stuck in queue",
        "description": "Since 9am accounts can't print. Jobs sit in the queue on WS-ACC-04 and PRINT01.",
        "company": "Contoso Dental",
        "contact": "Tom Reed",
        "board": "Service Desk",
        "priority": "Priority 2 - High",
    }
    body = {
        "problem_statement": "Printing stuck in queue for the accounts team",
        "ticket": ticket,
        "ticket_ref": "T-4711",
    }
    created = await client.post("/api/v1/ai-sessions", json=body, headers=headers)
    assert created.status_code == 201, created.text
    sid = str(created.json()["id"])
    url = f"/api/v1/ai-sessions/{sid}"

    first = await client.post(f"{url}/messages", json={"content": "Users can't print, jobs stuck"}, headers=headers)
    assert first.status_code == 200, first.text
    questions = first.json()["task_lane"]["questions"]
    assert questions, "the offline print-spooler playbook asks a question first"
    answered = await client.post(
        f"{url}/task-lane/{questions[0]['id']}/answer", json={"answer": "No"}, headers=headers
    )
    assert answered.status_code == 200, answered.text
    note = await client.post(
        f"{url}/facts", json={"text": "Windows updates installed over the weekend"}, headers=headers
    )
    assert note.status_code == 201
    second = await client.post(f"{url}/messages", json={"content": "What should I check next?"}, headers=headers)
    assert second.status_code == 200, second.text

    lane = second.json()["task_lane"]
    facts = (await client.get(f"{url}/facts", headers=headers)).json()["items"]
    messages = (await client.get(f"{url}/messages", headers=headers)).json()["items"]
    assert len(lane["questions"]) + len(lane["checks"]) >= 2, lane
    assert len(facts) >= 2, facts
    assert len(messages) == 4
    return sid


def _lay_out_in_child(db_urls: DatabaseUrls, tenant: Tenant, sid: str, seed: str) -> bytes:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-c", CHILD, db_urls.app, str(tenant.account_id), sid, NEXT_MESSAGE],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


@pytest.mark.slow
async def test_the_same_stored_session_lays_out_identically_in_every_process(
    client: Client, tenant: Tenant, db_urls: DatabaseUrls
) -> None:
    sid = await _build_session(client, tenant)

    outputs = [_lay_out_in_child(db_urls, tenant, sid, seed) for seed in ("1", "2", "4242")]
    assert outputs[0] == outputs[1] == outputs[2]
    kwargs = json.loads(outputs[0])
    assert len(kwargs["messages"]) == 5 and kwargs["messages"][-1]["content"][-1]["text"] == NEXT_MESSAGE
    stable = json.loads(kwargs["system"][-1]["text"])
    assert stable["ticket"]["ref"] == "T-4711" and stable["account"] == {"name": tenant.name}

    # The server, sending that message for real, lays out exactly the same bytes.
    runtime = client.app.state.runtime
    original, scripted = runtime.ai.provider, ScriptedProvider(replies=["Good. Let's confirm the queue empties."])
    runtime.ai.provider = scripted
    try:
        sent = await client.post(
            f"/api/v1/ai-sessions/{sid}/messages", json={"content": NEXT_MESSAGE}, headers=tenant.headers()
        )
    finally:
        runtime.ai.provider = original
    assert sent.status_code == 200, sent.text
    assert json.dumps(scripted.calls[-1].kwargs).encode() == outputs[0]
