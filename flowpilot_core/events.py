"""Lifecycle events: what happened, delivered to plugins once the transaction that did it has committed.

Engine code calls :func:`emit` inside its unit of work; nothing leaves FlowPilot yet. The
event waits on the SQLAlchemy session (``session.info``) and goes one of two ways:

- the transaction commits: whoever owns the unit of work (``tenant_session``, the server's
  per-request ``provide_ctx``) calls :func:`dispatch_committed` after the commit succeeded,
  and every plugin's ``track_event(event)`` hook receives it;
- the transaction (or the savepoint the event was emitted in) rolls back: the event is
  dropped, because what it announces did not happen.

Delivery never fails the work that caused it: a hook that raises is logged on
``flowpilot.events`` with the plugin's name, and the next plugin still gets the event. A
hook may return an awaitable (``async def track_event``); it is awaited. Delivery runs
before the HTTP response is sent, so a handler that does slow work (a webhook call) should
hand it to a task or queue of its own.

Every event is a frozen ``msgspec.Struct`` that names its ``account_id`` and the ids it is
about; ``msgspec.json.encode(event)`` gives ``{"event": "session_created", ...}``.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec
import pluggy
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from flowpilot_core.plugins import call_impl

log = logging.getLogger("flowpilot.events")

__all__ = [
    "EVENT_TYPES",
    "DraftTemplateDecided",
    "Event",
    "EventDispatcher",
    "FixDecided",
    "FixSuggested",
    "NotePostFailed",
    "NotePosted",
    "SessionCreated",
    "SessionEscalated",
    "SessionResolved",
    "StatusVerificationFailed",
    "TemplateCreated",
    "await_me_maybe",
    "dispatch_committed",
    "emit",
]

NoteKind = Literal["resolution", "escalation", "internal"]


def _now() -> datetime:
    return datetime.now(UTC)


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="event"):
    """Base of every lifecycle event: the account it happened in and when it was emitted."""

    account_id: uuid.UUID
    occurred_at: datetime = msgspec.field(default_factory=_now)

    @property
    def name(self) -> str:
        """The event's stable name, e.g. ``"session_created"`` (also its JSON ``event`` field)."""
        return str(type(self).__struct_config__.tag)


class SessionCreated(Event, frozen=True, kw_only=True, tag="session_created"):
    """A session was opened. Emitted by ``flowpilot_core.sessions.create_session``."""

    session_id: uuid.UUID
    user_id: uuid.UUID | None
    """The technician who opened it; ``None`` for a server-to-server call with an API key."""
    psa_provider: str | None = None
    ticket_ref: str | None = None


class FixSuggested(Event, frozen=True, kw_only=True, tag="fix_suggested"):
    """The AI proposed a fix and it became the session's active fix (the same fix again is not a new one)."""

    session_id: uuid.UUID
    fix_id: uuid.UUID
    superseded_fix_id: uuid.UUID | None = None
    """The fix this one replaced as the session's active fix, if any."""


class FixDecided(Event, frozen=True, kw_only=True, tag="fix_decided"):
    """The technician decided what to do with the active suggested fix."""

    session_id: uuid.UUID
    fix_id: uuid.UUID
    decision: Literal["one_off", "draft_template", "build_template", "dismissed"]
    user_id: uuid.UUID | None


class SessionResolved(Event, frozen=True, kw_only=True, tag="session_resolved"):
    """A session was resolved. Not emitted yet: phase 4 emits it."""

    session_id: uuid.UUID
    user_id: uuid.UUID | None
    posted_to_psa: bool
    """``False`` when the session has no PSA ticket and was resolved locally."""


class SessionEscalated(Event, frozen=True, kw_only=True, tag="session_escalated"):
    """A session was escalated with an escalation package. Not emitted yet: phase 4 emits it."""

    session_id: uuid.UUID
    user_id: uuid.UUID | None
    posted_to_psa: bool


class NotePosted(Event, frozen=True, kw_only=True, tag="note_posted"):
    """A note reached a PSA ticket. Not emitted yet: phase 4 emits it."""

    session_id: uuid.UUID
    provider: str
    ticket_ref: str
    kind: NoteKind
    external_id: str | None = None
    """The PSA's id of the note, when it returns one."""


class NotePostFailed(Event, frozen=True, kw_only=True, tag="note_post_failed"):
    """Posting a note to a PSA ticket failed. Not emitted yet: phase 4 emits it."""

    session_id: uuid.UUID
    provider: str
    ticket_ref: str
    kind: NoteKind
    error: str


