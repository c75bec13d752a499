"""One test per hook (``test_hook_<name>``): a plugin implementing it, and the effect a user sees.

Hooks whose effect needs a service out of reach (PSA providers) or that have no consumer yet
(redactors) are checked where a user can see them today: ``flowpilot plugins list`` shows the
contribution of an installed plugin, and a name two plugins contribute is refused naming both.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.pool import NullPool

from flowpilot_core import hookimpl
from flowpilot_core.accounts import Principal
from flowpilot_core.config import Settings
from flowpilot_core.db.engine import DatabaseUrls, create_engine, make_sessionmaker, tenant_session
from flowpilot_core.events import SessionCreated
from flowpilot_core.fixes import propose_fix
from flowpilot_core.hookspecs import (
    RegisterMarkerEffect,
    RegisterMarkerParser,
    RegisterModelProvider,
    RegisterTemplateMatcher,
)
from flowpilot_core.markers.grammar import Marker
from flowpilot_core.plugins import DuplicateContributionError, collect
from flowpilot_core.scripts import FixQuery, TemplateDoc, TemplateScore
from tests.conftest import Tenant

from .support import (
    EchoProvider,
    EventRecorder,
    client_for,
    install_plugin,
    manager_with,
    run_flowpilot,
    subprocess_env,
)


class EchoModelPlugin:
    @hookimpl
    def register_model_providers(self, register: RegisterModelProvider) -> None:
        register("echo", lambda settings: EchoProvider())


async def _open_session(client: Any, tenant: Tenant, **body: Any) -> str:
    response = await client.post(
        "/api/v1/ai-sessions", json={"problem_statement": "Printer offline", **body}, headers=tenant.headers()
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_hook_register_model_providers(settings: Settings, db_urls: DatabaseUrls, tenant: Tenant) -> None:
    manager = manager_with(("echo-plugin", EchoModelPlugin()))
    async with client_for(settings, db_urls, manager, model_provider="echo") as client:
        sid = await _open_session(client, tenant)
        turn = await client.post(
            f"/api/v1/ai-sessions/{sid}/messages", json={"content": "Users can't print"}, headers=tenant.headers()
        )
        assert turn.status_code == 200, turn.text
        assert turn.json()["assistant_message"]["content"] == "echo: Users can't print"


class ShoutMarker(Marker, frozen=True, kw_only=True, tag="shout"):
    text: str


class ShoutParser:
    tag = "SHOUT"

    def parse(self, body: str, attrs: dict[str, str]) -> Marker | None:
        return ShoutMarker(text=body) if body else None

    def render(self, marker: Marker) -> str:
        return marker.text.upper() if isinstance(marker, ShoutMarker) else ""


class ShoutPlugin:
    @hookimpl
    def register_marker_parsers(self, register: RegisterMarkerParser) -> None:
        register(ShoutParser())


class ShoutingModelPlugin:
    @hookimpl
    def register_model_providers(self, register: RegisterModelProvider) -> None:
        register("shouting", lambda settings: EchoProvider(prefix="[SHOUT]check the cable[/SHOUT] and"))


async def test_hook_register_marker_parsers(settings: Settings, db_urls: DatabaseUrls, tenant: Tenant) -> None:
    manager = manager_with(("shout", ShoutPlugin()), ("shouting-model", ShoutingModelPlugin()))
    async with client_for(settings, db_urls, manager, model_provider="shouting") as client:
        sid = await _open_session(client, tenant)
        url = f"/api/v1/ai-sessions/{sid}/messages"
        turn = await client.post(url, json={"content": "hi"}, headers=tenant.headers())
        assert turn.status_code == 200, turn.text
        message = turn.json()["assistant_message"]
        assert message["content"] == "CHECK THE CABLE and: hi"
        assert message["markers"] == [{"type": "shout", "text": "check the cable"}]


async def _effect(turn: Any, marker: Marker) -> None:
    return None


class QuestionEffectPlugin:
    @hookimpl
    def register_marker_effects(self, register: RegisterMarkerEffect) -> None:
        register("escalate", _effect)


class OtherQuestionEffectPlugin:
    @hookimpl
    def register_marker_effects(self, register: RegisterMarkerEffect) -> None:
        register("escalate", _effect)


def test_hook_register_marker_effects() -> None:
    # What an effect does to a session is tested with the chat turn that runs it; here: it is
    # collected under its marker type with its owner, and a second claim on the type is refused.
    registry = collect(manager_with(("question-effects", QuestionEffectPlugin())))
    assert registry.marker_effects["escalate"] is _effect
    assert registry.contributions("question-effects") == ["marker effect escalate"]
    with pytest.raises(DuplicateContributionError, match=r"'question-effects'.*'other'"):
        collect(manager_with(("question-effects", QuestionEffectPlugin()), ("other", OtherQuestionEffectPlugin())))


async def test_hook_track_event(settings: Settings, db_urls: DatabaseUrls, tenant: Tenant) -> None:
    recorder = EventRecorder()
    async with client_for(settings, db_urls, manager_with(("recorder", recorder))) as client:
        sid = await _open_session(client, tenant, ticket_ref="T-1042", psa_provider="connectwise")
    (event,) = recorder.events
    assert isinstance(event, SessionCreated)
    assert (event.name, event.account_id, event.session_id) == ("session_created", tenant.account_id, uuid.UUID(sid))
    assert (event.psa_provider, event.ticket_ref) == ("connectwise", "T-1042")
    assert event.user_id is not None  # the technician of the embed token


# -- what `flowpilot plugins list` shows (PSA providers, redactors; template matchers too) ----------------------------

ACME_PLUGIN = """
    from flowpilot_core import hookimpl

    @hookimpl
    def register_psa_providers(register):
        register("acme_psa", lambda config: object())

    @hookimpl
    def register_template_matchers(register):
        register("by_title", lambda fix, templates: [])

    @hookimpl
    def register_redactors(register):
        register("card_numbers", lambda text: text)
