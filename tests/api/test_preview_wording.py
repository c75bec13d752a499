"""'Improve wording': the model may rephrase preview lines but never add a literal their sources lack."""

from __future__ import annotations

import json

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from flowpilot_core.previews.wording import literals, unsupported
from tests.conftest import Tenant
from tests.echo_model import EchoProvider

Client = AsyncTestClient[Litestar]


@pytest.mark.parametrize(
    ("rewrite", "added"),
    (
        ("The spooler on PRINT01 was restarted.", []),
        ("The spooler on PRINT01 at 10.0.20.45 was restarted.", ["10.0.20.45"]),
        ("The spooler on PRINT02 was restarted.", ["PRINT02"]),
        ("Restarted the spooler 3 times.", ["3"]),
        ("Ran `Restart-Service Spooler -Force`.", ["Restart-Service Spooler -Force"]),
        ('The user saw "Access denied".', ["Access denied"]),
        ("Error 0x80070005 appeared.", ["0x80070005"]),
        ("Cleared C:\\Windows\\System32\\spool\\PRINTERS.", ["C:\\Windows\\System32\\spool\\PRINTERS"]),
    ),
)
def test_a_rewrite_may_only_repeat_the_literals_of_its_sources(rewrite: str, added: list[str]) -> None:
    sources = ["The Print Spooler service on PRINT01 is stopped.", "Restart the spooler on PRINT01"]
    assert unsupported(rewrite, sources) == added


def test_literals_are_found_once_each() -> None:
    assert literals("WS-ACC-04 has 10.0.20.45 and shows 0x00000709") == ["0x00000709", "10.0.20.45", "WS-ACC-04"]


async def _session_with_facts(client: Client, tenant: Tenant) -> str:
    created = await client.post(
        "/api/v1/ai-sessions", json={"problem_statement": "Jobs stuck on PRINT01"}, headers=tenant.headers()
    )
    sid = str(created.json()["id"])
    for text in ("the spooler on PRINT01 is stopped", "Other printers work"):
        await client.post(f"/api/v1/ai-sessions/{sid}/facts", json={"text": text}, headers=tenant.headers())
    return sid


async def test_the_model_rewords_lines_and_a_line_that_adds_an_address_is_refused(
    client: Client, tenant: Tenant, echo: EchoProvider
) -> None:
    sid = await _session_with_facts(client, tenant)
    url = f"/api/v1/ai-sessions/{sid}/resolution-note/preview"
    preview = (await client.get(url, headers=tenant.headers())).json()
    numbers = {line["text"]: line["number"] for line in preview["lines"]}
    spooler, printers = numbers["- the spooler on PRINT01 is stopped"], numbers["- Other printers work"]
    echo.replies.append(
        json.dumps(
            {
                "lines": [
                    {"number": spooler, "text": "The Print Spooler on PRINT01 was found stopped."},
                    {"number": printers, "text": "Other printers at 10.0.20.45 work."},
                ]
            }
        )
    )
    worded = await client.post(f"{url}/improve", headers=tenant.headers())
    assert worded.status_code == 200, worded.text
    body = worded.json()
    assert body["reworded"] == [spooler]
    assert body["refused"] == [
        {"number": printers, "reason": "adds '10.0.20.45', which its sources do not say"}
    ]
    lines = {line["number"]: line for line in body["lines"]}
    assert lines[spooler]["text"] == "- The Print Spooler on PRINT01 was found stopped."
    assert lines[printers]["text"] == "- Other printers work"
    # Sources and headings never change; the markdown is the lines.
    assert [line["sources"] for line in body["lines"]] == [line["sources"] for line in preview["lines"]]
    assert [ln for ln in body["markdown"].splitlines() if ln] == [line["text"] for line in body["lines"]]
    sent = json.loads(echo.calls[-1].spec.request)
    assert "## Problem" not in [line["text"] for line in sent["lines"]]
    assert echo.calls[-1].spec.service == "resolution_note"


async def test_an_unreadable_wording_reply_changes_nothing(client: Client, tenant: Tenant, echo: EchoProvider) -> None:
    sid = await _session_with_facts(client, tenant)
    echo.replies.append("Sure! Here is a nicer note: ...")
    url = f"/api/v1/ai-sessions/{sid}/escalation-package/preview"
    preview = (await client.get(url, headers=tenant.headers())).json()
    body = (await client.post(f"{url}/improve", headers=tenant.headers())).json()
    assert (body["reworded"], body["refused"], body["markdown"]) == ([], [], preview["markdown"])


async def test_the_offline_model_tidies_lines_without_adding_anything(client: Client, tenant: Tenant) -> None:
    sid = await _session_with_facts(client, tenant)
    body = (
        await client.post(f"/api/v1/ai-sessions/{sid}/resolution-note/preview/improve", headers=tenant.headers())
    ).json()
    assert body["refused"] == []
    assert "- The spooler on PRINT01 is stopped." in body["markdown"].splitlines()
    assert body["markdown"].startswith("## Problem\n")
