"""Every command of a script is checked against the shipped list; invented ones are flagged."""

from __future__ import annotations

import json
from pathlib import Path

from flowpilot_core.scripts import check_commands, known_commands

PLAYBOOKS = Path(__file__).resolve().parents[2] / "plugins" / "flowpilot_offline" / "playbooks.json"


def names(script: str, language: str = "powershell") -> dict[str, bool]:
    return {use.name: use.known for use in check_commands(script, language)}  # type: ignore[arg-type]


def test_an_invented_cmdlet_is_flagged_and_real_ones_are_not() -> None:
    found = names("Reset-PrinterSpooler -Name x\nGet-Service Spooler | Restart-Service -Force\nipconfig /flushdns")
    assert found == {"Reset-PrinterSpooler": False, "Get-Service": True, "Restart-Service": True, "ipconfig": True}


def test_words_in_strings_comments_attributes_and_hashtables_are_not_commands() -> None:
    script = """param([Parameter(Mandatory)] [string] $Name)
# Remove-EverythingNow is only mentioned here
<# Frob-Widget in a block comment #>
Write-Host 'Invoke-Mischief is text' "and Do-Nothing too"
$h = @{ Password = $p; ForceChangePasswordNextSignIn = $true }
pnputil.exe /add-driver x.inf /install
"""
    assert names(script) == {"Write-Host": True, "pnputil.exe": True}


def test_functions_the_script_defines_are_known() -> None:
    script = "function Repair-Thing { param($x) Get-Item $x }\nRepair-Thing -x 1\nFix-Other"
    assert names(script) == {"Repair-Thing": True, "Get-Item": True, "Fix-Other": False}


def test_bash_commands_after_pipes_conditions_substitutions_and_assignments() -> None:
    script = """#!/bin/bash
set -euo pipefail
FOO=1 systemctl restart cups
if ! lpstat -p "$1"; then
  echo 'rm -rf / is only text' | tee /tmp/x
  frobnicate --now
fi
host=$(hostname -f) && sudo netplan apply
"""
    assert names(script, "bash") == {
        "set": True,
        "systemctl": True,
        "lpstat": True,
        "echo": True,
        "tee": True,
        "frobnicate": False,
        "hostname": True,
        "sudo": True,
        "netplan": False,  # the command sudo runs is checked too
    }


def test_every_playbook_script_uses_only_known_commands() -> None:
    library = json.loads(PLAYBOOKS.read_text(encoding="utf-8"))
    unknown = {}
    for playbook in library["playbooks"]:
        for conclusion in playbook["conclusions"]:
            script = conclusion.get("script")
            if script:
                bad = [u.name for u in check_commands(script["body"], "powershell") if not u.known]
                if bad:
                    unknown[script["name"]] = bad
    assert unknown == {}


def test_the_list_covers_common_modules_and_tools() -> None:
    known = known_commands()
    for name in ("get-aduser", "add-printerport", "test-netconnection", "robocopy", "netsh", "systemctl", "sc"):
        assert name in known
