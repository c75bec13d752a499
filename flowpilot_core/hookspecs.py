"""FlowPilot's plugin hooks: the reference for plugin authors.

A plugin is any module or object with functions decorated ``@flowpilot_core.hookimpl``
named after the specs below, registered through the ``flowpilot`` entry-point group::

    [project.entry-points.flowpilot]
    my_psa = "my_package.flowpilot_plugin"

Contribution hooks take a ``register`` callback and call it once per thing they
contribute; FlowPilot records which plugin contributed what and rejects duplicate
names with an error that names both plugins. Lifecycle hooks are notifications:
they may return ``None``, a value or an awaitable; FlowPilot awaits awaitables and
logs (never propagates) a plugin's exception so one broken integration cannot fail
a technician's resolve.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("flowpilot")


@hookspec
def register_psa_providers(register: Callable[..., None]) -> None:
    """Contribute PSA providers.

    Call ``register(name, factory)`` where ``name`` is the provider's stable id
    (``"connectwise"``, ``"autotask"``, ...) stored on ``psa_connections.provider`` and
    ``factory(config: dict[str, Any]) -> PSAProvider`` builds a provider from a
    connection's decrypted config. The provider must implement
    :class:`flowpilot_core.psa.PSAProvider`: ``get_ticket``, ``post_note``,
    ``set_status`` and ``get_status``; run ``flowpilot_core.testing.psa_conformance``
    against it.
    """


@hookspec
def register_model_providers(register: Callable[..., None]) -> None:
    """Contribute model providers.

    Call ``register(name, factory)`` where ``factory(settings) -> ModelProvider``.
    A model provider turns one laid-out call (see ``flowpilot_core.ai``) into a
    completion or a stream of text deltas, and reports token usage. The built-in
    providers are ``anthropic`` (the official SDK) and ``offline`` (deterministic,
    no network).
    """


@hookspec
def register_marker_parsers(register: Callable[..., None]) -> None:
    """Contribute marker parsers for assistant output.

    Call ``register(parser)`` with an object that has a ``tag`` (e.g. ``"QUESTION"``)
    and ``parse(body: str, attrs: dict[str, str]) -> Marker | None``. Only assistant
    output is ever parsed; a parser returning ``None`` leaves the text as plain text.
    """


@hookspec
def register_marker_effects(register: Callable[..., None]) -> None:
    """Contribute what a marker type does to a session.

    Call ``register(marker_type, effect)`` where ``marker_type`` is the marker struct's
    tag (``"question"``) and ``effect`` is ``async def effect(turn, marker) -> None``
    (:class:`flowpilot_core.markers.effects.MarkerEffect`). It runs inside the chat
    turn's second transaction, after the assistant reply is stored, once per marker of
    that type; one that raises is logged and rolled back alone, never losing the reply.
    """


@hookspec
def register_template_matchers(register: Callable[..., None]) -> None:
    """Contribute script-template matchers.

    Call ``register(name, matcher)`` with an object whose
    ``match(fix, templates) -> list[TemplateMatch]`` scores script templates against
    a suggested fix. Results of all matchers are merged, best score first.
    """


@hookspec
def register_redactors(register: Callable[..., None]) -> None:
    """Contribute redactors applied to anything that leaves FlowPilot.

    Call ``register(name, redactor)`` with a callable ``redactor(text: str) -> str``
    used on previews, notes posted to a PSA and script parameters marked sensitive.
    """


@hookspec
def session_resolved(account_id: str, session_id: str, note_markdown: str) -> Any:
    """A session was resolved (locally or with a note posted to its PSA ticket)."""


@hookspec
def session_escalated(account_id: str, session_id: str, package_markdown: str) -> Any:
    """A session was escalated with an escalation package."""


@hookspec
def note_posted(account_id: str, session_id: str, provider: str, ticket_ref: str, kind: str, external_id: str) -> Any:
    """A note was posted to a PSA ticket (``kind``: resolution / escalation / internal)."""
