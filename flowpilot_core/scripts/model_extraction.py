"""The model pass of template extraction: literals the deterministic rules did not find.

Through the one cached call path (service ``template_extraction``). The model sees the
script with every literal in a password position already replaced by ``[redacted]``
(:func:`~flowpilot_core.scripts.extraction.redact_secret_literals`) and the parameters the
rules found; it answers ``{"parameters": [{"literal", "name", "type"}]}``. Its suggestions
only *add* to the deterministic result, apply only to whole strings or words equal to the
literal and valid for the type, and a reply that is not that JSON adds nothing: extraction
without the model is always a complete answer.
"""

from __future__ import annotations

import json
import logging
import re

import msgspec

from flowpilot_core.ai.replies import json_reply
from flowpilot_core.ai.types import CallSpec
from flowpilot_core.scripts.extraction import ExtractionResult, Suggestion, redact_secret_literals
from flowpilot_core.scripts.schema import NAME_PATTERN, PARAMETER_TYPES, Language

log = logging.getLogger("flowpilot.scripts")

SERVICE = "template_extraction"
MAX_SUGGESTIONS = 20
EXTRACTION_INSTRUCTIONS = """\
You turn a concrete IT script into a reusable template. You receive JSON:
{"language": "powershell" | "bash", "script": "...", "found": ["parameter names already found"]}.

List the literals that belong to ONE ticket and must become parameters, beyond those already
found: computer and host names, IP addresses, user names, e-mail addresses and UPNs, mailbox,
group, printer and share names, paths of one user or share, GUIDs, Wi-Fi profile names.
Never list what the fix itself is: service names, cmdlet options, registry paths, system
folders, numbers that are settings. "[redacted]" is a secret already handled: never list it.

Reply with ONE JSON object and nothing else:
{"parameters": [{"literal": "<exactly as in the script>", "name": "<snake_case>", "type": "<type>"}]}
where type is one of string, hostname, ip, email_upn, path. An empty list is a good answer.
"""


def build_extraction_call(
    script: str, language: Language, result: ExtractionResult, *, account_id: str, session_id: str | None
) -> CallSpec:
    request = {
        "found": [p.name for p in result.parameter_schema.parameters],
        "language": language,
        "script": redact_secret_literals(script, language),
    }
    return CallSpec(
        service=SERVICE,
        system=(EXTRACTION_INSTRUCTIONS,),
        request=json.dumps(request, sort_keys=True, ensure_ascii=False),
        max_tokens=1500,
        account_id=account_id,
        session_id=session_id,
    )


def parse_suggestions(raw: str) -> list[Suggestion]:
    """The usable suggestions of a reply; anything malformed is dropped (and counted in the log)."""
    try:
        data = json_reply(raw)
    except ValueError:
        data = None
    items = data.get("parameters") if isinstance(data, dict) else None
    if not isinstance(items, list):
        log.warning('template extraction reply is not {"parameters": [...]}; the rules\' result stands')
        return []
    out: list[Suggestion] = []
    dropped = 0
    for item in items[:MAX_SUGGESTIONS]:
        try:
            suggestion = msgspec.convert(item, Suggestion)
        except msgspec.ValidationError:
            dropped += 1
            continue
        if (
            not suggestion.literal.strip()
            or len(suggestion.literal) > 500
            or "[redacted]" in suggestion.literal
            or suggestion.type not in PARAMETER_TYPES
            or suggestion.type in ("secret", "boolean", "integer", "enum")
            or not re.match(NAME_PATTERN, suggestion.name)
        ):
            dropped += 1
            continue
        out.append(suggestion)
    if dropped:
        log.info("template extraction: %d model suggestions were not usable", dropped)
    return out
