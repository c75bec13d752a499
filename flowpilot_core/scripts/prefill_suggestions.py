"""AI suggestions for the parameters prefill left empty: the model reads the facts and the ticket.

Through the one cached call path (service ``script_prefill``). Only parameters that are still
empty after the facts, ticket, account and PSA, and never a sensitive one, are asked about;
the model sees the parameters' names, types and descriptions, the session's facts and the
ticket, never a value of another generation. A suggested value is kept only if it is valid for
its parameter and appears word for word in a fact or the ticket, and it shows
``source.kind == "ai"`` with the text it came from: the model may point at a value, not invent one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from flowpilot_core.ai.replies import json_reply
from flowpilot_core.ai.types import CallSpec
from flowpilot_core.errors import InvalidInput
from flowpilot_core.scripts.prefill import Prefill, PrefillContext, ValueSource
from flowpilot_core.scripts.schema import ParameterSchema
from flowpilot_core.scripts.values import validate_value

log = logging.getLogger("flowpilot.scripts")

SERVICE = "script_prefill"
PREFILL_INSTRUCTIONS = """\
You fill in parameters of an IT script from what a troubleshooting session knows.
The context holds the ticket and the confirmed facts; the request lists the parameters to fill
({"name", "type", "label", "description"}). Reply with ONE JSON object and nothing else:
{"values": {"<parameter name>": "<value copied exactly from a fact or the ticket>"}}.
Leave a parameter out unless a fact or the ticket names its value. Never guess.
"""


def wanted(schema: ParameterSchema, prefill: Prefill) -> list[dict[str, str]]:
    empty = {v.name for v in prefill.values if v.value is None and not v.sensitive}
    return [
        {"name": p.name, "type": p.type, "label": p.display_label, "description": p.description}
        for p in schema.parameters
        if p.name in empty
    ]


def build_prefill_call(asks: list[dict[str, str]], ctx: PrefillContext, *, account_id: str) -> CallSpec:
    keys = ("summary", "description", "company", "contact")
    return CallSpec(
        service=SERVICE,
        system=(PREFILL_INSTRUCTIONS,),
        context={
            "ticket": {k: ctx.ticket[k] for k in keys if ctx.ticket.get(k)},
            "facts": [{"id": fact_id, "text": text} for fact_id, text in ctx.facts],
        },
        request=json.dumps({"parameters": asks}, sort_keys=True, ensure_ascii=False),
        max_tokens=800,
        account_id=account_id,
        session_id=str(ctx.session_id),
    )


def _where(value: str, ctx: PrefillContext) -> ValueSource | None:
    for fact_id, text in reversed(ctx.facts):
        if value in text:
            return ValueSource(kind="ai", id=fact_id, field=None, excerpt=text)
    for field in ("summary", "description", "company", "contact"):
        text = str(ctx.ticket.get(field) or "")
        if value and value in text:
            return ValueSource(kind="ai", id=str(ctx.session_id), field=field, excerpt=text)
    return None


def apply_suggestions(raw: str, schema: ParameterSchema, prefill: Prefill, ctx: PrefillContext) -> Prefill:
    """``prefill`` with the model's usable suggestions filled in (the others ignored)."""
    try:
        data: Any = json_reply(raw)
    except ValueError:
        data = None
    values = data.get("values") if isinstance(data, dict) else None
    if not isinstance(values, Mapping):
        log.warning('prefill suggestions: the reply is not {"values": {...}}; nothing suggested')
        return prefill
    asked = {a["name"] for a in wanted(schema, prefill)}
    for item in prefill.values:
        suggestion = values.get(item.name)
        spec = schema.get(item.name)
        if item.name not in asked or spec is None or not isinstance(suggestion, str):
            continue
        try:
            value = validate_value(spec, suggestion)
        except InvalidInput:
            continue
        source = _where(str(value), ctx)
        if source is not None:  # a value no fact or ticket field contains is an invention: dropped
            item.value, item.source = value, source
    prefill.missing_required = [v.name for v in prefill.values if v.required and v.value is None]
    return prefill
