"""GET /api/v1/ai-sessions/{id}/open: everything the widget shows when it opens a session, in one read;
the transcript a page at a time; the slim session list and its full-text search."""

from __future__ import annotations

import uuid

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import Tenant
from tests.echo_model import EchoProvider

Client = AsyncTestClient[Litestar]
BASE = "/api/v1/ai-sessions"
REPLY = (
    "Let's look at the spooler.\n[QUESTION]Is the Print Spooler running on PRINT01?[/QUESTION]\n"
    '[SUGGEST_FIX title="Restart the spooler"]Restart the Print Spooler service.[/SUGGEST_FIX]'
)


async def _get(client: Client, path: str, headers: dict[str, str], **params: object) -> dict:
    response = await client.get(path, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _busy_session(client: Client, tenant: Tenant, echo: EchoProvider, turns: int) -> str:
    headers = tenant.headers()
    created = await client.post(BASE, json={"problem_statement": "Jobs stuck on PRINT01"}, headers=headers)
    sid = str(created.json()["id"])
    for i in range(2):
        await client.post(f"{BASE}/{sid}/facts", json={"text": f"Fact {i}"}, headers=headers)
    for i in range(turns):
        echo.replies.append(REPLY if i == 0 else f"Reply {i}")
        turn = await client.post(f"{BASE}/{sid}/messages", json={"content": f"Message {i}"}, headers=headers)
        assert turn.status_code == 200, turn.text
    return sid


async def test_open_returns_what_the_four_reads_return(client: Client, tenant: Tenant, echo: EchoProvider) -> None:
    sid = await _busy_session(client, tenant, echo, turns=3)
    headers = tenant.headers()
    opened = await _get(client, f"{BASE}/{sid}/open", headers)
    assert opened["session"] == await _get(client, f"{BASE}/{sid}", headers)
    assert opened["session"]["pending_task_lane"] == await _get(client, f"{BASE}/{sid}/task-lane", headers)
    assert opened["facts"] == await _get(client, f"{BASE}/{sid}/facts", headers)
    assert opened["suggested_fixes"] == await _get(client, f"{BASE}/{sid}/suggested-fixes", headers)
    assert opened["messages"] == await _get(client, f"{BASE}/{sid}/messages", headers)
    assert [f["text"] for f in opened["facts"]["items"]] == ["Fact 0", "Fact 1"]
    assert opened["suggested_fixes"]["active"]["title"] == "Restart the spooler"
    assert [q["text"] for q in opened["session"]["pending_task_lane"]["questions"]] == [
        "Is the Print Spooler running on PRINT01?"
    ]
    assert [m["content"].splitlines()[0] for m in opened["messages"]["items"]][:2] == [
        "Message 0",
        "Let's look at the spooler.",
    ]
    assert opened["messages"]["older_cursor"] is None
    assert opened["facts"]["state_version"] == opened["session"]["state_version"] >= 3


async def test_open_pages_the_transcript_and_older_cursor_reads_the_rest(
    client: Client, tenant: Tenant, echo: EchoProvider
) -> None:
    sid = await _busy_session(client, tenant, echo, turns=4)  # 8 messages
    headers = tenant.headers()
    everything = (await _get(client, f"{BASE}/{sid}/messages", headers))["items"]
    assert len(everything) == 8
    opened = (await _get(client, f"{BASE}/{sid}/open", headers, messages=3))["messages"]
    assert opened["items"] == everything[-3:]
    seen = opened["items"]
    cursor = opened["older_cursor"]
    while cursor is not None:
        page = await _get(client, f"{BASE}/{sid}/messages", headers, before=cursor, limit=2)
        assert len(page["items"]) <= 2
        seen = page["items"] + seen
        cursor = page["older_cursor"]
    assert seen == everything
    rest = await _get(client, f"{BASE}/{sid}/messages", headers, before=opened["older_cursor"])
    assert rest == {"items": everything[:-3], "older_cursor": None}


async def test_open_and_paging_refuse_bad_input_and_other_accounts(
    client: Client, tenant: Tenant, other_tenant: Tenant, echo: EchoProvider
) -> None:
    sid = await _busy_session(client, tenant, echo, turns=1)
    for path in (f"{BASE}/{sid}/open", f"{BASE}/{sid}/messages", f"{BASE}/{uuid.uuid4()}/open"):
        response = await client.get(path, headers=other_tenant.headers())
        assert response.status_code == 404, response.text
    for params, field in (({"messages": 0}, "messages"), ({"messages": 501}, "messages")):
        response = await client.get(f"{BASE}/{sid}/open", params=params, headers=tenant.headers())
        assert response.status_code == 400 and response.json()["errors"][0]["field"] == field, response.text
    for params, field in (({"before": "yesterday"}, "before"), ({"limit": 0}, "limit")):
        response = await client.get(f"{BASE}/{sid}/messages", params=params, headers=tenant.headers())
        assert response.status_code in (400, 422) and response.json()["errors"][0]["field"] == field, response.text


async def test_list_items_are_slim(client: Client, tenant: Tenant) -> None:
    headers = tenant.headers(ticket={"provider": "connectwise", "ref": "48220", "summary": "Outlook prompts"})
    created = await client.post(BASE, json={"problem_statement": "Outlook asks for the password"}, headers=headers)
    item = (await _get(client, BASE, headers))["items"][0]
    assert item["id"] == created.json()["id"]
    assert item["title"] == "Outlook prompts" and item["ticket_ref"] == "48220" and item["status"] == "open"
    assert "pending_task_lane" not in item and "ticket" not in item and "resolution_note_markdown" not in item


async def test_search_matches_word_starts_in_any_order_across_fields(
    client: Client, tenant: Tenant, other_tenant: Tenant
) -> None:
    headers = tenant.api_headers
    made = {}
    for problem, ticket in (
        ("Printer offline in Accounting", {"ref": "48220", "summary": "ACC printing"}),
        ("DNS fails on WS-01", {"ref": "50311", "summary": "Name resolution"}),
        ("Outlook keeps asking for the password", None),
    ):
        body: dict = {"problem_statement": problem}
        if ticket:
            body |= {"ticket_ref": ticket["ref"], "ticket": {"summary": ticket["summary"]}}
        made[problem] = (await client.post(BASE, json={**body, "title": problem}, headers=headers)).json()["id"]

    async def found(q: str) -> list[str]:
        return sorted(s["title"] for s in (await _get(client, BASE, headers, q=q))["items"])

    assert await found("printer") == ["Printer offline in Accounting"]
    assert await found("PRINT") == ["Printer offline in Accounting"]  # the start of a word, any case
    assert await found("accounting offline") == ["Printer offline in Accounting"]  # any order
    assert await found("482") == ["Printer offline in Accounting"]  # the ticket reference
    assert await found("resolution") == ["DNS fails on WS-01"]  # the ticket summary
    assert await found("ws-01") == await found("WS 01") == ["DNS fails on WS-01"]
    assert await found("password printer") == []  # every word must match
    assert await found("%_'&|!") == []  # no word: nothing, and no error
    assert (await _get(client, BASE, other_tenant.api_headers, q="printer"))["items"] == []  # another account's
    resolved = await client.get(BASE, params={"q": "printer", "status": "resolved"}, headers=headers)
    assert resolved.json()["items"] == []
