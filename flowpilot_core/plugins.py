"""The plugin manager: built-in and third-party plugins from one entry-point group.

Built-in plugins are the ``flowpilot`` entry points of FlowPilot's own distribution
(``markers``, ``marker_effects``, ``script_matchers``, ``offline``, ``anthropic``,
``openai_compat``, ``connectwise``, ...); third-party plugins are the ``flowpilot``
entry points of any other installed distribution. Both register the same way.

The loading rule:

- built-in plugins always load: FlowPilot cannot start without a model provider;
- ``FLOWPILOT_LOAD_PLUGINS`` is an allowlist of *third-party* entry-point names
  (comma-separated); unset loads every installed third-party plugin, an empty string
  loads none; a name that is not installed is logged and ignored;
- a plugin that fails to import is reported (:class:`PluginFailure`) and left out.

``FLOWPILOT_TRACE_PLUGINS=1`` logs every hook call pluggy makes and its result.
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
from flowpilot_core.config import ConfigError
from flowpilot_core.hookspecs import ModelProviderFactory, PsaProviderFactory, Redactor
from flowpilot_core.markers.effects import MarkerEffect
from flowpilot_core.markers.grammar import MarkerParser

log = logging.getLogger("flowpilot.plugins")

ENTRY_POINT_GROUP = "flowpilot"
BUILTIN_DISTRIBUTION = "flowpilot"
"""The distribution whose entry points are the built-in plugins."""


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded: reported by name, never fatal."""

    name: str
    error: str


@dataclass
class PluginRegistry:
    """Everything plugins contributed, keyed by name, with the contributing plugin in ``owners``."""

    psa_providers: dict[str, PsaProviderFactory] = field(default_factory=dict)
    model_providers: dict[str, ModelProviderFactory] = field(default_factory=dict)
    marker_parsers: dict[str, MarkerParser] = field(default_factory=dict)
    marker_effects: dict[str, MarkerEffect] = field(default_factory=dict)
    template_matchers: dict[str, Callable[..., Any]] = field(default_factory=dict)
    """:class:`flowpilot_core.scripts.matching.TemplateMatcher` callables (not imported here: the scripts
    engine imports the database layer, which imports this module)."""
    redactors: dict[str, Redactor] = field(default_factory=dict)
    owners: dict[tuple[str, str], str] = field(default_factory=dict)
    """``(kind, name) -> plugin name``, e.g. ``("model provider", "offline") -> "offline"``."""

    def contributions(self, plugin_name: str) -> list[str]:
        """What ``plugin_name`` contributed, as ``"kind name"`` strings, sorted."""
        return sorted(f"{kind} {name}" for (kind, name), owner in self.owners.items() if owner == plugin_name)


class DuplicateContributionError(ConfigError):
    """Two plugins contributed the same name for the same kind of thing."""


class ContributionError(ConfigError):
    """A plugin called ``register`` with something FlowPilot cannot use; names the plugin."""


def new_manager() -> pluggy.PluginManager:
    """An empty plugin manager with FlowPilot's hookspecs (tests and embedders build their own)."""
    manager = pluggy.PluginManager("flowpilot")
    manager.add_hookspecs(hookspecs)
    return manager


pm = new_manager()
"""The process-wide manager :class:`~flowpilot_core.library.FlowPilot` uses unless given another."""
failures: list[PluginFailure] = []
_loaded = False


def _allowlist() -> set[str] | None:
    raw = os.environ.get("FLOWPILOT_LOAD_PLUGINS")
    return None if raw is None else {name.strip() for name in raw.split(",") if name.strip()}


def _is_builtin(ep: importlib.metadata.EntryPoint) -> bool:
    dist = ep.dist
    return dist is not None and dist.name == BUILTIN_DISTRIBUTION


def load_plugins(manager: pluggy.PluginManager | None = None) -> list[PluginFailure]:
    """Register the built-in plugins and the allowed third-party ones; return those that failed.

    With no ``manager`` this loads the process-wide :data:`pm`, once.
    """
    global _loaded
    manager = manager or pm
    if manager is pm and _loaded:
        return failures
    allow = _allowlist()
    found: list[PluginFailure] = []
    seen: set[str] = set()
    entry_points = sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
    builtin_names = {ep.name for ep in entry_points if _is_builtin(ep)}
    for ep in entry_points:
        if not _is_builtin(ep):
            seen.add(ep.name)
            if allow is not None and ep.name not in allow:
                continue
            if ep.name in builtin_names:  # never shadow (or be shadowed by) a built-in
                log.error("plugin %r is not loaded: a built-in plugin has that name", ep.name)
                found.append(PluginFailure(ep.name, f"a built-in plugin is already named {ep.name!r}"))
                continue
        if manager.get_plugin(ep.name) is not None:
            continue
        try:
            manager.register(ep.load(), name=ep.name)
        except Exception as exc:  # a broken third-party plugin must not take FlowPilot down
            log.error("plugin %r failed to load: %s", ep.name, exc)
            found.append(PluginFailure(ep.name, f"{type(exc).__name__}: {exc}"))
    for missing in sorted((allow or set()) - seen):
        log.warning("FLOWPILOT_LOAD_PLUGINS names %r, but no installed plugin has that entry-point name", missing)
    if os.environ.get("FLOWPILOT_TRACE_PLUGINS"):
        manager.trace.root.setwriter(lambda msg: log.info("%s", msg.rstrip()))
        manager.enable_tracing()
    if manager is pm:
        failures[:] = found
        _loaded = True
    return found


