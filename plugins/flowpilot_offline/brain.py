"""The offline model's brain: a deterministic answer for every FlowPilot AI service.

``respond(spec)`` is what the offline provider returns as the model's text. It reads
only the :class:`CallSpec` (no clock, no randomness, no network), so identical calls
give identical answers in any process, which is what demos, tests and the caching
contract need.

* ``chat``: the playbook conversation (:mod:`flowpilot_offline.conversation` over the
  data in :mod:`flowpilot_offline.playbooks`), answering in the marker grammar.
* ``ai_parse``: a JSON :class:`~flowpilot_core.tickets.intake.TicketDraft` from
  :mod:`flowpilot_offline.ticket_parse`.
* ``fact_synthesis``: ``{"fact": str | null, "reason": str}`` from
  :mod:`flowpilot_offline.synthesis`.
* ``resolution_note`` / ``escalation_package``: the fixed Markdown sections, filled from
  the stored facts and suggested fix in the context.
* ``script_generation``: ``{"name", "script"}``, a playbook's script with the facts' values
  (:mod:`flowpilot_offline.scripts`).
* ``template_extraction``: ``{"parameters": []}`` (the deterministic rules ran first);
  ``script_prefill``: ``{"values": {}}`` (prefill's rules ran first).
* anything else: a plain-text account of what the call asked for and what it knows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import msgspec

from flowpilot_core.ai.types import CallSpec
from flowpilot_core.markers import defuse_markers
from flowpilot_offline.conversation import reply
from flowpilot_offline.playbooks import find_playbook
from flowpilot_offline.scripts import write_script
from flowpilot_offline.synthesis import synthesize_fact
from flowpilot_offline.ticket_parse import parse_ticket_text
from flowpilot_offline.wording import reword

__all__ = ["respond"]


def respond(spec: CallSpec) -> str:
    """The offline model's reply text for one call."""
    handler = _HANDLERS.get(spec.service, _generic)
    return handler(spec)


def _chat(spec: CallSpec) -> str:
    context = spec.context or {}
    ticket = context.get("ticket")
    return reply(
        ticket=ticket if isinstance(ticket, Mapping) else {},
        facts=_list(context.get("facts")),
        task_lane=_list(context.get("task_lane")),
        history=spec.history,
        request=spec.request,
    )


def _ai_parse(spec: CallSpec) -> str:
    taxonomy = (spec.context or {}).get("taxonomy")
    draft = parse_ticket_text(spec.request, taxonomy if isinstance(taxonomy, Mapping) else None)
    return msgspec.json.encode(draft).decode()


def _fact_synthesis(spec: CallSpec) -> str:
    try:
        payload = json.loads(spec.request)
    except ValueError:
        payload = None
    if not isinstance(payload, Mapping):
        result = {"fact": None, "reason": "the request is not the expected JSON object"}
    else:
        synthesized = synthesize_fact(payload)
        result = {"fact": synthesized.fact, "reason": synthesized.reason}
    return json.dumps(result, ensure_ascii=False)


# ---------------------------------------------------------------------------------------
# Notes built from stored state
# ---------------------------------------------------------------------------------------


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _text(value: Any) -> str:
    return defuse_markers(re.sub(r"\s+", " ", str(value or "")).strip())


def _fact_lines(context: Mapping[str, Any]) -> list[str]:
    lines = []
    for fact in _list(context.get("facts")):
        text = fact.get("text") if isinstance(fact, Mapping) else fact
        if _text(text):
            lines.append(f"- {_text(text)}")
    return lines


def _fix(context: Mapping[str, Any]) -> Mapping[str, Any]:
    for key in ("suggested_fix", "fix", "active_fix"):
        value = context.get(key)
        if isinstance(value, Mapping):
            return value
    return {}


def _ticket(context: Mapping[str, Any]) -> Mapping[str, Any]:
    ticket = context.get("ticket")
    return ticket if isinstance(ticket, Mapping) else {}


