"""The script-generation call: the model writes a one-off script for the active fix.

Through the one cached call path (service ``script_generation``): the instructions are
static, the ticket, facts and fix are the stable context, the language is the request. The
reply is JSON ``{"name", "script"}`` (a fenced code block is accepted too). No parameter
value of any template reaches this call: it sees only what the session stored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from flowpilot_core.ai.replies import json_reply
from flowpilot_core.ai.types import CallSpec
from flowpilot_core.errors import UpstreamUnavailable
from flowpilot_core.scripts.schema import Language

SERVICE = "script_generation"
MAX_SCRIPT_CHARS = 100_000
SCRIPT_INSTRUCTIONS = """\
You write ONE script that applies the suggested fix of an IT troubleshooting session.

The context holds the ticket, the confirmed facts and the suggested fix. The request names the
language ("powershell" or "bash"). Reply with ONE JSON object and nothing else:
{"name": "<Verb-Noun.ps1 or name.sh>", "script": "<the script>"}.

Rules:
1. Use only commands that exist: built-in cmdlets of Windows PowerShell 5.1 / PowerShell 7 and
   their documented modules, or standard tools. Never invent a cmdlet.
2. Use the concrete names the facts give (host names, users, addresses, printers, shares).
3. Never put a password or other secret in the script: read it with Read-Host -AsSecureString
   (PowerShell) or read -s (bash).
4. Make the script safe to run twice, and end it with a line that shows the result.
"""
_FENCE = re.compile(r"```[a-zA-Z]*\n(.*?)```", re.S)


def build_script_call(
    *,
    language: Language,
    fix: dict[str, Any],
    facts: Sequence[str],
    ticket: dict[str, Any],
    account_id: str,
    session_id: str,
) -> CallSpec:
    keys = ("summary", "description", "company", "contact")
    return CallSpec(
        service=SERVICE,
        system=(SCRIPT_INSTRUCTIONS,),
        context={
            "ticket": {k: ticket[k] for k in keys if ticket.get(k)},
            "facts": [{"text": text} for text in facts],
            "suggested_fix": fix,
        },
        request=json.dumps({"language": language}, sort_keys=True),
        max_tokens=4000,
        account_id=account_id,
        session_id=session_id,
    )


def parse_script_reply(raw: str, fallback_name: str) -> tuple[str, str]:
    """``(name, script)`` from the model's reply; no script in it is a retryable 503."""
    name, script = fallback_name, ""
    try:
        data = json_reply(raw)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("script"), str):
        script = data["script"]
        if isinstance(data.get("name"), str) and data["name"].strip():
            name = data["name"].strip()
    else:
        fenced = _FENCE.search(raw)
        script = fenced.group(1) if fenced else ""
    script = script.replace("\x00", "")
    if not script.strip():
        raise UpstreamUnavailable("the model did not write a script; try again")
    return name[:200], script[:MAX_SCRIPT_CHARS]
