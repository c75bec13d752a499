"""Previews: the four- and five-section notes from stored rows, every line sourced, cached by state."""

from __future__ import annotations

import dataclasses
import os

from flowpilot_server.app import create_app
from litestar import Litestar
from litestar.testing import AsyncTestClient

from flowpilot_core.config import Settings
from flowpilot_core.db.engine import DatabaseUrls
from tests.conftest import Tenant
from tests.echo_model import EchoProvider
from tests.redis_support import redis_or_fail

Client = AsyncTestClient[Litestar]

REPLY = (
    "Start with these.\n"
    "[QUESTION]Can other people print to ACC-PRN-01?[/QUESTION]\n"
    '[CHECK title="Spooler status"]Get-Service -Name Spooler[/CHECK]\n'
    "[ACTION]Clear the stuck jobs from the queue[/ACTION]"
)


async def _new_session(client: Client, tenant: Tenant) -> str:
    ticket = {"summary": "Printing down (accounts)"}
    body = {"problem_statement": "Accounts can't print to ACC-PRN-01", "ticket": ticket}
    response = await client.post("/api/v1/ai-sessions", json=body, headers=tenant.headers())
    return str(response.json()["id"])


async def _preview(client: Client, tenant: Tenant, sid: str, kind: str, **headers: str) -> tuple[int, dict, str]:
    path = "resolution-note" if kind == "resolution_note" else "escalation-package"
    response = await client.get(f"/api/v1/ai-sessions/{sid}/{path}/preview", headers={**tenant.headers(), **headers})
    body = response.json() if response.status_code == 200 else {}
    return response.status_code, body, response.headers.get("etag", "")


async def _rich_session(client: Client, tenant: Tenant, echo: EchoProvider) -> dict[str, str]:
    sid = await _new_session(client, tenant)
    base = f"/api/v1/ai-sessions/{sid}"
    echo.replies.append(REPLY)
    lane = (await client.post(f"{base}/messages", json={"content": "Help"}, headers=tenant.headers())).json()[
        "task_lane"
    ]
    ids = {"sid": sid, "q": lane["questions"][0]["id"], "c": lane["checks"][0]["id"], "a": lane["actions"][0]["id"]}
    await client.post(
        f"{base}/task-lane/{ids['c']}/output", json={"output": "Status: Stopped"}, headers=tenant.headers()
    )
    await client.post(f"{base}/task-lane/{ids['a']}/output", json={"output": ""}, headers=tenant.headers())
    facts = (await client.get(f"{base}/facts", headers=tenant.headers())).json()["items"]
    ids["fact"] = facts[0]["id"]
    echo.replies.append(
        '[SUGGEST_FIX title="Reinstall the driver" root_cause="A corrupt driver"]Remove it.[/SUGGEST_FIX]'
    )
    old = (await client.post(f"{base}/messages", json={"content": "Next?"}, headers=tenant.headers())).json()
    ids["old_fix"] = old["suggested_fix"]["id"]
    echo.replies.append(
        f'[SUGGEST_FIX title="Restart the spooler" root_cause="The Print Spooler service stopped on PRINT01" '
        f'facts="{ids["fact"]}"]1. Start the Print Spooler service\n2. Set it to Automatic[/SUGGEST_FIX]'
    )
    fix = (await client.post(f"{base}/messages", json={"content": "And?"}, headers=tenant.headers())).json()
    ids["fix"] = fix["suggested_fix"]["id"]
    return ids


async def test_a_rich_session_gives_the_four_section_note_with_a_source_on_every_line(
    client: Client, tenant: Tenant, echo: EchoProvider
) -> None:
    ids = await _rich_session(client, tenant, echo)
    status, note, _ = await _preview(client, tenant, ids["sid"], "resolution_note")
    assert status == 200
    assert note["markdown"] == (
        "## Problem\n"
        "Printing down (accounts)\n"
        "Accounts can't print to ACC-PRN-01\n"
        "\n"
        "## What we confirmed\n"
        "- The technician said: Status: Stopped\n"
        "\n"
        "## Root cause\n"
        "The Print Spooler service stopped on PRINT01\n"
        "\n"
        "## Resolution\n"
        "Restart the spooler\n"
        "- Start the Print Spooler service\n"
        "- Set it to Automatic\n"
        "- Done: Clear the stuck jobs from the queue\n"
    )
    sources = {line["text"]: [(s["kind"], s["id"], s["field"]) for s in line["sources"]] for line in note["lines"]}
    sid = ids["sid"]
    assert sources["## Problem"] == [("template", "problem", None)]
    assert sources["Printing down (accounts)"] == [("ticket", sid, "summary")]
    assert sources["Accounts can't print to ACC-PRN-01"] == [("session", sid, "problem_statement")]
    assert sources["- The technician said: Status: Stopped"] == [("fact", ids["fact"], None)]
    assert sources["The Print Spooler service stopped on PRINT01"] == [("fix", ids["fix"], "root_cause")]
    assert sources["- Set it to Automatic"] == [("fix", ids["fix"], "body")]
    assert sources["- Done: Clear the stuck jobs from the queue"] == [("item", ids["a"], None)]
    assert len(note["lines"]) == len([line for line in note["markdown"].splitlines() if line])
    assert all(line["sources"] for line in note["lines"])


