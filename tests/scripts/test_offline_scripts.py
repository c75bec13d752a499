"""The offline model's one-off scripts: a playbook's script with the values the facts name."""

from __future__ import annotations

import json

from flowpilot_offline.brain import respond

from flowpilot_core.ai.types import CallSpec
from flowpilot_core.scripts import check_commands


def _script(title: str, facts: list[str], summary: str = "", language: str = "powershell") -> dict:
    spec = CallSpec(
        service="script_generation",
        context={
            "suggested_fix": {"title": title, "body": "1. Start-Service -Name Spooler\n2. Check the queue"},
            "facts": [{"text": f} for f in facts],
            "ticket": {"summary": summary},
        },
        request=json.dumps({"language": language}),
    )
    reply = respond(spec)
    assert reply == respond(spec)  # deterministic
    return dict(json.loads(reply))


def test_the_fixes_playbook_script_gets_the_host_a_fact_names() -> None:
    written = _script("Restart the Print Spooler service", ["The spooler on PC-042 is stopped."])
    assert written["name"] == "Restart-PrintSpooler.ps1"
    assert "$ComputerName = 'PC-042'" in written["script"]
    assert "[Parameter(Mandatory)]" not in written["script"]  # the param block became assignments
    assert [u.name for u in check_commands(written["script"], "powershell") if not u.known] == []


def test_a_value_no_fact_names_is_asked_for_at_run_time_and_a_secret_is_read_securely() -> None:
    written = _script("Reset the user's password", [])
    assert "$UserPrincipalName = Read-Host 'UserPrincipalName'" in written["script"]
    assert "$NewPassword = Read-Host -AsSecureString 'NewPassword'" in written["script"]


def test_without_a_playbook_script_the_steps_that_are_commands_become_the_script() -> None:
    written = _script("Replace the toner", [], language="powershell")
    assert written["script"].splitlines()[1:] == ["Start-Service -Name Spooler", "# Check the queue"]
    bash = _script("Replace the toner", [], language="bash")
    assert bash["name"] == "apply-fix.sh" and "# Start-Service -Name Spooler" in bash["script"]
