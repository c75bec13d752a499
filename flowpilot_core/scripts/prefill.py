"""Prefilling a template's parameters from what the session knows, each value with its source.

Sources, most specific first: the session's facts (the newest fact naming a host, an
address, a user, a path...), the ticket (company, contact, board, its reference), the
account (its name) and the session's PSA, then the template's default. A candidate is used
only if it is a valid value of the parameter's type. Sensitive parameters are never
prefilled: a secret is typed by the technician each time.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from typing import Literal

import msgspec

from flowpilot_core.db.models import AiSession, SessionFact
from flowpilot_core.errors import InvalidInput
from flowpilot_core.scripts.literals import _NOT_HOSTS
from flowpilot_core.scripts.schema import ParameterSchema, ParameterSpec, ParameterType
from flowpilot_core.scripts.values import Value, validate_value

SourceKind = Literal["fact", "ticket", "account", "psa", "default", "ai"]

_HOSTS = re.compile(
    r"(?<![\w@.\\-])(?:[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+|[A-Z]{2,}[A-Z0-9]*\d{2,}|[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)+\.[a-z]{2,})(?![\w@-])"
)
_IPS = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_EMAILS = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_PATHS = re.compile(r"\\\\[\w.-]+\\[^\s,;'\"]+|\b[A-Za-z]:\\[^\s,;'\"]*")
_DOMAIN_USERS = re.compile(r"\b[A-Za-z][\w.-]{0,30}\\[A-Za-z][\w.$-]{0,63}\b")
_NAMED_USER = re.compile(
    r"\b(?:user(?:name)?|account|login|sam(?:accountname)?)\s*[:=]?\s+['\"]?([A-Za-z][\w.-]{1,63})['\"]?", re.I
)
_NAMED_PRINTER = re.compile(r"\bprinter\s*[:=]?\s+['\"]?([A-Za-z0-9][\w.-]{1,63})['\"]?", re.I)
_USER_WORDS = frozenset(["the", "a", "an", "is", "was", "has", "had", "can", "cannot", "could", "not", "on", "in"])


class ValueSource(msgspec.Struct, frozen=True, kw_only=True):
    kind: SourceKind
    id: str | None = None
    """The fact's id, the session's (for its ticket), the account's or the PSA connection's; for ``ai``,
    the fact or ticket the suggested value was found in."""
    field: str | None = None
    excerpt: str | None = None
    """The fact text (or ticket field) the value was read from."""


class PrefilledValue(msgspec.Struct, kw_only=True):
    name: str
    label: str
    type: ParameterType
    required: bool
    sensitive: bool
    value: Value | None
    source: ValueSource | None


class Prefill(msgspec.Struct, kw_only=True):
    template_id: uuid.UUID
    session_id: uuid.UUID
    values: list[PrefilledValue]
    missing_required: list[str]
    """Required parameters nothing could fill: the technician must type them before rendering."""


class PrefillContext(msgspec.Struct, frozen=True, kw_only=True):
    session_id: uuid.UUID
    ticket: dict[str, object]
    ticket_ref: str | None
    facts: list[tuple[str, str]]
    """``(fact id, text)``, oldest first."""
    account_id: uuid.UUID
    account_name: str
    psa_provider: str | None = None
    psa_connection_id: uuid.UUID | None = None


def context_from(session: AiSession, facts: Sequence[SessionFact], account_name: str) -> PrefillContext:
    return PrefillContext(
        session_id=session.id,
        ticket=dict(session.ticket_snapshot or {}),
        ticket_ref=session.ticket_ref,
        facts=[(str(f.id), f.text) for f in facts],
        account_id=session.account_id,
        account_name=account_name,
        psa_provider=session.psa_provider,
        psa_connection_id=session.psa_connection_id,
    )


def _finder(spec: ParameterSpec) -> Callable[[str], list[str]] | None:
    name = spec.name.lower()
    kinds: dict[ParameterType, Callable[[str], list[str]]] = {
        "hostname": lambda text: [h for h in _HOSTS.findall(text) if h not in _NOT_HOSTS],
        "ip": _IPS.findall,
        "email_upn": _EMAILS.findall,
        "path": _PATHS.findall,
    }
    if spec.type in kinds:
        return kinds[spec.type]
    if spec.type != "string":
        return None
    if "user" in name or "account" in name or "login" in name or "sam" in name:
        return lambda text: (
            _DOMAIN_USERS.findall(text) + [m for m in _NAMED_USER.findall(text) if m.lower() not in _USER_WORDS]
        )
    if "printer" in name:
        return _NAMED_PRINTER.findall
    if any(k in name for k in ("computer", "host", "device", "machine", "server")):
        return lambda text: [h for h in _HOSTS.findall(text) if h not in _NOT_HOSTS]
    return None


def _valid(spec: ParameterSpec, raw: object) -> Value | None:
    try:
        return validate_value(spec, raw)
    except InvalidInput:
        return None


def _from_ticket(spec: ParameterSpec, ctx: PrefillContext) -> tuple[Value, ValueSource] | None:
    name = spec.name.lower()
    fields = []
    if any(k in name for k in ("company", "client", "customer", "organization", "organisation", "tenant")):
        fields.append("company")
    if "contact" in name or (("user" in name or "requester" in name) and spec.type in ("string", "email_upn")):
        fields.append("contact")
    if "board" in name:
        fields.append("board")
    for field in fields:
        raw = ctx.ticket.get(field)
        value = _valid(spec, raw) if raw else None
        if value is not None:
            return value, ValueSource(kind="ticket", id=str(ctx.session_id), field=field, excerpt=str(raw))
    if "ticket" in name and ctx.ticket_ref:
        value = _valid(spec, ctx.ticket_ref)
        if value is not None:
            return value, ValueSource(kind="ticket", id=str(ctx.session_id), field="ref", excerpt=ctx.ticket_ref)
    return None


def _from_account(spec: ParameterSpec, ctx: PrefillContext) -> tuple[Value, ValueSource] | None:
    name = spec.name.lower()
    if ("psa" in name or "provider" in name) and ctx.psa_provider:
        value = _valid(spec, ctx.psa_provider)
        if value is not None:
            ident = str(ctx.psa_connection_id) if ctx.psa_connection_id else None
            return value, ValueSource(kind="psa", id=ident, field="provider", excerpt=ctx.psa_provider)
    if (
        any(k in name for k in ("company", "msp", "account", "organization", "organisation", "tenant"))
        and spec.type == "string"
    ):
        value = _valid(spec, ctx.account_name)
        if value is not None:
            return value, ValueSource(kind="account", id=str(ctx.account_id), field="name", excerpt=ctx.account_name)
    return None


def prefill_one(spec: ParameterSpec, ctx: PrefillContext) -> tuple[Value | None, ValueSource | None]:
    if spec.is_sensitive:
        return None, None
    finder = _finder(spec)
    if finder is not None:
        for fact_id, text in reversed(ctx.facts):  # the newest fact is the most specific
            for candidate in finder(text):
                value = _valid(spec, candidate)
                if value is not None:
                    return value, ValueSource(kind="fact", id=fact_id, excerpt=text)
    for source in (_from_ticket, _from_account):
        found = source(spec, ctx)
        if found is not None:
            return found
    if spec.default is not None:
        return spec.default, ValueSource(kind="default")
    return None, None


def prefill(template_id: uuid.UUID, schema: ParameterSchema, ctx: PrefillContext) -> Prefill:
    values = []
    for spec in schema.parameters:
        value, source = prefill_one(spec, ctx)
        values.append(
            PrefilledValue(
                name=spec.name,
                label=spec.display_label,
                type=spec.type,
                required=spec.required,
                sensitive=spec.is_sensitive,
                value=value,
                source=source,
            )
        )
    missing = [v.name for v in values if v.required and v.value is None]
    return Prefill(template_id=template_id, session_id=ctx.session_id, values=values, missing_required=missing)