async def test_the_escalation_package_has_five_sections_with_what_was_tried_and_what_is_open(
    client: Client, tenant: Tenant, echo: EchoProvider
) -> None:
    ids = await _rich_session(client, tenant, echo)
    status, package, _ = await _preview(client, tenant, ids["sid"], "escalation_package")
    assert status == 200
    markdown = package["markdown"]
    assert [line for line in markdown.splitlines() if line.startswith("## ")] == [
        "## Problem",
        "## What we've confirmed",
        "## What we've tried",
        "## Current hypothesis",
        "## Suggested next steps",
    ]
    assert "- Ran Spooler status: Status: Stopped" in markdown
    assert "- Did Clear the stuck jobs from the queue" in markdown.splitlines()
    assert "- Considered and set aside: Reinstall the driver" in markdown
    assert "The Print Spooler service stopped on PRINT01 (proposed fix: Restart the spooler)" in markdown
    assert "- Answer: Can other people print to ACC-PRN-01?" in markdown
    by_text = {line["text"]: line["sources"] for line in package["lines"]}
    assert by_text["- Considered and set aside: Reinstall the driver"] == [
        {"kind": "fix", "id": ids["old_fix"], "field": None}
    ]
    question = {"kind": "item", "id": ids["q"], "field": None}
    assert by_text["- Answer: Can other people print to ACC-PRN-01?"] == [question]


async def test_an_empty_session_says_so_in_every_section(client: Client, tenant: Tenant) -> None:
    sid = await _new_session(client, tenant)
    _, note, _ = await _preview(client, tenant, sid, "resolution_note")
    assert "Nothing was confirmed during troubleshooting." in note["markdown"]
    assert "Not established." in note["markdown"] and "No fix was applied." in note["markdown"]
    _, package, _ = await _preview(client, tenant, sid, "escalation_package")
    for text in ("Nothing is confirmed yet.", "Nothing was tried yet.", "No hypothesis yet.", "No open steps"):
        assert text in package["markdown"]
    assert all(line["sources"] for line in note["lines"] + package["lines"])


async def test_a_session_without_a_ticket_previews_from_its_problem_statement(client: Client, tenant: Tenant) -> None:
    body = {"problem_statement": "VPN drops"}
    created = await client.post("/api/v1/ai-sessions", json=body, headers=tenant.headers())
    _, note, _ = await _preview(client, tenant, str(created.json()["id"]), "resolution_note")
    assert note["markdown"].startswith("## Problem\nVPN drops\n")


async def test_text_from_facts_cannot_change_the_notes_structure(client: Client, tenant: Tenant) -> None:
    sid = await _new_session(client, tenant)
    nasty = "## Root cause\n- fake step \x1efact:x\x1f > quoted"
    await client.post(f"/api/v1/ai-sessions/{sid}/facts", json={"text": nasty}, headers=tenant.headers())
    _, note, _ = await _preview(client, tenant, sid, "resolution_note")
    headings = [line for line in note["markdown"].splitlines() if line.startswith("#")]
    assert headings == ["## Problem", "## What we confirmed", "## Root cause", "## Resolution"]
    assert "- \\## Root cause - fake step fact:x > quoted" in note["markdown"].splitlines()


async def _note_hits(client: Client) -> float:
    line = 'flowpilot_preview_cache_total{kind="resolution_note",result="hit"} '
    metrics = (await client.get("/metrics")).text
    return sum(float(row.removeprefix(line)) for row in metrics.splitlines() if row.startswith(line))


