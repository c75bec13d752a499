"""The script library, the script generator and the no-template options through the HTTP API."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.pool import NullPool

from flowpilot_core.accounts import Principal
from flowpilot_core.config import Settings
from flowpilot_core.db.engine import DatabaseUrls, create_engine, tenant_session
from flowpilot_core.events import DraftTemplateDecided, FixDecided, TemplateCreated
from flowpilot_core.fixes import propose_fix
from tests.conftest import Tenant
from tests.echo_model import EchoProvider
from tests.plugins.support import EventRecorder, client_for, manager_with

Client = AsyncTestClient[Litestar]
SECRET = "Tr0ub4dor&3-never-stored"

SPOOLER_TEMPLATE: dict[str, Any] = {
    "name": "Restart-PrintSpooler",
    "description": "Restarts the Print Spooler service on a PC",
    "language": "powershell",
    "tags": ["printing", "spooler"],
    "body": (
        "Invoke-Command -ComputerName {{ computer }} -ScriptBlock { Restart-Service -Name Spooler -Force }\n"
        "Write-Output ('Done for ' + {{ requester }})\n"
    ),
    "parameter_schema": {
        "parameters": [
            {"name": "computer", "label": "Computer", "type": "hostname"},
            {"name": "requester", "label": "Requester", "type": "string", "required": False},
        ]
    },
}
RESET_TEMPLATE: dict[str, Any] = {
    "name": "Reset-LocalPassword",
    "description": "Sets a new local password",
    "language": "powershell",
    "body": (
        "$pw = ConvertTo-SecureString {{ password }} -AsPlainText -Force\n"
        "Set-LocalUser -Name {{ user }} -Password $pw\nFrobnicate-Account {{ user }}\n"
    ),
    "parameter_schema": {
        "parameters": [
            {"name": "user", "type": "string"},
            {"name": "password", "label": "New password", "type": "secret"},
        ]
    },
}


async def _session(client: Client, tenant: Tenant, ref: str | None = "T-1042", **ticket: str) -> str:
    """A session; with a ticket it is linked to ``ref`` unless ``ref`` is None (it then resolves locally)."""
    body: dict[str, Any] = {"problem_statement": "Users on PC-042 cannot print"}
    if ticket:
        body["ticket"] = ticket
        if ref is not None:
            body["ticket_ref"] = ref
    response = await client.post("/api/v1/ai-sessions", json=body, headers=tenant.headers())
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _fact(client: Client, tenant: Tenant, sid: str, fact: str) -> str:
    response = await client.post(f"/api/v1/ai-sessions/{sid}/facts", json={"text": fact}, headers=tenant.headers())
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _fix(sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant, sid: str, title: str, body: str) -> str:
    principal = Principal(account_id=tenant.account_id, via="api_key")
    async with tenant_session(sessionmaker, tenant.account_id) as db:
        fix, _ = await propose_fix(
            db, principal, uuid.UUID(sid), title=title, root_cause="The spooler stopped", body=body
        )
    return str(fix.id)


async def _template(client: Client, tenant: Tenant, template: dict[str, Any], **extra: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/script-templates", json={**template, **extra}, headers=tenant.headers())
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _state_version(client: Client, tenant: Tenant, sid: str) -> int:
    response = await client.get(f"/api/v1/ai-sessions/{sid}", headers=tenant.headers())
    return int(response.json()["state_version"])


async def _resolve(client: Client, tenant: Tenant, sid: str) -> None:
    preview = await client.get(f"/api/v1/ai-sessions/{sid}/resolution-note/preview", headers=tenant.headers())
    body = {"markdown": preview.json()["markdown"], "state_version": preview.json()["state_version"]}
    response = await client.post(
        f"/api/v1/ai-sessions/{sid}/resolution-note/post",
        json={**body, "idempotency_key": uuid.uuid4().hex},
        headers=tenant.headers(),
    )
    assert response.status_code == 200, response.text


async def _rows_containing(db_urls: DatabaseUrls, needle: str) -> list[str]:
    """Every table (read as the owner, past RLS) with a row whose text contains ``needle``."""
    engine = create_engine(db_urls.owner, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            tables = (await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))).scalars()
            found = []
            for table in list(tables):
                hit = await conn.execute(
                    text(f'SELECT 1 FROM "{table}" t WHERE t::text LIKE :needle LIMIT 1'), {"needle": f"%{needle}%"}
                )
                if hit.first() is not None:
                    found.append(table)
            return found
    finally:
        await engine.dispose()


# -- the library ---------------------------------------------------------------------------------


async def test_templates_crud_search_and_provenance(client: Client, tenant: Tenant) -> None:
    sid = await _session(client, tenant, summary="Cannot print", company="Contoso")
    made = await _template(client, tenant, SPOOLER_TEMPLATE, source_session_id=sid)
    assert made["source_session_id"] == sid and made["source_ticket_ref"] == "T-1042"
    assert made["source_user_id"] is not None  # the technician of the embed token
    assert made["unknown_commands"] == [] and {c["name"] for c in made["commands"]} >= {"Invoke-Command"}
    other = await _template(client, tenant, RESET_TEMPLATE)
    assert other["unknown_commands"] == ["Frobnicate-Account"]
    assert other["source_session_id"] is None

    listed = (await client.get("/api/v1/script-templates", headers=tenant.headers())).json()
    assert [t["name"] for t in listed["items"]] == ["Reset-LocalPassword", "Restart-PrintSpooler"]
    assert listed["pending_drafts"] == 0
    assert listed["items"][1]["parameter_count"] == 2
    found = (
        await client.get("/api/v1/script-templates", params={"q": "spooler PRINTING"}, headers=tenant.headers())
    ).json()
    assert [t["name"] for t in found["items"]] == ["Restart-PrintSpooler"]
    assert (await client.get("/api/v1/script-templates", params={"q": "50%_"}, headers=tenant.headers())).json()[
        "items"
    ] == []

    url = f"/api/v1/script-templates/{made['id']}"
    patched = await client.patch(
        url, json={"description": "Restarts the spooler", "tags": ["print"]}, headers=tenant.headers()
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["description"], patched.json()["tags"]) == ("Restarts the spooler", ["print"])
    assert (await client.get(url, headers=tenant.headers())).json()["body"] == SPOOLER_TEMPLATE["body"]
    assert (await client.delete(url, headers=tenant.headers())).status_code == 204
    assert (await client.get(url, headers=tenant.headers())).status_code == 404


@pytest.mark.parametrize(
    ("change", "status", "field"),
    (
        ({"body": "Restart-Computer {{ host }}"}, 422, "body"),
        ({"body": "{% if %}"}, 422, "body"),
        ({"body": 'Write-Host "Restarting on {{ computer }}"'}, 422, "body"),
        (
            {"parameter_schema": {"parameters": [{"name": "computer", "type": "enum"}]}},
            422,
            "parameter_schema.parameters[0].choices",
        ),
        (
            {"parameter_schema": {"parameters": [{"name": "computer", "type": "secret", "default": "x"}]}},
            422,
            "parameter_schema.parameters[0].default",
        ),
        ({"language": "cobol"}, 400, "language"),
        ({"parameter_schema": {"parameters": [{"name": "1bad"}]}}, 400, "parameter_schema.parameters[0].name"),
    ),
)
async def test_a_template_that_cannot_work_is_a_422_naming_the_field(
    client: Client, tenant: Tenant, change: dict[str, Any], status: int, field: str
) -> None:
    response = await client.post(
        "/api/v1/script-templates", json={**SPOOLER_TEMPLATE, **change}, headers=tenant.headers()
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_a_second_template_with_the_same_name_is_a_409(client: Client, tenant: Tenant) -> None:
    await _template(client, tenant, SPOOLER_TEMPLATE)
    again = await client.post("/api/v1/script-templates", json=SPOOLER_TEMPLATE, headers=tenant.headers())
    assert again.status_code == 409
    assert "already exists" in again.json()["detail"]


# -- generating from a template -------------------------------------------------------------------


async def test_a_generation_renders_quoted_values_links_the_session_and_bumps_state_version(
    client: Client, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    sid = await _session(client, tenant)
    fix_id = await _fix(sessionmaker, tenant, sid, "Restart the Print Spooler service", "Restart the spooler.")
    template = await _template(client, tenant, SPOOLER_TEMPLATE)
    before = await _state_version(client, tenant, sid)
    response = await client.post(
        f"/api/v1/ai-sessions/{sid}/script-generations",
        json={
            "template_id": template["id"],
            "suggested_fix_id": fix_id,
            "parameters": {"computer": "PC-042", "requester": "x'; Remove-Item C:\\ -Recurse; '"},
        },
        headers=tenant.headers(),
    )
    assert response.status_code == 201, response.text
    generation = response.json()
    assert generation["script"].splitlines() == [
        "Invoke-Command -ComputerName 'PC-042' -ScriptBlock { Restart-Service -Name Spooler -Force }",
        "Write-Output ('Done for ' + 'x''; Remove-Item C:\\ -Recurse; ''')",
    ]
    assert (generation["session_id"], generation["template_id"], generation["suggested_fix_id"]) == (
        sid,
        template["id"],
        fix_id,
    )
    assert generation["path"] == "template"
    assert generation["state_version"] == before + 1 == await _state_version(client, tenant, sid)

    missing = await client.post(
        f"/api/v1/ai-sessions/{sid}/script-generations",
        json={"template_id": template["id"], "parameters": {"computer": "PC 042; calc"}},
        headers=tenant.headers(),
    )
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "parameters.computer"
    required = await client.post(
        f"/api/v1/ai-sessions/{sid}/script-generations", json={"template_id": template["id"]}, headers=tenant.headers()
    )
    assert required.status_code == 422
    assert required.json()["errors"] == [
        {"field": "parameters.computer", "message": "parameter 'computer' (Computer) is required"}
    ]
    assert await _state_version(client, tenant, sid) == before + 1  # refused generations store nothing


async def test_a_secret_is_returned_once_and_never_stored_logged_previewed_or_sent_to_a_model(
    client: Client, tenant: Tenant, db_urls: DatabaseUrls, echo: EchoProvider, caplog: pytest.LogCaptureFixture
) -> None:
    sid = await _session(client, tenant, summary="Reset a local password")
    template = await _template(client, tenant, RESET_TEMPLATE)
    with caplog.at_level(logging.DEBUG):
        response = await client.post(
            f"/api/v1/ai-sessions/{sid}/script-generations",
            json={"template_id": template["id"], "parameters": {"user": "jdoe", "password": SECRET}},
            headers=tenant.headers(),
        )
        assert response.status_code == 201, response.text
        generation = response.json()
        assert f"ConvertTo-SecureString '{SECRET}'" in generation["script"]  # the technician copies it now
        assert generation["parameters"] == {"user": "jdoe", "password": "[redacted]"}
        assert generation["unknown_commands"] == ["Frobnicate-Account"]

        listed = (await client.get(f"/api/v1/ai-sessions/{sid}/script-generations", headers=tenant.headers())).json()
        (stored,) = listed
        assert SECRET not in json.dumps(stored)
        assert "ConvertTo-SecureString '[redacted]'" in stored["script"] and stored["redacted"] is True

        preview = (
            await client.get(f"/api/v1/ai-sessions/{sid}/resolution-note/preview", headers=tenant.headers())
        ).json()
        assert "- Ran script: Reset-LocalPassword (powershell, user=jdoe, password=[redacted])" in preview["markdown"]
        assert SECRET not in preview["markdown"]

        # a model call made in the same session (the one-off script) carries no parameter value
        fix = await _fix_via_chat(client, tenant, sid, echo)
        echo.replies.append(json.dumps({"name": "Reset.ps1", "script": "Get-LocalUser\n"}))
        chosen = await client.post(
            f"/api/v1/ai-sessions/{sid}/suggested-fixes/{fix}/no-template",
            json={"decision": "one_off"},
            headers=tenant.headers(),
        )
        assert chosen.status_code == 200, chosen.text
    script_calls = [c for c in echo.calls if c.spec.service == "script_generation"]
    assert len(script_calls) == 1
    assert all(SECRET not in json.dumps(c.kwargs, default=str) for c in echo.calls)
    assert SECRET not in caplog.text
    assert await _rows_containing(db_urls, SECRET) == []
    assert await _rows_containing(db_urls, "[redacted]") == ["script_generations"]


async def _fix_via_chat(client: Client, tenant: Tenant, sid: str, echo: EchoProvider) -> str:
    echo.replies.append('[SUGGEST_FIX title="Reset the password" root_cause="Forgotten"]Set a new one.[/SUGGEST_FIX]')
    turn = await client.post(f"/api/v1/ai-sessions/{sid}/messages", json={"content": "Next?"}, headers=tenant.headers())
    assert turn.status_code == 200, turn.text
    return str(turn.json()["suggested_fix"]["id"])


async def test_a_one_off_script_that_holds_a_password_is_stored_without_it(
    client: Client, tenant: Tenant, db_urls: DatabaseUrls, echo: EchoProvider
) -> None:
    sid = await _session(client, tenant)
    fix = await _fix_via_chat(client, tenant, sid, echo)
    script = (
        f"$password = '{SECRET}'\n"
        "Set-LocalUser -Name jdoe -Password (ConvertTo-SecureString $password -AsPlainText -Force)\n"
    )
    echo.replies.append(json.dumps({"name": "Reset.ps1", "script": script}))
    chosen = await client.post(
        f"/api/v1/ai-sessions/{sid}/suggested-fixes/{fix}/no-template",
        json={"decision": "one_off"},
        headers=tenant.headers(),
    )
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["generation"]["script"] == script
    assert await _rows_containing(db_urls, SECRET) == []
    (stored,) = (await client.get(f"/api/v1/ai-sessions/{sid}/script-generations", headers=tenant.headers())).json()
    assert stored["redacted"] is True and "$password = '[redacted]'" in stored["script"]


# -- prefill and matching ----------------------------------------------------------------------------


async def test_prefill_reads_facts_ticket_and_account_and_names_each_source(client: Client, tenant: Tenant) -> None:
    sid = await _session(client, tenant, summary="Cannot print", company="Contoso Ltd", contact="Jane Doe")
    await _fact(client, tenant, sid, "The printer at 10.0.5.20 answers on TCP 9100.")
    host_fact = await _fact(client, tenant, sid, "The Print Spooler on PC-042 is stopped.")
    user_fact = await _fact(client, tenant, sid, "User jdoe@contoso.com sees the error.")
    template = await _template(
        client,
        tenant,
        {
            "name": "Prefill probe",
            "body": (
                "x {{ computer }} {{ printer_ip }} {{ upn }} {{ company }} {{ requester_contact }} {{ msp_name }} "
                "{{ pw }} {{ mode }} {{ share }}"
            ),
            "parameter_schema": {
                "parameters": [
                    {"name": "computer", "type": "hostname"},
                    {"name": "printer_ip", "type": "ip"},
                    {"name": "upn", "type": "email_upn"},
                    {"name": "company", "type": "string"},
                    {"name": "requester_contact", "type": "string"},
                    {"name": "msp_name", "type": "string", "required": False},
                    {"name": "pw", "type": "secret"},
                    {"name": "mode", "type": "enum", "choices": ["quick", "full"], "default": "quick"},
                    {"name": "share", "type": "path"},
                ]
            },
        },
    )
    response = await client.get(
        f"/api/v1/ai-sessions/{sid}/script-templates/{template['id']}/prefill", headers=tenant.headers()
    )
    assert response.status_code == 200, response.text
    values = {v["name"]: (v["value"], v["source"]) for v in response.json()["values"]}
    assert values["computer"][0] == "PC-042" and values["computer"][1]["kind"] == "fact"
    assert values["computer"][1]["id"] == host_fact
    assert values["printer_ip"][0] == "10.0.5.20" and values["printer_ip"][1]["kind"] == "fact"
    assert values["upn"] == (
        "jdoe@contoso.com",
        {"kind": "fact", "id": user_fact, "field": None, "excerpt": "User jdoe@contoso.com sees the error."},
    )
    assert values["company"] == (
        "Contoso Ltd",
        {"kind": "ticket", "id": sid, "field": "company", "excerpt": "Contoso Ltd"},
    )
    assert values["requester_contact"][0] == "Jane Doe" and values["requester_contact"][1]["field"] == "contact"
    assert values["msp_name"][0] == "Tenant A" and values["msp_name"][1]["kind"] == "account"
    assert values["pw"] == (None, None)  # a secret is never prefilled
    assert values["mode"] == ("quick", {"kind": "default", "id": None, "field": None, "excerpt": None})
    assert response.json()["missing_required"] == ["pw", "share"]


async def test_the_fixes_best_templates_are_matched_with_reasons(
    client: Client, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    sid = await _session(client, tenant)
    fix = await _fix(sessionmaker, tenant, sid, "Restart the Print Spooler service", "Start-Service Spooler")
    url = f"/api/v1/ai-sessions/{sid}/suggested-fixes/{fix}/template-matches"
    empty = (await client.get(url, headers=tenant.headers())).json()
    assert (empty["matches"], empty["templates_considered"]) == ([], 0)
    spooler = await _template(client, tenant, SPOOLER_TEMPLATE)
    await _template(client, tenant, RESET_TEMPLATE)
    found = (await client.get(url, headers=tenant.headers())).json()
    assert found["templates_considered"] == 2
    assert [m["template_id"] for m in found["matches"]] == [spooler["id"]]
    assert found["matches"][0]["matched_by"] == ["keywords"]
    assert "spooler" in found["matches"][0]["reasons"][0]["reason"]


# -- the three no-template options ---------------------------------------------------------------


async def _printing_session(
    client: Client, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession], ref: str | None = "T-1042"
) -> tuple[str, str]:
    sid = await _session(client, tenant, ref, summary="Cannot print", company="Contoso")
    await _fact(client, tenant, sid, "The Print Spooler service on PC-042 is stopped.")
    fix = await _fix(sessionmaker, tenant, sid, "Restart the Print Spooler service", "Start-Service -Name Spooler")
    return sid, fix


async def test_run_as_one_off_stores_the_offline_models_script_as_a_generation(
    client: Client, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    sid, fix = await _printing_session(client, tenant, sessionmaker)
    before = await _state_version(client, tenant, sid)
    response = await client.post(
        f"/api/v1/ai-sessions/{sid}/suggested-fixes/{fix}/no-template",
        json={"decision": "one_off"},
        headers=tenant.headers(),
    )
    assert response.status_code == 200, response.text
    outcome = response.json()
    assert outcome["fix"]["user_decision"] == "one_off"
    generation = outcome["generation"]
    assert generation["path"] == "one_off" and generation["suggested_fix_id"] == fix and generation["session_id"] == sid
    assert "$ComputerName = 'PC-042'" in generation["script"]  # the host the fact named
    assert generation["unknown_commands"] == []
    assert outcome["draft"] is None and outcome["extraction"] is None
    assert await _state_version(client, tenant, sid) == before + 2  # the decision and the generation
    preview = (await client.get(f"/api/v1/ai-sessions/{sid}/resolution-note/preview", headers=tenant.headers())).json()
    assert "- Ran script: Restart-PrintSpooler.ps1 (powershell)" in preview["markdown"]
    drafts = (await client.get("/api/v1/draft-templates", headers=tenant.headers())).json()
    assert drafts == {"items": [], "pending": 0}


async def test_run_now_templatize_after_resolve_then_accept_creates_the_template_with_provenance(
    client: Client, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    sid, fix = await _printing_session(client, tenant, sessionmaker, ref=None)
    response = await client.post(
        f"/api/v1/ai-sessions/{sid}/suggested-fixes/{fix}/no-template",
        json={"decision": "draft_template"},
        headers=tenant.headers(),
    )
    assert response.status_code == 200, response.text
    outcome = response.json()
    draft = outcome["draft"]
    assert draft["status"] == "pending" and draft["script_generation_id"] == outcome["generation"]["id"]
    assert "{{ computer_name }}" in draft["body"] and "PC-042" not in draft["body"]
    (param,) = draft["parameter_schema"]["parameters"]
    assert (param["name"], param["type"], param["default"]) == ("computer_name", "hostname", "PC-042")
    listed = (await client.get("/api/v1/script-templates", headers=tenant.headers())).json()
    assert listed["pending_drafts"] == 1
    pending = (
        await client.get("/api/v1/draft-templates", params={"status": "pending"}, headers=tenant.headers())
    ).json()
    assert [d["id"] for d in pending["items"]] == [draft["id"]]

    prompt_url = f"/api/v1/ai-sessions/{sid}/templatize-prompt"
    before = (await client.get(prompt_url, headers=tenant.headers())).json()
    assert before["show"] is False
    assert before["conditions"] == {
        "resolved": False,
        "prompt_enabled": True,
        "has_pending_drafts": True,
        "chose_templatize_after_resolve": True,
    }
    await _resolve(client, tenant, sid)
    after = (await client.get(prompt_url, headers=tenant.headers())).json()
    assert after["show"] is True and [d["id"] for d in after["drafts"]] == [draft["id"]]

    edits = {"name": "Restart spooler on a PC", "tags": ["printing"], "description": "Accepted after T-1042"}
    accepted = await client.post(f"/api/v1/draft-templates/{draft['id']}/accept", json=edits, headers=tenant.headers())
    assert accepted.status_code == 201, accepted.text
    template = accepted.json()
    assert (template["name"], template["tags"], template["description"]) == (
        edits["name"],
        ["printing"],
        edits["description"],
    )
    assert template["source_session_id"] == sid  # (the ticket ref comes with it: see the build-as-template test)
    assert template["source_user_id"] is not None
    assert template["body"] == draft["body"]
    decided = (await client.get(f"/api/v1/draft-templates/{draft['id']}", headers=tenant.headers())).json()
    assert (decided["status"], decided["template_id"]) == ("accepted", template["id"])
    assert (await client.get(prompt_url, headers=tenant.headers())).json()["show"] is False
    again = await client.post(f"/api/v1/draft-templates/{draft['id']}/accept", json={}, headers=tenant.headers())
    assert again.status_code == 409
    # the accepted template renders back the script that ran
    rendered = await client.post(
        f"/api/v1/ai-sessions/{sid}/script-generations",
        json={"template_id": template["id"], "parameters": {"computer_name": "PC-042"}},
        headers=tenant.headers(),
    )
    assert "$ComputerName = 'PC-042'" in rendered.json()["script"]


async def test_build_as_template_returns_the_extraction_and_saving_it_records_the_provenance(
    client: Client, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    sid, fix = await _printing_session(client, tenant, sessionmaker)
    response = await client.post(
        f"/api/v1/ai-sessions/{sid}/suggested-fixes/{fix}/no-template",
        json={"decision": "build_template"},
        headers=tenant.headers(),
    )
    assert response.status_code == 200, response.text
    outcome = response.json()
    assert outcome["fix"]["user_decision"] == "build_template"
    assert outcome["generation"] is None and outcome["draft"] is None
    extraction = outcome["extraction"]
    assert "{{ computer_name }}" in extraction["body"]
    assert (await client.get(f"/api/v1/ai-sessions/{sid}/script-generations", headers=tenant.headers())).json() == []
    saved = await _template(
        client,
        tenant,
        {"name": "Spooler restart", "body": extraction["body"], "parameter_schema": extraction["parameter_schema"]},
        source_session_id=sid,
    )
    assert (saved["source_session_id"], saved["source_ticket_ref"]) == (sid, "T-1042")


async def test_skip_creates_nothing_and_dont_ask_again_is_respected_until_an_admin_turns_it_back_on(
    client: Client, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async def draft_session() -> tuple[str, str]:
        sid, fix = await _printing_session(client, tenant, sessionmaker, ref=None)
        response = await client.post(
            f"/api/v1/ai-sessions/{sid}/suggested-fixes/{fix}/no-template",
            json={"decision": "draft_template"},
            headers=tenant.headers(),
        )
        await _resolve(client, tenant, sid)
        return sid, str(response.json()["draft"]["id"])

    sid, draft = await draft_session()
    skipped = await client.post(f"/api/v1/draft-templates/{draft}/skip", json={}, headers=tenant.headers())
    assert skipped.status_code == 200 and skipped.json()["status"] == "rejected"
    assert (await client.get("/api/v1/script-templates", headers=tenant.headers())).json() == {
        "items": [],
        "pending_drafts": 0,
    }

    sid, draft = await draft_session()
    prompt = (await client.get(f"/api/v1/ai-sessions/{sid}/templatize-prompt", headers=tenant.headers())).json()
    assert prompt["show"] is True
    never = await client.post(
        f"/api/v1/draft-templates/{draft}/skip", json={"dont_ask_again": True}, headers=tenant.headers()
    )
    assert never.status_code == 200
    settings = (await client.get("/api/v1/account/settings", headers=tenant.headers())).json()
    assert settings["templatize_prompt_enabled"] is False

    sid, draft = await draft_session()  # the next resolve respects it
    prompt = (await client.get(f"/api/v1/ai-sessions/{sid}/templatize-prompt", headers=tenant.headers())).json()
    assert prompt["show"] is False and prompt["conditions"]["prompt_enabled"] is False
    assert prompt["conditions"]["has_pending_drafts"] is True

    turned_on = await client.patch(
        "/api/v1/account/settings", json={"templatize_prompt_enabled": True}, headers=tenant.api_headers
    )
    assert turned_on.status_code == 200
    prompt = (await client.get(f"/api/v1/ai-sessions/{sid}/templatize-prompt", headers=tenant.headers())).json()
    assert prompt["show"] is True


# -- tenancy ----------------------------------------------------------------------------------------


async def test_another_accounts_ids_are_404_on_every_script_endpoint(
    client: Client, tenant: Tenant, other_tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    sid, fix = await _printing_session(client, tenant, sessionmaker)
    template = await _template(client, tenant, SPOOLER_TEMPLATE)
    outcome = (
        await client.post(
            f"/api/v1/ai-sessions/{sid}/suggested-fixes/{fix}/no-template",
            json={"decision": "draft_template"},
            headers=tenant.headers(),
        )
    ).json()
    draft = outcome["draft"]["id"]
    own_sid = await _session(client, other_tenant)
    own_template = await _template(client, other_tenant, SPOOLER_TEMPLATE)
    other = other_tenant.headers()
    tid = template["id"]
    calls = [
        ("GET", f"/api/v1/script-templates/{tid}", None),
        ("PATCH", f"/api/v1/script-templates/{tid}", {"description": "mine now"}),
        ("DELETE", f"/api/v1/script-templates/{tid}", None),
        ("GET", f"/api/v1/draft-templates/{draft}", None),
        ("POST", f"/api/v1/draft-templates/{draft}/accept", {}),
        ("POST", f"/api/v1/draft-templates/{draft}/skip", {}),
        ("GET", f"/api/v1/ai-sessions/{sid}/suggested-fixes/{fix}/template-matches", None),
        ("POST", f"/api/v1/ai-sessions/{sid}/suggested-fixes/{fix}/no-template", {"decision": "one_off"}),
        ("GET", f"/api/v1/ai-sessions/{sid}/script-templates/{tid}/prefill", None),
        ("GET", f"/api/v1/ai-sessions/{own_sid}/script-templates/{tid}/prefill", None),
        ("POST", f"/api/v1/ai-sessions/{sid}/script-generations", {"template_id": own_template["id"]}),
        (
            "POST",
            f"/api/v1/ai-sessions/{own_sid}/script-generations",
            {"template_id": tid, "parameters": {"computer": "PC-1"}},
        ),
        ("GET", f"/api/v1/ai-sessions/{sid}/script-generations", None),
        ("GET", f"/api/v1/ai-sessions/{sid}/templatize-prompt", None),
    ]
    for method, url, body in calls:
        response = await client.request(method, url, json=body, headers=other)
        assert response.status_code == 404, (method, url, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    source = await client.post(
        "/api/v1/script-templates", json={**SPOOLER_TEMPLATE, "name": "x", "source_session_id": sid}, headers=other
    )
    assert source.status_code == 404
    listed = (await client.get("/api/v1/script-templates", headers=other)).json()
    assert [t["id"] for t in listed["items"]] == [own_template["id"]] and listed["pending_drafts"] == 0
    assert (await client.get("/api/v1/draft-templates", headers=other)).json() == {"items": [], "pending": 0}
    mine = (await client.get(f"/api/v1/script-templates/{tid}", headers=tenant.headers())).json()
    assert mine["description"] == SPOOLER_TEMPLATE["description"]  # untouched by the other account


async def test_the_same_choice_again_returns_what_the_first_stored_instead_of_a_second_script(
    client: Client, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    sid, fix = await _printing_session(client, tenant, sessionmaker)
    url = f"/api/v1/ai-sessions/{sid}/suggested-fixes/{fix}/no-template"
    first = (await client.post(url, json={"decision": "draft_template"}, headers=tenant.headers())).json()
    version = await _state_version(client, tenant, sid)
    again = (await client.post(url, json={"decision": "draft_template"}, headers=tenant.headers())).json()
    assert again["generation"]["id"] == first["generation"]["id"]
    assert again["draft"]["id"] == first["draft"]["id"]
    assert again["extraction"]["body"] == first["extraction"]["body"]
    assert await _state_version(client, tenant, sid) == version
    listed = (await client.get(f"/api/v1/ai-sessions/{sid}/script-generations", headers=tenant.headers())).json()
    assert len(listed) == 1
    assert (await client.get("/api/v1/draft-templates", headers=tenant.headers())).json()["pending"] == 1


async def test_creating_and_deciding_templates_reach_plugins_as_events(
    settings: Settings, db_urls: DatabaseUrls, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    recorder = EventRecorder()
    async with client_for(settings, db_urls, manager_with(("recorder", recorder))) as events_client:
        sid, fix = await _printing_session(events_client, tenant, sessionmaker, ref=None)
        made = await _template(events_client, tenant, SPOOLER_TEMPLATE, source_session_id=sid)
        outcome = await events_client.post(
            f"/api/v1/ai-sessions/{sid}/suggested-fixes/{fix}/no-template",
            json={"decision": "draft_template"},
            headers=tenant.headers(),
        )
        draft = outcome.json()["draft"]["id"]
        accepted = await events_client.post(
            f"/api/v1/draft-templates/{draft}/accept", json={"name": "From the draft"}, headers=tenant.headers()
        )
        assert accepted.status_code == 201, accepted.text
    created = [e for e in recorder.events if isinstance(e, TemplateCreated)]
    assert [(str(e.template_id), e.draft_id) for e in created] == [
        (made["id"], None),
        (accepted.json()["id"], uuid.UUID(draft)),
    ]
    assert all(str(e.session_id) == sid for e in created)
    (decided,) = [e for e in recorder.events if isinstance(e, DraftTemplateDecided)]
    assert (str(decided.draft_id), decided.decision, str(decided.template_id)) == (
        draft,
        "accepted",
        accepted.json()["id"],
    )
    assert [e.decision for e in recorder.events if isinstance(e, FixDecided)] == ["draft_template"]


async def test_the_model_pass_adds_what_the_rules_missed_and_never_sees_a_password(
    client: Client, tenant: Tenant, echo: EchoProvider
) -> None:
    sid = await _session(client, tenant)
    fix = await _fix_via_chat(client, tenant, sid, echo)
    script = (
        "netsh wlan connect name='Fabrikam-Corp' ssid='Fabrikam-Corp'\n"
        f"Set-LocalUser -Name 'kiosk' -Password (ConvertTo-SecureString '{SECRET}' -AsPlainText -Force)\n"
    )
    echo.replies.append(json.dumps({"name": "Join-Wifi.ps1", "script": script}))
    suggestions = [
        {"literal": "Fabrikam-Corp", "name": "wifi_profile", "type": "string"},
        {"literal": "[redacted]", "name": "password", "type": "string"},  # a secret is never the model's to name
        {"literal": "not in the script", "name": "ghost", "type": "string"},
        {"literal": "kiosk", "name": "bad name!", "type": "string"},
    ]
    echo.replies.append(json.dumps({"parameters": suggestions}))
    response = await client.post(
        f"/api/v1/ai-sessions/{sid}/suggested-fixes/{fix}/no-template",
        json={"decision": "build_template"},
        headers=tenant.headers(),
    )
    assert response.status_code == 200, response.text
    extraction = response.json()["extraction"]
    params = {p["name"]: (p["type"], p["default"]) for p in extraction["parameter_schema"]["parameters"]}
    assert params["wifi_profile"] == ("string", "Fabrikam-Corp")
    assert "ghost" not in params and "bad_name" not in params
    assert [p for p in params.values() if p[0] == "secret"] == [("secret", None)]
    assert "{{ wifi_profile }}" in extraction["body"] and SECRET not in extraction["body"]
    (call,) = [c for c in echo.calls if c.spec.service == "template_extraction"]
    sent = json.loads(call.spec.request)
    assert SECRET not in call.spec.request and "[redacted]" in sent["script"]
    assert all(
        SECRET not in json.dumps(c.kwargs, default=str) for c in echo.calls if c.spec.service != "script_generation"
    )


async def test_ai_suggestions_fill_only_empty_parameters_with_values_a_fact_names(
    client: Client, tenant: Tenant, echo: EchoProvider
) -> None:
    sid = await _session(client, tenant)
    fact = await _fact(client, tenant, sid, "Jobs for the queue HP-4th-Floor are stuck since Monday.")
    template = await _template(
        client,
        tenant,
        {
            "name": "Queue probe",
            "body": "Get-PrintJob -PrinterName {{ queue_name }} -ComputerName {{ site_code }} {{ pw }} {{ computer }}",
            "parameter_schema": {
                "parameters": [
                    {"name": "queue_name", "type": "string", "description": "the print queue"},
                    {"name": "site_code", "type": "string"},
                    {"name": "pw", "type": "secret"},
                    {"name": "computer", "type": "hostname", "default": "PC-001"},
                ]
            },
        },
    )
    url = f"/api/v1/ai-sessions/{sid}/script-templates/{template['id']}/prefill"
    plain = (await client.get(url, headers=tenant.headers())).json()
    assert plain["missing_required"] == ["queue_name", "site_code", "pw"]
    assert echo.calls == []  # without ?suggest=true no model is asked

    echo.replies.append(
        json.dumps({"values": {"queue_name": "HP-4th-Floor", "site_code": "LON-7", "pw": "guess", "computer": "PC-9"}})
    )
    suggested = (await client.get(url, params={"suggest": "true"}, headers=tenant.headers())).json()
    values = {v["name"]: v for v in suggested["values"]}
    assert values["queue_name"]["value"] == "HP-4th-Floor"
    assert values["queue_name"]["source"]["kind"] == "ai" and values["queue_name"]["source"]["id"] == fact
    assert values["site_code"]["value"] is None  # named in no fact: an invention, dropped
    assert values["pw"]["value"] is None  # never asked, never filled
    assert values["computer"]["value"] == "PC-001" and values["computer"]["source"]["kind"] == "default"
    assert suggested["missing_required"] == ["site_code", "pw"]
    (call,) = echo.calls
    assert call.spec.service == "script_prefill"
    assert [p["name"] for p in json.loads(call.spec.request)["parameters"]] == ["queue_name", "site_code"]
