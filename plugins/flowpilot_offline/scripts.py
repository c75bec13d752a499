"""The offline model's ``script_generation``: a concrete script for the suggested fix, from its playbooks.

Deterministic and conservative. The fix is matched to a playbook conclusion by its title (the
chat proposes fixes with the conclusion's title), then by the ticket's playbook; the
conclusion's script keeps its body and its ``param(...)`` block is replaced by assignments
of the values the facts name (a host, an address, a user, a path). A value no fact names is
asked for when the script runs (``Read-Host``), never guessed, and a secret is always read
with ``Read-Host -AsSecureString``. Without a matching playbook script, the fix's steps that
are commands become the script and the others stay comments.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from flowpilot_core.ai.types import CallSpec
from flowpilot_core.scripts.prefill import PrefillContext, prefill_one
from flowpilot_core.scripts.quoting import quote_bash, quote_powershell
from flowpilot_core.scripts.schema import ParameterSpec, ParameterType
from flowpilot_offline.playbooks import Conclusion, PlaybookScript, find_playbook, load_playbooks

_PARAM_BLOCK = re.compile(r"^\s*param\s*\((.*?)\n\)\s*\n", re.S | re.I)
_COMMAND_STEP = re.compile(r"^(?:[A-Z][a-z]+-[A-Za-z]+|ipconfig|netsh|sc|gpupdate|cmdkey|w32tm|klist)\b")


def _norm(text: object) -> str:
    return " ".join(str(text or "").lower().split())


def _conclusion(fix: Mapping[str, Any], ticket: Mapping[str, Any]) -> Conclusion | None:
    library = load_playbooks()
    title = _norm(fix.get("title"))
    for playbook in library.playbooks:
        for conclusion in playbook.conclusions:
            if conclusion.script is not None and _norm(conclusion.title) == title:
                return conclusion
    found = find_playbook(ticket=ticket) if ticket else None
    if found is None:
        return None
    return next((c for c in found.conclusions if c.script is not None), None)


def _type_of(name: str, declared: str) -> ParameterType:
    low = name.lower()
    if declared == "securestring" or "password" in low:
        return "secret"
    if "principalname" in low or "upn" in low or "email" in low or "mailbox" in low:
        return "email_upn"
    if "address" in low or low.endswith("ip"):
        return "ip"
    if "computer" in low or "host" in low or "server" in low:
        return "hostname"
    if "path" in low or "share" in low:
        return "path"
    return "string"


def _assignments(script: PlaybookScript, ctx: PrefillContext) -> tuple[str, str]:
    """The ``param(...)`` block replaced by assignments, and the body after it."""
    match = _PARAM_BLOCK.match(script.body)
    block, body = (match.group(1), script.body[match.end() :]) if match else ("", script.body)
    lines = []
    for parameter in script.parameters:
        declared = re.search(r"\[(\w+)\]\s*\$" + re.escape(parameter.name) + r"\b", block)
        kind = declared.group(1).lower() if declared else "string"
        variable = "$" + parameter.name
        if kind == "switch":
            lines.append(f"{variable} = [System.Management.Automation.SwitchParameter]::new($false)")
            continue
        type_ = _type_of(parameter.name, kind)
        if type_ == "secret" or parameter.sensitive:
            lines.append(f"{variable} = Read-Host -AsSecureString {quote_powershell(parameter.name)}")
            continue
        spec = ParameterSpec(name=parameter.name, type=type_)
        value, _ = prefill_one(spec, ctx)
        if value is None and type_ == "ip":  # an address may be a DNS name
            value, _ = prefill_one(ParameterSpec(name=parameter.name, type="hostname"), ctx)
        if value is None:
            lines.append(f"{variable} = Read-Host {quote_powershell(parameter.name)}")
        else:
            lines.append(f"{variable} = {quote_powershell(str(value))}")
    return "\n".join(lines), body


def _from_steps(fix: Mapping[str, Any], language: str) -> str:
    lines = [f"# {fix.get('title') or 'Suggested fix'} (written from the fix's steps)"]
    for raw in str(fix.get("body") or "").splitlines():
        step = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", raw).strip()
        if not step:
            continue
        if language == "powershell" and _COMMAND_STEP.match(step):
            lines.append(step)
        else:
            lines.append(f"# {step}")
    if language == "bash":
        lines.insert(0, "#!/usr/bin/env bash\nset -euo pipefail")
        lines.append("echo " + quote_bash("Review the steps above: they are not commands FlowPilot could write."))
    return "\n".join(lines) + "\n"


def _facts(context: Mapping[str, Any]) -> Sequence[tuple[str, str]]:
    facts = context.get("facts")
    out = []
    for index, fact in enumerate(facts if isinstance(facts, list) else []):
        text = fact.get("text") if isinstance(fact, Mapping) else fact
        if text:
            out.append((str(index), str(text)))
    return out


def write_script(spec: CallSpec) -> str:
    context = spec.context or {}
    raw_fix, raw_ticket = context.get("suggested_fix"), context.get("ticket")
    fix: Mapping[str, Any] = raw_fix if isinstance(raw_fix, Mapping) else {}
    ticket: Mapping[str, Any] = raw_ticket if isinstance(raw_ticket, Mapping) else {}
    try:
        language = str(json.loads(spec.request).get("language") or "powershell")
    except (ValueError, AttributeError):
        language = "powershell"
    conclusion = _conclusion(fix, ticket) if language == "powershell" else None
    if conclusion is None or conclusion.script is None:
        name = "Apply-Fix.ps1" if language == "powershell" else "apply-fix.sh"
        return json.dumps({"name": name, "script": _from_steps(fix, language)})
    ctx = PrefillContext(
        session_id=uuid.UUID(int=0),
        ticket=dict(ticket),
        ticket_ref=None,
        facts=list(_facts(context)),
        account_id=uuid.UUID(int=0),
        account_name="",
    )
    assignments, body = _assignments(conclusion.script, ctx)
    header = f"# {conclusion.script.description}\n"
    return json.dumps({"name": conclusion.script.name, "script": header + assignments + "\n" + body})