class StatusVerificationFailed(Event, frozen=True, kw_only=True, tag="status_verification_failed"):
    """A ticket status change did not read back as set. Not emitted yet: phase 4 emits it."""

    session_id: uuid.UUID
    provider: str
    ticket_ref: str
    expected_status: str
    actual_status: str | None


class TemplateCreated(Event, frozen=True, kw_only=True, tag="template_created"):
    """A script template was created (from the library API, or by accepting a draft)."""

    template_id: uuid.UUID
    session_id: uuid.UUID | None
    """The session the template came from, if any."""
    user_id: uuid.UUID | None
    draft_id: uuid.UUID | None = None
    """The draft template it was accepted from, if any."""


class DraftTemplateDecided(Event, frozen=True, kw_only=True, tag="draft_template_decided"):
    """A technician accepted or rejected a draft template (the templatize prompt)."""

    draft_id: uuid.UUID
    session_id: uuid.UUID
    decision: Literal["accepted", "rejected"]
    template_id: uuid.UUID | None
    """The template an accepted draft became."""
    user_id: uuid.UUID | None


EVENT_TYPES: tuple[type[Event], ...] = (
    SessionCreated,
    FixSuggested,
    FixDecided,
    SessionResolved,
    SessionEscalated,
    NotePosted,
    NotePostFailed,
    StatusVerificationFailed,
    TemplateCreated,
    DraftTemplateDecided,
)


# -- delivery -----------------------------------------------------------------------------

DISPATCHER_KEY = "flowpilot.event_dispatcher"
_PENDING_KEY = "flowpilot.pending_events"
_COMMITTED_KEY = "flowpilot.committed_events"


async def await_me_maybe(value: Any) -> Any:
    """A hook's result normalised: a callable is called, an awaitable awaited (datasette's helper)."""
    if callable(value):
        value = value()
    if inspect.isawaitable(value):
        value = await value
    return value


@dataclass
class EventDispatcher:
    """Delivers events to every plugin's ``track_event`` hook, one plugin at a time."""

    manager: pluggy.PluginManager

    async def deliver(self, events: Iterable[Event]) -> None:
        impls = self.manager.hook.track_event.get_hookimpls()
        for event in events:
            for impl in impls:
                # One plugin at a time, not pluggy's loop over all: a plugin's failure is
                # attributed to it and cannot keep the event from the others.
                try:
                    await await_me_maybe(call_impl(self.manager, "track_event", impl, event=event))
                except Exception:
                    log.exception("plugin %r failed handling event %s", impl.plugin_name, event.name)


def emit(db: AsyncSession, event: Event) -> None:
    """Queue ``event`` on ``db``'s current transaction; it is delivered only if that transaction commits."""
    sync = db.sync_session
    transaction = sync.get_nested_transaction() or sync.get_transaction()
    sync.info.setdefault(_PENDING_KEY, []).append((transaction, event))


async def dispatch_committed(db: AsyncSession) -> None:
    """Deliver the events of ``db``'s committed transactions. Call after the commit succeeded.

    Without a dispatcher on the session (a sessionmaker made without one) the events are
    dropped: nothing is listening.
    """
    committed: list[Event] = db.sync_session.info.pop(_COMMITTED_KEY, [])
    dispatcher: EventDispatcher | None = db.sync_session.info.get(DISPATCHER_KEY)
    if committed and dispatcher is not None:
        await dispatcher.deliver(committed)


def _within(transaction: SessionTransaction | None, ended: SessionTransaction) -> bool:
    """Whether ``transaction`` is ``ended`` or was begun inside it."""
    if transaction is None:  # emitted before any transaction began: it belongs to the outermost one
        return ended.parent is None
    node: SessionTransaction | None = transaction
    while node is not None:
        if node is ended:
            return True
        node = node.parent
    return False


@sa_event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    """What a rolled-back transaction or savepoint announced did not happen: forget it."""
    pending = session.info.get(_PENDING_KEY)
    if pending:
        pending[:] = [(tx, ev) for tx, ev in pending if not _within(tx, previous_transaction)]


@sa_event.listens_for(Session, "after_commit")
def _mark_committed(session: Session) -> None:
    """The outermost transaction committed: its events are ready for delivery."""
    pending = session.info.pop(_PENDING_KEY, None)
    if pending:
        session.info.setdefault(_COMMITTED_KEY, []).extend(ev for _, ev in pending)
