"""FlowPilot's plugin hooks: the reference for plugin authors (``docs/plugins.md`` has examples).

A plugin is a module or object with functions decorated ``@flowpilot_core.hookimpl``
named after the specs below, registered through the ``flowpilot`` entry-point group::

    [project.entry-points.flowpilot]
    my_psa = "my_package.flowpilot_plugin"

Contribution hooks (``register_*``) receive a ``register`` callback and call it once per
thing they contribute. :func:`flowpilot_core.plugins.collect` calls them once at start-up,
records which plugin contributed what (``flowpilot plugins list`` shows it) and refuses a
name two plugins contribute, with an error naming both.

``track_event`` is the one notification hook: it receives typed lifecycle events
(:mod:`flowpilot_core.events`) after the transaction that caused them committed.

A hook implementation may accept any subset of a hook's arguments (pluggy's opt-in
arguments), so adding an argument later does not break existing plugins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

import pluggy

from flowpilot_core.ai.provider import ModelProvider
from flowpilot_core.config import Settings
from flowpilot_core.markers.grammar import MarkerParser

if TYPE_CHECKING:
    from flowpilot_core.events import Event
    from flowpilot_core.markers.effects import MarkerEffect
    from flowpilot_core.scripts.matching import TemplateMatcher

hookspec = pluggy.HookspecMarker("flowpilot")

# What the register callbacks take; annotate a hook implementation's ``register`` with them.
ModelProviderFactory: TypeAlias = Callable[[Settings | None], ModelProvider]
"""Builds a model provider from FlowPilot's settings (``None`` outside a configured deployment)."""
PsaProviderFactory: TypeAlias = Callable[[dict[str, Any]], object]
"""Builds a :class:`flowpilot_core.psa.PSAProvider` from a connection's decrypted config."""
Redactor: TypeAlias = Callable[[str], str]
"""Returns the text with what it redacts replaced."""

RegisterModelProvider: TypeAlias = Callable[[str, ModelProviderFactory], None]
RegisterMarkerParser: TypeAlias = Callable[[MarkerParser], None]
RegisterMarkerEffect: TypeAlias = Callable[[str, "MarkerEffect"], None]
RegisterPsaProvider: TypeAlias = Callable[[str, PsaProviderFactory], None]
RegisterTemplateMatcher: TypeAlias = Callable[[str, "TemplateMatcher"], None]
RegisterRedactor: TypeAlias = Callable[[str, Redactor], None]


@hookspec
def register_model_providers(register: RegisterModelProvider) -> None:
    """Contribute model providers: ``register(name, factory)``.

    ``factory(settings)`` returns a :class:`flowpilot_core.ai.provider.ModelProvider`
    (``name``, ``complete(call)``, ``stream(call)``). ``FLOWPILOT_MODEL_PROVIDER=<name>``
    selects it; the built-in ones are ``anthropic`` and ``offline``.
    """


@hookspec
def register_marker_parsers(register: RegisterMarkerParser) -> None:
    """Contribute parsers for markers in assistant output: ``register(parser)``.

    ``parser`` is a :class:`flowpilot_core.markers.grammar.MarkerParser`: a ``tag``
    (upper case, e.g. ``"QUESTION"``, its registered name) and
    ``parse(body, attrs) -> Marker | None``; optionally ``render(marker) -> str``. Only
    assistant output is parsed; ``None`` leaves the marker in the text as written.
    """


@hookspec
def register_marker_effects(register: RegisterMarkerEffect) -> None:
    """Contribute what a parsed marker does to its session: ``register(marker_type, effect)``.

    ``marker_type`` is the marker struct's tag (``"question"``); ``effect(turn, marker)`` is
    an async :class:`flowpilot_core.markers.effects.MarkerEffect`, run in the chat turn's
    second transaction after the reply is stored, once per marker of that type. A failing
    effect is logged and rolled back alone; the reply is kept.
    """


@hookspec
def register_psa_providers(register: RegisterPsaProvider) -> None:
    """Contribute PSA providers: ``register(name, factory)``.

    ``name`` is the id stored on ``psa_connections.provider`` (``"connectwise"``) and
    ``factory(config)`` builds a :class:`flowpilot_core.psa.PSAProvider` from a
    connection's decrypted config (raising ``ValueError`` for a config it cannot use).
    The writeback engine posts notes and sets statuses through it. (The built-in ``local``
    provider, FlowPilot's own record, is the one factory also given a keyword-only
    ``context``: :class:`flowpilot_core.psa.provider.PsaContext`.)
    """


@hookspec
def register_template_matchers(register: RegisterTemplateMatcher) -> None:
    """Contribute script-template matchers: ``register(name, matcher)``.

    ``matcher(fix, templates)`` is a :class:`flowpilot_core.scripts.matching.TemplateMatcher`:
    given the active fix (a ``FixQuery``: title, root cause, steps, the session's problem) and
    the account's templates (``TemplateDoc``: id, name, description, tags, body, language), it
    returns ``TemplateScore(template_id, score, reasons)`` items, ``score`` in [0, 1]. Every
    matcher scores every request; FlowPilot keeps each template's best score with every
    matcher's reasons, best first. A matcher that raises is logged and left out. The built-in
    ``keywords`` matcher (BM25) is one such plugin.
    """


@hookspec
def register_redactors(register: RegisterRedactor) -> None:
    """Contribute redactors: ``register(name, redactor)``; not consumed yet: a later release uses it.

    ``redactor(text) -> str`` returns the text with what it redacts replaced.
    """


@hookspec
def track_event(event: Event) -> Any:
    """Receive a lifecycle event (:mod:`flowpilot_core.events`) after its transaction committed.

    Return ``None`` or an awaitable (``async def`` works); awaitables are awaited. An
    exception is logged with the plugin's name and never reaches the technician's request.
    Events of a rolled-back transaction are never delivered.
    """