"""

RIVAL_PLUGIN = """
    from flowpilot_core import hookimpl

    @hookimpl
    def register_{hook}(register):
        register("{name}", {value})
"""

RIVALS = {
    "psa_providers": ("acme_psa", "lambda config: object()"),
    "template_matchers": ("by_title", "lambda fix, templates: []"),
    "redactors": ("card_numbers", "lambda text: text"),
}


@pytest.fixture(scope="module")
def plugins_list(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``flowpilot plugins list --json`` with the third-party plugin ``acme`` installed."""
    site = tmp_path_factory.mktemp("site")
    install_plugin(site, "flowpilot-acme", "acme", "flowpilot_acme", ACME_PLUGIN)
    result = run_flowpilot("plugins", "list", "--json", env=subprocess_env(site), cwd=site)
    assert result.returncode == 0, result.stderr
    listing: dict[str, Any] = json.loads(result.stdout)
    return listing


def _refused(tmp_path: Path, hook: str) -> str:
    """stderr of ``flowpilot plugins list`` with ``acme`` and a rival contributing the same name."""
    name, value = RIVALS[hook]
    install_plugin(tmp_path, "flowpilot-acme", "acme", "flowpilot_acme", ACME_PLUGIN)
    install_plugin(
        tmp_path, "flowpilot-rival", "rival", "flowpilot_rival", RIVAL_PLUGIN.format(hook=hook, name=name, value=value)
    )
    result = run_flowpilot("plugins", "list", env=subprocess_env(tmp_path), cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr.strip()


def _acme(listing: dict[str, Any]) -> dict[str, Any]:
    (acme,) = [p for p in listing["plugins"] if p["name"] == "acme"]
    return acme


def test_hook_register_psa_providers(plugins_list: dict[str, Any], tmp_path: Path) -> None:
    acme = _acme(plugins_list)
    assert "register_psa_providers" in acme["hooks"]
    assert "psa provider acme_psa" in acme["contributes"]
    assert _refused(tmp_path, "psa_providers") == (
        "flowpilot: configuration error: "
        "psa provider 'acme_psa' is contributed by both plugin 'acme' and plugin 'rival'"
    )


async def test_hook_register_template_matchers(
    settings: Settings, db_urls: DatabaseUrls, tenant: Tenant, plugins_list: dict[str, Any], tmp_path: Path
) -> None:
    # A plugin's matcher scores the account's templates for the fix; its scores merge with the built-in
    # keyword matcher's, best first, each with the matchers' reasons.
    manager = manager_with(("ticket-history", TicketHistoryPlugin()))
    async with client_for(settings, db_urls, manager) as client:
        sid = await _open_session(client, tenant)
        fix = await _fix_in(settings, db_urls, tenant, sid)
        ids = {}
        for name, description in (("Restart-PrintSpooler", "Restarts the print spooler"), ("Rebuild-Profile", "x")):
            made = await client.post(
                "/api/v1/script-templates",
                json={"name": name, "description": description, "body": "Get-Service"},
                headers=tenant.headers(),
            )
            ids[name] = made.json()["id"]
        found = await client.get(
            f"/api/v1/ai-sessions/{sid}/suggested-fixes/{fix}/template-matches", headers=tenant.headers()
        )
    assert found.status_code == 200, found.text
    matches = [(m["name"], m["score"], m["matched_by"]) for m in found.json()["matches"]]
    assert matches[0] == ("Rebuild-Profile", 0.95, ["ticket_history"])
    assert matches[1][0] == "Restart-PrintSpooler" and matches[1][2] == ["keywords", "ticket_history"]
    assert "resolved 3 similar tickets" in [r["reason"] for r in found.json()["matches"][0]["reasons"]]
    acme = _acme(plugins_list)  # and an installed plugin's matcher is listed, a rival's same name refused
    assert "template matcher by_title" in acme["contributes"]
    assert "template matcher 'by_title' is contributed by both plugin 'acme' and plugin 'rival'" in _refused(
        tmp_path, "template_matchers"
    )


class TicketHistoryPlugin:
    """Scores templates by how often they resolved similar tickets (here: a fixed table)."""

    @hookimpl
    def register_template_matchers(self, register: RegisterTemplateMatcher) -> None:
        def matcher(fix: FixQuery, templates: Sequence[TemplateDoc]) -> list[TemplateScore]:
            table = {"Rebuild-Profile": 0.95, "Restart-PrintSpooler": 0.4}
            return [
                TemplateScore(template_id=t.id, score=table[t.name], reasons=("resolved 3 similar tickets",))
                for t in templates
                if t.name in table
            ]

        register("ticket_history", matcher)


async def _fix_in(settings: Settings, db_urls: DatabaseUrls, tenant: Tenant, sid: str) -> str:
    engine = create_engine(db_urls.app, poolclass=NullPool)
    try:
        async with tenant_session(make_sessionmaker(engine), tenant.account_id) as db:
            principal = Principal(account_id=tenant.account_id, via="api_key")
            fix, _ = await propose_fix(
                db, principal, uuid.UUID(sid), title="Restart the print spooler", root_cause=None, body=""
            )
    finally:
        await engine.dispose()
    return str(fix.id)


def test_hook_register_redactors(plugins_list: dict[str, Any], tmp_path: Path) -> None:
    acme = _acme(plugins_list)
    assert "register_redactors" in acme["hooks"]
    assert "redactor card_numbers" in acme["contributes"]
    assert "redactor 'card_numbers' is contributed by both plugin 'acme' and plugin 'rival'" in _refused(
        tmp_path, "redactors"
    )
    # the built-ins are listed next to it, with what they contribute
    names = {p["name"]: p for p in plugins_list["plugins"]}
    assert names["offline"]["contributes"] == ["model provider offline"]
