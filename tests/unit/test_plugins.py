"""The plugin manager: contributions, duplicates named by plugin, broken plugins reported not fatal."""

from __future__ import annotations

from typing import Any

import pluggy
import pytest

from flowpilot_core import hookimpl, hookspecs
from flowpilot_core.plugins import ContributionError, DuplicateContributionError, collect


def _manager(*plugins: tuple[str, Any]) -> pluggy.PluginManager:
    manager = pluggy.PluginManager("flowpilot")
    manager.add_hookspecs(hookspecs)
    for name, plugin in plugins:
        manager.register(plugin, name=name)
    return manager


class PsaA:
    @hookimpl
    def register_psa_providers(self, register: Any) -> None:
        register("acme", lambda config: ("acme", config))


class PsaB:
    @hookimpl
    def register_psa_providers(self, register: Any) -> None:
        register("acme", lambda config: ("other", config))


class Redactor:
    @hookimpl
    def register_redactors(self, register: Any) -> None:
        register("digits", lambda text: "".join("#" if c.isdigit() else c for c in text))


def test_contributions_are_collected_with_their_owner() -> None:
    registry = collect(_manager(("psa-a", PsaA()), ("redact", Redactor())))
    assert registry.psa_providers["acme"]({"x": 1}) == ("acme", {"x": 1})
    assert registry.redactors["digits"]("PIN 1234") == "PIN ####"
    assert registry.owners[("psa provider", "acme")] == "psa-a"


def test_duplicate_names_are_an_error_naming_both_plugins() -> None:
    with pytest.raises(DuplicateContributionError, match=r"'psa-a'.*'psa-b'|'psa-b'.*'psa-a'"):
        collect(_manager(("psa-a", PsaA()), ("psa-b", PsaB())))


def test_every_hookspec_has_a_docstring() -> None:
    manager = _manager()
    for name in dir(manager.hook):
        if name.startswith("_"):
            continue
        spec = getattr(hookspecs, name)
        assert (spec.__doc__ or "").strip(), f"hookspec {name} has no docstring"


class NamelessProvider:
    @hookimpl
    def register_model_providers(self, register: Any) -> None:
        register("", lambda settings: None)


class ParserWithoutTag:
    @hookimpl
    def register_marker_parsers(self, register: Any) -> None:
        register(object())


class OptInArguments:
    """Takes none of the hook's arguments: pluggy's opt-in rule allows it."""

    called = False

    @hookimpl
    def register_redactors(self) -> None:
        OptInArguments.called = True


def test_a_registration_flowpilot_cannot_use_names_the_plugin() -> None:
    with pytest.raises(ContributionError, match=r"plugin 'nameless' registered a model provider named ''"):
        collect(_manager(("nameless", NamelessProvider())))
    with pytest.raises(ContributionError, match=r"plugin 'tagless' registered marker parser .* needs a str `tag`"):
        collect(_manager(("tagless", ParserWithoutTag())))


def test_an_implementation_may_take_fewer_arguments_than_the_hook() -> None:
    collect(_manager(("opt-in", OptInArguments())))
    assert OptInArguments.called