def call_impl(manager: pluggy.PluginManager, hook_name: str, impl: pluggy.HookImpl, **kwargs: Any) -> Any:
    """Call one plugin's implementation of a hook and return its result (``None`` if it returned none).

    Through pluggy (a subset caller), so opt-in arguments and ``FLOWPILOT_TRACE_PLUGINS``
    apply, yet one plugin at a time: its exception is its own and names it.
    """
    hook = getattr(manager.hook, hook_name)
    others = [other.plugin for other in hook.get_hookimpls() if other is not impl]
    results = manager.subset_hook_caller(hook_name, remove_plugins=others)(**kwargs)
    return results[0] if results else None


def collect(manager: pluggy.PluginManager | None = None) -> PluginRegistry:
    """Call every contribution hook and gather the results in one registry.

    Raises :class:`DuplicateContributionError` (naming both plugins) when two plugins
    contribute the same name for the same kind, and :class:`ContributionError` (naming
    the plugin) for a registration FlowPilot cannot use.
    """
    manager = manager or pm
    registry = PluginRegistry()

    def claim(kind: str, name: str, plugin_name: str) -> None:
        owner = registry.owners.get((kind, name))
        if owner is not None and owner != plugin_name:
            raise DuplicateContributionError(
                f"{kind} {name!r} is contributed by both plugin {owner!r} and plugin {plugin_name!r}"
            )
        registry.owners[(kind, name)] = plugin_name

    def named(kind: str, table: dict[str, Any], plugin_name: str) -> Callable[[str, Any], None]:
        def register(name: str, contribution: Any) -> None:
            if not isinstance(name, str) or not name.strip():
                raise ContributionError(f"plugin {plugin_name!r} registered a {kind} named {name!r}: not a name")
            if not callable(contribution):
                raise ContributionError(f"plugin {plugin_name!r} registered {kind} {name!r}, which is not callable")
            claim(kind, name, plugin_name)
            table[name] = contribution

        return register

    def parsers(plugin_name: str) -> Callable[[MarkerParser], None]:
        def register(parser: MarkerParser) -> None:
            tag = getattr(parser, "tag", None)
            if not isinstance(tag, str) or not tag or not callable(getattr(parser, "parse", None)):
                raise ContributionError(
                    f"plugin {plugin_name!r} registered marker parser {parser!r}: it needs a str `tag` and `parse()`"
                )
            claim("marker parser", tag, plugin_name)
            registry.marker_parsers[tag] = parser

        return register

    registrars: dict[str, Callable[[str], Callable[..., None]]] = {
        "register_model_providers": lambda p: named("model provider", registry.model_providers, p),
        "register_marker_parsers": parsers,
        "register_marker_effects": lambda p: named("marker effect", registry.marker_effects, p),
        "register_psa_providers": lambda p: named("psa provider", registry.psa_providers, p),
        "register_template_matchers": lambda p: named("template matcher", registry.template_matchers, p),
        "register_redactors": lambda p: named("redactor", registry.redactors, p),
    }
    for hook_name, registrar in registrars.items():
        # get_hookimpls() is in registration order (pluggy calls them in reverse): the plugin registered
        # first keeps a contested name and the error names the later one second, stable across runs.
        for impl in getattr(manager.hook, hook_name).get_hookimpls():
            call_impl(manager, hook_name, impl, register=registrar(impl.plugin_name))
    return registry


def plugin_summaries(
    manager: pluggy.PluginManager | None = None, registry: PluginRegistry | None = None
) -> list[dict[str, Any]]:
    """Each registered plugin, the hooks it implements and (given ``registry``) what it contributed."""
    manager = manager or pm
    rows = []
    for name, plugin in sorted(manager.list_name_plugin(), key=lambda item: item[0]):
        hooks = sorted(caller.name for caller in manager.get_hookcallers(plugin) or [])
        row: dict[str, Any] = {"name": name, "module": getattr(plugin, "__name__", repr(plugin)), "hooks": hooks}
        if registry is not None:
            row["contributes"] = registry.contributions(name)
        rows.append(row)
    return rows