def _problem(context: Mapping[str, Any], request: str) -> str:
    ticket = _ticket(context)
    summary = _text(ticket.get("summary") or ticket.get("problem_statement"))
    description = _text(ticket.get("description"))
    if summary and description:
        return f"{summary}. {description}" if not description.startswith(summary) else description
    return summary or description or _text(request) or "No problem statement was recorded."


def _resolution_note(spec: CallSpec) -> str:
    worded = reword(spec.request)
    if worded is not None:  # "Improve wording" of a preview FlowPilot built from stored rows
        return worded
    context = spec.context or {}
    fix = _fix(context)
    facts = _fact_lines(context) or ["- No facts were confirmed in this session."]
    root_cause = _text(fix.get("root_cause")) or "Not recorded."
    steps = _text(fix.get("body") or fix.get("steps")) if fix else ""
    resolution = f"{_text(fix.get('title'))}. {steps}".strip(". ") if fix else "Not recorded."
    return "\n".join(
        [
            "## Problem",
            _problem(context, spec.request),
            "",
            "## What we confirmed",
            *facts,
            "",
            "## Root cause",
            root_cause,
            "",
            "## Resolution",
            resolution or "Not recorded.",
            "",
        ]
    )


def _escalation_package(spec: CallSpec) -> str:
    worded = reword(spec.request)
    if worded is not None:
        return worded
    context = spec.context or {}
    fix = _fix(context)
    facts = _fact_lines(context) or ["- Nothing confirmed yet."]
    tried = []
    for item in _list(context.get("task_lane")):
        if not isinstance(item, Mapping):
            continue
        status = str(item.get("status") or "").lower()
        if status in ("done", "answered", "completed", "complete", "promoted"):
            tried.append(f"- {_text(item.get('title') or item.get('text'))}")
    ticket = _ticket(context)
    playbook = find_playbook(ticket=ticket) if ticket else None
    hypothesis = _text(fix.get("root_cause")) or (playbook.root_cause if playbook and playbook.root_cause else "")
    next_steps = [f"- {step}" for step in (playbook.fix_steps if playbook else ())] or [
        "- Reproduce the problem with the user and capture the exact error text.",
        "- Review the confirmed facts above before changing anything.",
    ]
    return "\n".join(
        [
            "## Problem",
            _problem(context, spec.request),
            "",
            "## What we've confirmed",
            *facts,
            "",
            "## What we've tried",
            *(tried or ["- No checks or actions were completed yet."]),
            "",
            "## Current hypothesis",
            hypothesis or "No hypothesis yet.",
            "",
            "## Suggested next steps",
            *next_steps,
            "",
        ]
    )


def _generic(spec: CallSpec) -> str:
    context = spec.context or {}
    ticket = _ticket(context)
    lines = [f"Offline model answer for the '{spec.service}' service (deterministic, no network)."]
    if ticket:
        lines.append(f"Ticket: {_problem(context, '')}")
        playbook = find_playbook(ticket=ticket)
        if playbook is not None and playbook.primary is not None:
            lines.append(f"Closest playbook: {playbook.title}. Usual root cause: {playbook.primary.root_cause}")
            script = next((c.script for c in playbook.conclusions if c.script is not None), None)
            if script is not None:
                lines.append(f"Matching script: {script.name} - {script.description}")
    facts = _fact_lines(context)
    if facts:
        lines.append("Confirmed facts:")
        lines.extend(facts)
    if spec.request.strip():
        request = _text(spec.request)
        lines.append("Request: " + (request if len(request) <= 400 else request[:399] + "…"))
    if len(lines) == 1:
        lines.append("The call carried no ticket, facts or request to work from.")
    return "\n".join(lines) + "\n"


_HANDLERS = {
    "chat": _chat,
    "ai_parse": _ai_parse,
    "fact_synthesis": _fact_synthesis,
    "resolution_note": _resolution_note,
    "escalation_package": _escalation_package,
    "script_generation": write_script,
    # The rules already found what the offline model could: it suggests nothing more.
    "template_extraction": lambda spec: '{"parameters": []}',
    # Prefill already read the facts with the same rules the offline model knows: nothing to add.
    "script_prefill": lambda spec: '{"values": {}}',
}
