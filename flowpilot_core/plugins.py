"""The plugin manager: loads built-in and third-party plugins from one entry-point group.

Built-in plugins (``flowpilot_local``, ``flowpilot_offline``, ``flowpilot_anthropic``)
register through the ``flowpilot`` entry-point group exactly like a third-party one.

Environment controls:

- ``FLOWPILOT_LOAD_PLUGINS``: comma-separated allowlist of entry-point names to load
  (empty string loads none).
- ``FLOWPILOT_TRACE_PLUGINS=1``: log every hook call and its result.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from flowpilot_core import hookspecs

log = logging.getLogger("flowpilot.plugins")

ENTRY_POINT_GROUP = "flowpilot"


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded: reported by name, never fatal."""

    name: str
    error: str


@dataclass
class PluginRegistry:
    """Everything plugins contributed, keyed by name, with the contributing plugin."""

    psa_providers: dict[str, Callable[..., Any]] = field(default_factory=dict)
    model_providers: dict[str, Callable[..., Any]] = field(default_factory=dict)
    marker_parsers: dict[str, Any] = field(default_factory=dict)
    marker_effects: dict[str, Any] = field(default_factory=dict)
    template_matchers: dict[str, Any] = field(default_factory=dict)
    redactors: dict[str, Callable[[str], str]] = field(default_factory=dict)
    owners: dict[tuple[str, str], str] = field(default_factory=dict)


class DuplicateContributionError(RuntimeError):
    """Two plugins contributed the same name for the same kind of thing."""


def _new_manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager("flowpilot")
    manager.add_hookspecs(hookspecs)
    return manager


pm = _new_manager()
failures: list[PluginFailure] = []
_loaded = False


def load_plugins(manager: pluggy.PluginManager | None = None) -> list[PluginFailure]:
    """Load every plugin of the entry-point group once; return the ones that failed."""
    global _loaded
    manager = manager or pm
    if manager is pm and _loaded:
        return failures
    allow_raw = os.environ.get("FLOWPILOT_LOAD_PLUGINS")
    allow = None if allow_raw is None else {n.strip() for n in allow_raw.split(",") if n.strip()}
    found: list[PluginFailure] = []
    for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if allow is not None and ep.name not in allow:
            continue
        if manager.get_plugin(ep.name) is not None:
            continue
        try:
            manager.register(ep.load(), name=ep.name)
        except Exception as exc:  # a broken third-party plugin must not take FlowPilot down
            log.error("plugin %r failed to load: %s", ep.name, exc)
            found.append(PluginFailure(ep.name, f"{type(exc).__name__}: {exc}"))
    if os.environ.get("FLOWPILOT_TRACE_PLUGINS"):
        manager.trace.root.setwriter(lambda msg: log.info("%s", msg.rstrip()))
        manager.enable_tracing()
    if manager is pm:
        failures[:] = found
        _loaded = True
    return found


def collect(manager: pluggy.PluginManager | None = None) -> PluginRegistry:
    """Call every contribution hook and gather the results in one registry."""
    manager = manager or pm
    registry = PluginRegistry()

    def registrar(kind: str, table: dict[str, Any], plugin_name: str) -> Callable[..., None]:
        def register(name_or_obj: Any, obj: Any = None) -> None:
            if obj is None:  # register(parser) form: the object names itself
                obj, name = name_or_obj, str(name_or_obj.tag)
            else:
                name = str(name_or_obj)
            owner = registry.owners.get((kind, name))
            if owner is not None and owner != plugin_name:
                raise DuplicateContributionError(
                    f"{kind} {name!r} is contributed by both plugin {owner!r} and plugin {plugin_name!r}"
                )
            table[name] = obj
            registry.owners[(kind, name)] = plugin_name

        return register

    kinds = (
        ("register_psa_providers", "psa provider", registry.psa_providers),
        ("register_model_providers", "model provider", registry.model_providers),
        ("register_marker_parsers", "marker parser", registry.marker_parsers),
        ("register_marker_effects", "marker effect", registry.marker_effects),
        ("register_template_matchers", "template matcher", registry.template_matchers),
        ("register_redactors", "redactor", registry.redactors),
    )
    for hook_name, kind, table in kinds:
        caller = getattr(manager.hook, hook_name)
        # Reverse so that, like pluggy's call order, later-registered plugins come last: stable across runs.
        for impl in reversed(caller.get_hookimpls()):
            impl.function(register=registrar(kind, table, impl.plugin_name))
    return registry


def plugin_summaries(manager: pluggy.PluginManager | None = None) -> list[dict[str, Any]]:
    """Each registered plugin with the hooks it implements (for ``flowpilot plugins list``)."""
    manager = manager or pm
    rows = []
    for name, plugin in sorted(manager.list_name_plugin(), key=lambda item: item[0]):
        hooks = sorted(caller.name for caller in manager.get_hookcallers(plugin) or [])
        rows.append({"name": name, "module": getattr(plugin, "__name__", repr(plugin)), "hooks": hooks})
    return rows
