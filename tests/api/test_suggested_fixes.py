"""Suggested fixes: persisted from [SUGGEST_FIX], one active per session, supersession, decisions, tenancy."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core.config import Settings
from flowpilot_core.db.engine import DatabaseUrls, tenant_session
from flowpilot_core.db.models import SessionSuggestedFix
from flowpilot_core.events import FixDecided, FixSuggested
from tests.conftest import Tenant
from tests.echo_model import EchoProvider
from tests.plugins.support import EventRecorder, client_for, manager_with

Client = AsyncTestClient[Litestar]


def _fix(title: str, steps: str = "Restart the Print Spooler service.", facts: str = "", cause: str = "") -> str:
    attrs = f'title="{title}"' + (f' root_cause="{cause}"' if cause else "") + (f' facts="{facts}"' if facts else "")
    return f"Here is the fix.\n[SUGGEST_FIX {attrs}]{steps}[/SUGGEST_FIX]"


async def _session_with_facts(client: Client, tenant: Tenant) -> tuple[str, list[str]]:
    response = await client.post(
        "/api/v1/ai-sessions", json={"problem_statement": "Jobs stuck on PRINT01"}, headers=tenant.headers()
    )
    sid = str(response.json()["id"])
    facts = []
    for text in ("The spooler on PRINT01 is stopped.", "Other printers work."):
        made = await client.post(f"/api/v1/ai-sessions/{sid}/facts", json={"text": text}, headers=tenant.headers())
        facts.append(str(made.json()["id"]))
    return sid, facts


async def _say(client: Client, tenant: Tenant, sid: str, echo: EchoProvider, reply: str) -> dict:
    echo.replies.append(reply)
    response = await client.post(
        f"/api/v1/ai-sessions/{sid}/messages", json={"content": "What now?"}, headers=tenant.headers()
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _fixes(client: Client, tenant: Tenant, sid: str) -> dict:
    response = await client.get(f"/api/v1/ai-sessions/{sid}/suggested-fixes", headers=tenant.headers())
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_suggested_fix_is_persisted_with_only_the_live_facts_it_cites(
    client: Client, tenant: Tenant, echo: EchoProvider
) -> None:
    sid, (spooler, others) = await _session_with_facts(client, tenant)
    await client.delete(f"/api/v1/ai-sessions/{sid}/facts/{others}", headers=tenant.headers())
    invented = str(uuid.uuid4())
    cited = f"{spooler},{invented},{others},not-a-uuid"
    turn = await _say(client, tenant, sid, echo, _fix("Restart the spooler", facts=cited, cause="The spooler stopped"))
    fix = turn["suggested_fix"]
    assert (fix["title"], fix["root_cause"], fix["body"]) == (
        "Restart the spooler",
        "The spooler stopped",
        "Restart the Print Spooler service.",
    )
    assert fix["fact_ids"] == [spooler]  # deleted and invented ids dropped
    assert fix["source_message_id"] == turn["assistant_message"]["id"]
    listed = await _fixes(client, tenant, sid)
    assert listed["active"] == fix and listed["history"] == [fix]
    assert listed["state_version"] == turn["state_version"]


async def test_a_new_fix_supersedes_the_active_one_and_the_same_fix_again_changes_nothing(
    client: Client, tenant: Tenant, echo: EchoProvider
) -> None:
    sid, _ = await _session_with_facts(client, tenant)
    first = (await _say(client, tenant, sid, echo, _fix("Restart the spooler")))["suggested_fix"]
    version = (await _fixes(client, tenant, sid))["state_version"]
    again = await _say(client, tenant, sid, echo, _fix("restart the  SPOOLER"))
    assert again["suggested_fix"] is None
    assert (await _fixes(client, tenant, sid))["state_version"] == version
    second = (await _say(client, tenant, sid, echo, _fix("Reinstall the driver", "Remove and re-add the driver.")))[
        "suggested_fix"
    ]
    listed = await _fixes(client, tenant, sid)
    assert listed["active"]["id"] == second["id"]
    assert [(f["id"], f["status"], f["superseded_by_id"]) for f in listed["history"]] == [
        (second["id"], "active", None),
        (first["id"], "superseded", second["id"]),
    ]
    assert listed["state_version"] > version


async def test_the_database_keeps_one_active_fix_under_concurrent_turns(
    client: Client, tenant: Tenant, echo: EchoProvider, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    sid, _ = await _session_with_facts(client, tenant)
    echo.replies.extend([_fix(f"Fix number {i}") for i in range(6)])
    responses = await asyncio.gather(
        *(
            client.post(f"/api/v1/ai-sessions/{sid}/messages", json={"content": f"go {i}"}, headers=tenant.headers())
            for i in range(6)
        )
    )
    assert [r.status_code for r in responses] == [200] * 6
    async with tenant_session(sessionmaker, tenant.account_id) as db:
        counts = (
            await db.execute(
                select(SessionSuggestedFix.status, func.count())
                .where(SessionSuggestedFix.session_id == uuid.UUID(sid))
                .group_by(SessionSuggestedFix.status)
            )
        ).all()
    assert dict(counts) == {"active": 1, "superseded": 5}


async def test_a_decision_is_recorded_with_who_and_when_and_a_superseded_fix_refuses_one(
    client: Client, tenant: Tenant, echo: EchoProvider
) -> None:
    sid, _ = await _session_with_facts(client, tenant)
    first = (await _say(client, tenant, sid, echo, _fix("Restart the spooler")))["suggested_fix"]
    before = (await _fixes(client, tenant, sid))["state_version"]
    tech = tenant.headers(user_id="tech-dana", name="Dana")
    decided = await client.post(
        f"/api/v1/ai-sessions/{sid}/suggested-fixes/{first['id']}/decision", json={"decision": "one_off"}, headers=tech
    )
    assert decided.status_code == 200, decided.text
    me = (await client.get("/api/v1/me", headers=tech)).json()["user"]["id"]
    body = decided.json()
    assert body["user_decision"] == "one_off" and body["decided_by_user_id"] == me and body["decided_at"]
    assert (await _fixes(client, tenant, sid))["state_version"] == before + 1

    await _say(client, tenant, sid, echo, _fix("Reinstall the driver", "Remove and re-add the driver."))
    url = f"/api/v1/ai-sessions/{sid}/suggested-fixes/{first['id']}/decision"
    late = await client.post(url, json={"decision": "dismissed"}, headers=tech)
    assert late.status_code == 409
    assert "superseded" in late.json()["detail"]


@pytest.mark.parametrize("decision", ["maybe", "", None])
async def test_an_unknown_decision_is_a_422_naming_the_field(
    client: Client, tenant: Tenant, echo: EchoProvider, decision: object
) -> None:
    sid, _ = await _session_with_facts(client, tenant)
    fix = (await _say(client, tenant, sid, echo, _fix("Restart the spooler")))["suggested_fix"]
    response = await client.post(
        f"/api/v1/ai-sessions/{sid}/suggested-fixes/{fix['id']}/decision",
        json={"decision": decision},
        headers=tenant.headers(),
    )
    assert response.status_code in (400, 422)
    assert response.json()["errors"][0]["field"] == "decision"


async def test_another_accounts_fixes_read_as_404(
    client: Client, tenant: Tenant, other_tenant: Tenant, echo: EchoProvider
) -> None:
    sid, _ = await _session_with_facts(client, tenant)
    fix = (await _say(client, tenant, sid, echo, _fix("Restart the spooler")))["suggested_fix"]
    listed = await client.get(f"/api/v1/ai-sessions/{sid}/suggested-fixes", headers=other_tenant.headers())
    decided = await client.post(
        f"/api/v1/ai-sessions/{sid}/suggested-fixes/{fix['id']}/decision",
        json={"decision": "dismissed"},
        headers=other_tenant.headers(),
    )
    assert (listed.status_code, decided.status_code) == (404, 404)
    unknown = await client.post(
        f"/api/v1/ai-sessions/{sid}/suggested-fixes/{uuid.uuid4()}/decision",
        json={"decision": "dismissed"},
        headers=tenant.headers(),
    )
    assert unknown.status_code == 404
    assert (await _fixes(client, tenant, sid))["active"]["user_decision"] is None


async def test_fix_events_are_delivered_after_commit(settings: Settings, db_urls: DatabaseUrls, tenant: Tenant) -> None:
    recorder = EventRecorder()
    async with client_for(settings, db_urls, manager_with(("recorder", recorder))) as app_client:
        echo = EchoProvider()
        app_client.app.state.runtime.ai.provider = echo
        sid, _ = await _session_with_facts(app_client, tenant)
        first = (await _say(app_client, tenant, sid, echo, _fix("Restart the spooler")))["suggested_fix"]
        second = (await _say(app_client, tenant, sid, echo, _fix("Reinstall the driver", "Re-add it.")))[
            "suggested_fix"
        ]
        await _say(app_client, tenant, sid, echo, _fix("Reinstall the driver", "Re-add it."))  # the same: no event
        url = f"/api/v1/ai-sessions/{sid}/suggested-fixes/{second['id']}/decision"
        await app_client.post(url, json={"decision": "dismissed"}, headers=tenant.headers())
        refused = await app_client.post(
            f"/api/v1/ai-sessions/{sid}/suggested-fixes/{first['id']}/decision",
            json={"decision": "one_off"},
            headers=tenant.headers(),
        )
        assert refused.status_code == 409  # rolled back: no event
    fix_events = [e for e in recorder.events if isinstance(e, FixSuggested | FixDecided)]
    assert [(type(e).__name__, str(e.fix_id)) for e in fix_events] == [
        ("FixSuggested", first["id"]),
        ("FixSuggested", second["id"]),
        ("FixDecided", second["id"]),
    ]
    assert isinstance(fix_events[1], FixSuggested) and str(fix_events[1].superseded_fix_id) == first["id"]
    assert isinstance(fix_events[2], FixDecided) and fix_events[2].decision == "dismissed"
