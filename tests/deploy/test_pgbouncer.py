"""FlowPilot behind Debian's PgBouncer in transaction mode: consecutive transactions of one client connection run
on different server connections, so nothing may outlive its transaction (the tenant setting is transaction-local;
prepared statements are the part that needs ``FLOWPILOT_DATABASE_PGBOUNCER``)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
from flowpilot_server.app import create_app
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from flowpilot_core.config import Settings
from flowpilot_core.db.engine import DatabaseUrls, create_engine
from tests.conftest import Tenant
from tests.deploy.support import pgbouncer, pgbouncer_binary, served, sse_events, through_pgbouncer
from tests.echo_model import EchoProvider

if pgbouncer_binary() is None:
    if os.environ.get("FLOWPILOT_TEST_REQUIRE_PGBOUNCER"):  # .ci/run installs it: there, missing is a failure
        raise RuntimeError("FLOWPILOT_TEST_REQUIRE_PGBOUNCER is set but no pgbouncer binary is installed")
    pytestmark = pytest.mark.skip(reason="pgbouncer is not installed (apt-get install pgbouncer; .ci/run does)")

REPLY = (
    "Let's narrow it down.\n"
    "[QUESTION]Can other people print to ACC-PRN-01?[/QUESTION]\n"
    '[CHECK title="Spooler status"]Get-Service -Name Spooler[/CHECK]'
)


@pytest.fixture(scope="module")
def bouncer_port(db_urls: DatabaseUrls) -> Iterator[int]:
    # Two server connections for everything: client connections of the app's pool share them.
    with pgbouncer(db_urls.owner, users=["flowpilot_app", _user(db_urls.owner)], pool_size=2) as port:
        yield port


def _user(url: str) -> str:
    return url.split("://", 1)[1].rsplit("@", 1)[0].split(":", 1)[0]


@pytest.fixture
async def bounced(
    settings: Settings, db_urls: DatabaseUrls, bouncer_port: int
) -> AsyncIterator[tuple[httpx.AsyncClient, EchoProvider]]:
    """A real FlowPilot server whose application role reaches PostgreSQL only through PgBouncer."""
    urls = dataclasses.replace(db_urls, app=through_pgbouncer(db_urls.app, bouncer_port))
    configured = dataclasses.replace(settings, database_pgbouncer=True, db_pool_size=6, db_max_overflow=0)
    app = create_app(configured, urls=urls)
    with served(app) as url:
        echo = EchoProvider()
        app.state.runtime.ai.provider = echo
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            yield http, echo


async def test_a_whole_troubleshooting_flow_works_through_pgbouncer_and_tenants_stay_apart(
    bounced: tuple[httpx.AsyncClient, EchoProvider], tenant: Tenant, other_tenant: Tenant
) -> None:
    http, echo = bounced
    created = await http.post(
        "/api/v1/ai-sessions",
        json={"problem_statement": "Accounts can't print", "ticket": {"summary": "Printing down"}},
        headers=tenant.headers(),
    )
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    base = f"/api/v1/ai-sessions/{sid}"

    echo.replies.append(REPLY)
    turn = await http.post(f"{base}/messages", json={"content": "Help"}, headers=tenant.headers())
    assert turn.status_code == 200, turn.text
    lane = turn.json()["task_lane"]
    question = lane["questions"][0]["id"]

    echo.replies.append("Then it is this one machine.")
    sse = {**tenant.headers(), "accept": "text/event-stream"}
    streamed = await http.post(f"{base}/messages", json={"content": "Only mine fails"}, headers=sse)
    events = sse_events(streamed.text)
    assert [name for name, _ in events][-1] == "done", streamed.text
    assert "".join(data["text"] for name, data in events if name == "delta") == "Then it is this one machine."

    answered = await http.post(f"{base}/task-lane/{question}/answer", json={"answer": "No"}, headers=tenant.headers())
    assert answered.status_code == 200, answered.text
    added = await http.post(f"{base}/facts", json={"text": "PRINT01 spooler is stopped"}, headers=tenant.headers())
    assert added.status_code == 201, added.text

    # Many requests at once: the app's six connections take turns on PgBouncer's two server connections.
    reads = await asyncio.gather(*(http.get(f"{base}/facts", headers=tenant.headers()) for _ in range(12)))
    assert {r.status_code for r in reads} == {200}
    facts = [item["text"] for item in reads[-1].json()["items"]]
    assert "PRINT01 spooler is stopped" in facts
    assert "The technician said: No" in facts  # the answer's synthesised fact
    messages = (await http.get(f"{base}/messages", headers=tenant.headers())).json()["items"]
    assert [m["content"] for m in messages if m["role"] == "user"] == ["Help", "Only mine fails"]

    # Row-level security through the pooler: the other account sees none of it, even interleaved with reads.
    theirs, mine = await asyncio.gather(
        http.get(base, headers=other_tenant.headers()), http.get(base, headers=tenant.headers())
    )
    assert (theirs.status_code, mine.status_code) == (404, 200)
    listed = (await http.get("/api/v1/ai-sessions", headers=other_tenant.headers())).json()["items"]
    assert sid not in [item["id"] for item in listed]
    edit = await http.post(f"{base}/facts", json={"text": "not mine"}, headers=other_tenant.headers())
    assert edit.status_code == 404


async def test_without_the_setting_a_cached_statement_is_lost_when_the_next_transaction_lands_elsewhere(
    db_urls: DatabaseUrls, bouncer_port: int
) -> None:
    url = through_pgbouncer(db_urls.app, bouncer_port)
    query = text("SELECT count(*) FROM ai_sessions")

    async def same_query_twice(pgbouncer_setting: bool) -> None:
        engine = create_engine(url, pgbouncer=pgbouncer_setting, pool_size=1)
        blocker = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"), statement_cache_size=0)
        try:
            async with engine.connect() as conn:
                await conn.execute(query)  # prepared on the server connection this transaction got
                await conn.commit()
                # Another client now holds that server connection, so the next transaction runs on the other one.
                async with blocker.transaction():
                    await blocker.execute("SELECT 1")
                    await conn.execute(query)
                    await conn.commit()
        finally:
            await blocker.close()
            await engine.dispose()

    with pytest.raises(DBAPIError, match=r"prepared statement .* does not exist"):
        await same_query_twice(pgbouncer_setting=False)
    await same_query_twice(pgbouncer_setting=True)