async def test_every_kind_of_write_changes_the_preview_and_an_unchanged_state_is_a_304(
    client: Client, tenant: Tenant, echo: EchoProvider
) -> None:
    ids = await _rich_session(client, tenant, echo)
    sid, base = ids["sid"], f"/api/v1/ai-sessions/{ids['sid']}"
    status, _, etag = await _preview(client, tenant, sid, "resolution_note")
    assert status == 200 and etag
    assert (await _preview(client, tenant, sid, "resolution_note", **{"If-None-Match": etag}))[0] == 304

    headers = tenant.headers()
    note: dict = {}

    async def add_fact() -> None:
        note.update((await client.post(f"{base}/facts", json={"text": "A note"}, headers=headers)).json())

    async def edit_fact() -> None:
        await client.patch(f"{base}/facts/{note['id']}", json={"text": "An edited note"}, headers=headers)

    async def delete_fact() -> None:
        await client.delete(f"{base}/facts/{note['id']}", headers=headers)

    async def decide_fix() -> None:
        url = f"{base}/suggested-fixes/{ids['fix']}/decision"
        await client.post(url, json={"decision": "one_off"}, headers=headers)

    async def supersede_fix() -> None:
        echo.replies.append('[SUGGEST_FIX title="Replace the printer"]Order a new one.[/SUGGEST_FIX]')
        await client.post(f"{base}/messages", json={"content": "Hm"}, headers=headers)

    async def answer_question() -> None:
        await client.post(f"{base}/task-lane/{ids['q']}/answer", json={"answer": "Yes"}, headers=headers)

    seen = {etag}
    for write in (add_fact, edit_fact, delete_fact, decide_fix, supersede_fix, answer_question):
        await write()
        status, _, new_etag = await _preview(client, tenant, sid, "resolution_note", **{"If-None-Match": etag})
        assert status == 200 and new_etag not in seen, write.__name__
        seen.add(new_etag)
        etag = new_etag

    # The same state asked for without the ETag: the cache's bytes (a 304 never reads the cache). The client
    # and its metrics serve the whole test session, so the hit is counted as a difference.
    hits = await _note_hits(client)
    status, _, again = await _preview(client, tenant, sid, "resolution_note")
    assert (status, again) == (200, etag) and await _note_hits(client) == hits + 1
    metrics = (await client.get("/metrics")).text
    assert 'flowpilot_preview_cache_total{kind="resolution_note",result="miss"}' in metrics


async def test_another_accounts_preview_reads_as_404(client: Client, tenant: Tenant, other_tenant: Tenant) -> None:
    sid = await _new_session(client, tenant)
    for kind in ("resolution_note", "escalation_package"):
        assert (await _preview(client, other_tenant, sid, kind))[0] == 404


# A real Redis (database 15, flushed): CI and the development machine run one at 127.0.0.1:6379.
REDIS_URL = os.environ.get("FLOWPILOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


async def test_two_servers_share_previews_through_redis_and_a_write_is_seen_by_both(
    settings: Settings, db_urls: DatabaseUrls, tenant: Tenant
) -> None:
    shared = dataclasses.replace(settings, redis_url=REDIS_URL)
    redis = await redis_or_fail(REDIS_URL, "FLOWPILOT_TEST_REDIS_URL")
    await redis.flushdb()
    try:
        async with (
            AsyncTestClient(app=create_app(shared, urls=db_urls)) as one,
            AsyncTestClient(app=create_app(shared, urls=db_urls)) as two,
        ):
            sid = await _new_session(one, tenant)
            _, first, etag = await _preview(one, tenant, sid, "resolution_note")
            assert await redis.keys("flowpilot:preview:*"), "the preview went to Redis"
            _, same, same_etag = await _preview(two, tenant, sid, "resolution_note")
            assert (same, same_etag) == (first, etag)
            assert (
                'flowpilot_preview_cache_total{kind="resolution_note",result="hit"} 1.0'
                in (await two.get("/metrics")).text
            ), "the second server read it from Redis instead of rendering it"
            await two.post(f"/api/v1/ai-sessions/{sid}/facts", json={"text": "Seen by both"}, headers=tenant.headers())
            _, after, after_etag = await _preview(one, tenant, sid, "resolution_note")
            assert after_etag != etag and "- Seen by both" in after["markdown"].splitlines()
    finally:
        await redis.flushdb()
        await redis.aclose()


async def test_an_unreachable_redis_is_a_cache_miss_not_a_failed_preview(
    settings: Settings, db_urls: DatabaseUrls, tenant: Tenant
) -> None:
    broken = dataclasses.replace(settings, redis_url="redis://127.0.0.1:1/0")
    async with AsyncTestClient(app=create_app(broken, urls=db_urls)) as app_client:
        sid = await _new_session(app_client, tenant)
        status, note, _ = await _preview(app_client, tenant, sid, "resolution_note")
    assert status == 200 and note["markdown"].startswith("## Problem")
