"""Confirm and post: the technician's note goes to the ticket once, and the ticket's new status is verified.

1. In one transaction, store what will be posted and a ``writebacks`` row (``pending``)
   with an idempotency marker, before anything leaves FlowPilot.
2. Outside any transaction, look for the marker among the ticket's notes; post the note
   (internal) only if it is not there. A retry, or a writeback left ``pending`` by a
   crash, therefore never posts twice.
3. Set the ticket's status to the connection's mapping for the kind, re-read it, and
   re-read it once more after a short delay (PSA workflow rules change statuses).
4. Store the result. The session becomes resolved or escalated only when the note is
   posted and the status verified; otherwise the writeback stays ``status_unverified``,
   the caller gets a problem with the partial result, and a retry with the same key
   re-does only the status.

A session without a PSA ticket goes the same way through the built-in ``local`` provider
(:mod:`flowpilot_core.psa.local`): the note and the status land on the session's ticket in
FlowPilot's own record (made on first use, or the local ticket a session with
``psa_provider="local"`` names), nothing is posted to a PSA, and the result says so (state
``local``, ``posted_to_psa`` false; no ``NotePosted`` event, which is about PSAs).
"""

from __future__ import annotations

import asyncio
import difflib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core.accounts import Principal
from flowpilot_core.db.engine import tenant_session
from flowpilot_core.db.models import AiSession, Writeback
from flowpilot_core.errors import Conflict, FlowPilotError, NotFound
from flowpilot_core.events import (
    NotePosted,
    NotePostFailed,
    SessionEscalated,
    SessionResolved,
    StatusVerificationFailed,
    emit,
)
from flowpilot_core.hookspecs import PsaProviderFactory
from flowpilot_core.previews import PreviewService
from flowpilot_core.psa import PSAError, PSAProvider, StatusMapping, local
from flowpilot_core.psa.connections import connection_for, get_connection_row, open_provider
from flowpilot_core.psa.provider import PsaContext
from flowpilot_core.psa.statuses import choose_status
from flowpilot_core.sessions.lifecycle import get_session_row

WritebackKind = Literal["resolution", "escalation"]
PREVIEW_OF: dict[str, Literal["resolution_note", "escalation_package"]] = {
    "resolution": "resolution_note",
    "escalation": "escalation_package",
}
MAX_NOTE_CHARS = 60_000
IDEMPOTENCY_KEY = "^[A-Za-z0-9_.:-]+$"


class PostNote(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``POST .../resolution-note/post`` and ``.../escalation-package/post``."""

    markdown: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NOTE_CHARS)]
    """The note as the technician edited it."""
    state_version: int
    """The ``state_version`` of the preview the technician edited; a newer state is a 409 (review it first)."""
    idempotency_key: Annotated[str, msgspec.Meta(min_length=8, max_length=100, pattern=IDEMPOTENCY_KEY)]
    """Any unique string per confirmation; a retry with the same key never posts a second note."""


class WritebackResult(msgspec.Struct):
    id: uuid.UUID
    kind: WritebackKind
    state: Literal["pending", "posted", "done", "status_unverified", "local"]
    """``done``: posted and verified; ``local``: done on FlowPilot's own record, without a PSA;
    ``status_unverified``: the note is on the ticket but its status did not read back as set (retry with the
    same key)."""
    ticket_ref: str | None
    """The ticket the note went to (for ``local``, the session's ticket in FlowPilot's own record)."""
    external_note_id: str | None
    """The note's id on that ticket."""
    status_before: str | None
    status_expected: str | None
    status_after: str | None
    attempts: int
    error: str | None
    posted_at: datetime | None
    verified_at: datetime | None
    edit_distance: int
    """Lines the technician changed, added or removed in FlowPilot's preview before posting."""
    posted_to_psa: bool = False
    """The note is on a PSA ticket (never for ``local``)."""
    provider: str | None = None
    """The PSA provider the note went to: ``local`` is FlowPilot's own record."""


class StatusNotVerified(FlowPilotError):
    """The note reached the ticket, but the ticket's status did not read back as set."""

    status = 502
    title = "Ticket status not verified"

    def __init__(self, detail: str, result: WritebackResult) -> None:
        super().__init__(detail)
        self.extra = {"writeback": msgspec.to_builtins(result), "retryable": True}


def result_out(row: Writeback) -> WritebackResult:
    result = msgspec.convert(row, WritebackResult, from_attributes=True, strict=False)
    posted = row.external_note_id is not None and row.provider != local.PROVIDER_NAME
    return msgspec.structs.replace(result, posted_to_psa=posted)


async def get_writeback(db: AsyncSession, principal: Principal, session_id: uuid.UUID, key: str) -> WritebackResult:
    """Where one confirmation stands, readable while its POST runs: ``pending`` (posting the note), ``posted``
    (the note is on the ticket; setting and verifying the status), then its end state."""
    await get_session_row(db, principal, session_id)  # another account's session reads as none
    query = select(Writeback).where(
        Writeback.account_id == principal.account_id,
        Writeback.session_id == session_id,
        Writeback.idempotency_key == key,
    )
    row = (await db.execute(query)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"session {session_id} has no confirmation with idempotency key {key!r}")
    return result_out(row)


def line_edit_distance(generated: str, posted: str) -> int:
    """How many lines were changed, added or removed between the preview and what was posted."""
    matcher = difflib.SequenceMatcher(a=generated.splitlines(), b=posted.splitlines(), autojunk=False)
    return sum(max(i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in matcher.get_opcodes() if op != "equal")


@dataclass(frozen=True)
class _Work:
    writeback_id: uuid.UUID
    kind: WritebackKind
    ref: str
    marker: str
    text: str
    provider: str
    connection_id: uuid.UUID | None
    """``None`` for ``local``, which needs no connection."""
    note_id: str | None

    @property
    def local(self) -> bool:
        return self.provider == local.PROVIDER_NAME


class WritebackService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        previews: PreviewService,
        psa_providers: Mapping[str, PsaProviderFactory],
        secret_key: str,
        *,
        verify_delay: float = 2.0,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.previews = previews
        self.psa_providers = psa_providers
        self.secret_key = secret_key
        self.verify_delay = verify_delay

    async def post(
        self, principal: Principal, session_id: uuid.UUID, kind: WritebackKind, request: PostNote
    ) -> WritebackResult:
        async with tenant_session(self.sessionmaker, principal.account_id) as db:
            session = await get_session_row(db, principal, session_id, lock=True)
            row = await self._writeback(db, session_id, request.idempotency_key)
            if row is not None and row.state in ("done", "local"):
                return result_out(row)  # a retry of a finished confirmation: nothing is posted again
            if session.status != "open":
                raise Conflict(f"this session is {session.status} already")
            if row is None:
                row = await self._record(db, principal, session, kind, request)
            work = await self._work(db, principal, session, row)
        return await self._deliver(principal, session_id, work)

    async def resume(self, principal: Principal, writeback_id: uuid.UUID) -> WritebackResult:
        """Finish a writeback that a crash left ``pending`` or ``posted``: its marker decides whether the note
        is on the ticket already, so it ends with exactly one note. A finished one is returned as it is."""
        async with tenant_session(self.sessionmaker, principal.account_id) as db:
            row = await db.get(Writeback, writeback_id, with_for_update=True)
            if row is None:
                raise NotFound(f"writeback {writeback_id} not found")
            session = await get_session_row(db, principal, row.session_id, lock=True)
            if row.state not in ("pending", "posted") or session.status != "open":
                return result_out(row)
            work = await self._work(db, principal, session, row)
        return await self._deliver(principal, row.session_id, work)

    async def _deliver(self, principal: Principal, session_id: uuid.UUID, work: _Work) -> WritebackResult:
        provider, statuses = await self._provider(principal, work)
        try:
            note_id = work.note_id or await self._post_note(principal, session_id, provider, work)
            return await self._set_and_verify(principal, session_id, provider, statuses, work, note_id)
        finally:
            await provider.aclose()

    async def _writeback(self, db: AsyncSession, session_id: uuid.UUID, key: str) -> Writeback | None:
        query = select(Writeback).where(Writeback.session_id == session_id, Writeback.idempotency_key == key)
        return (await db.execute(query.with_for_update())).scalar_one_or_none()

    async def _record(
        self, db: AsyncSession, principal: Principal, session: AiSession, kind: WritebackKind, request: PostNote
    ) -> Writeback:
        if request.state_version != session.state_version:
            raise Conflict(
                f"the session changed since this preview (state_version {request.state_version}, now "
                f"{session.state_version}): review the new preview before posting",
                field="state_version",
            )
        generated = await self.previews.preview(db, principal, session.id, PREVIEW_OF[kind])
        writeback_id = uuid.uuid4()
        row = Writeback(
            id=writeback_id,
            account_id=principal.account_id,
            session_id=session.id,
            kind=kind,
            idempotency_key=request.idempotency_key,
            marker=f"[FlowPilot {kind} {writeback_id}]",
            markdown=request.markdown,
            generated_markdown=generated.markdown,
            edit_distance=line_edit_distance(generated.markdown, request.markdown),
            ticket_ref=session.ticket_ref,
        )
        db.add(row)
        await db.flush()
        return row

    async def _work(self, db: AsyncSession, principal: Principal, session: AiSession, row: Writeback) -> _Work:
        if not session.ticket_ref or session.psa_provider == local.PROVIDER_NAME:
            # No PSA ticket: the session's own ticket in FlowPilot's record (or the local ticket it names).
            ref = session.ticket_ref or await local.ticket_for_session(db, session)
            row.provider, row.ticket_ref = local.PROVIDER_NAME, ref
            row.attempts += 1
            await db.flush()
            return _Work(row.id, row.kind, ref, row.marker, self._text(row), local.PROVIDER_NAME, None,  # type: ignore[arg-type]
                         row.external_note_id)  # fmt: skip
        connection = (
            await get_connection_row(db, principal.account_id, row.connection_id)
            if row.connection_id
            else await connection_for(
                db, principal.account_id, connection_id=session.psa_connection_id, provider=session.psa_provider
            )
        )
        if connection is None:
            raise Conflict(
                f"this session's ticket {session.ticket_ref} is in {session.psa_provider or 'a PSA'}, but the account "
                "has no PSA connection for it: add one (POST /api/v1/psa-connections)"
            )
        row.connection_id, row.provider = connection.id, connection.provider
        row.attempts += 1
        await db.flush()
        return _Work(row.id, row.kind, session.ticket_ref, row.marker, self._text(row), connection.provider,  # type: ignore[arg-type]
                     connection.id, row.external_note_id)  # fmt: skip

    @staticmethod
    def _text(row: Writeback) -> str:
        return f"{row.markdown.rstrip()}\n\n{row.marker}"

    async def _provider(self, principal: Principal, work: _Work) -> tuple[PSAProvider, StatusMapping]:
        if work.local:
            factory: Any = self.psa_providers.get(local.PROVIDER_NAME)
            if factory is None:
                raise Conflict(
                    "this session has no PSA ticket, and the built-in 'local' PSA provider that resolves it in "
                    "FlowPilot's own record is not loaded (load FlowPilot's built-in plugins)"
                )
            context = PsaContext(account_id=principal.account_id, sessionmaker=self.sessionmaker)
            return factory({}, context=context), local.STATUS_MAPPING
        assert work.connection_id is not None
        async with tenant_session(self.sessionmaker, principal.account_id) as db:
            connection = await get_connection_row(db, principal.account_id, work.connection_id)
            return open_provider(connection, self.secret_key, self.psa_providers)

    async def _post_note(self, principal: Principal, session_id: uuid.UUID, provider: PSAProvider, work: _Work) -> str:
        try:
            existing = next((n for n in await provider.list_notes(work.ref) if work.marker in n.text), None)
            note = existing or await provider.post_note(work.ref, work.text, kind=work.kind, internal=True)
        except PSAError as exc:
            await self._failed(principal, session_id, work, exc)
            raise
        async with tenant_session(self.sessionmaker, principal.account_id) as db:
            row = await db.get(Writeback, work.writeback_id, with_for_update=True)
            assert row is not None
            row.state, row.external_note_id, row.posted_at, row.error = "posted", note.id, datetime.now(UTC), None
            if not work.local:
                emit(db, NotePosted(account_id=principal.account_id, session_id=session_id, provider=work.provider,
                                    ticket_ref=work.ref, kind=work.kind, external_id=note.id))
        return note.id

    async def _failed(self, principal: Principal, session_id: uuid.UUID, work: _Work, exc: PSAError) -> None:
        async with tenant_session(self.sessionmaker, principal.account_id) as db:
            row = await db.get(Writeback, work.writeback_id, with_for_update=True)
            assert row is not None
            row.error = exc.detail
            if not work.local:
                emit(db, NotePostFailed(account_id=principal.account_id, session_id=session_id, provider=work.provider,
                                        ticket_ref=work.ref, kind=work.kind, error=exc.detail))

    async def _set_and_verify(
        self,
        principal: Principal,
        session_id: uuid.UUID,
        provider: PSAProvider,
        statuses: StatusMapping,
        work: _Work,
        note_id: str,
    ) -> WritebackResult:
        wanted = statuses.resolved if work.kind == "resolution" else statuses.escalated
        before = after = expected = None
        error: str | None = None
        if wanted is not None:
            try:
                listed = await provider.list_statuses(work.ref)
                choice = await choose_status(provider, work.ref, wanted, listed, resolving=work.kind == "resolution")
                expected = choice.status
                before = await provider.get_status(work.ref)
                if before.id != expected.id:
                    await provider.set_status(work.ref, expected.id)
                after = await provider.get_status(work.ref)
                if after.id == expected.id and self.verify_delay and not work.local:  # local: no workflow rules
                    await asyncio.sleep(self.verify_delay)  # a workflow rule may change it right after
                    after = await provider.get_status(work.ref)
            except PSAError as exc:
                after, error = None, exc.detail
        verified = wanted is None or (after is not None and expected is not None and after.id == expected.id)
        async with tenant_session(self.sessionmaker, principal.account_id) as db:
            session = await get_session_row(db, principal, session_id, lock=True)
            row = await db.get(Writeback, work.writeback_id, with_for_update=True)
            assert row is not None
            row.status_before = before.name if before else row.status_before
            row.status_expected = expected.name if expected else None
            row.status_after = after.name if after else None
            row.error = None if verified else (error or f"the ticket shows {row.status_after!r}")
            if verified:
                row.state, row.verified_at = ("local" if work.local else "done"), datetime.now(UTC)
                self._close_session(session, row, note_id=None if work.local else note_id)
                event = SessionResolved if work.kind == "resolution" else SessionEscalated
                emit(db, event(account_id=principal.account_id, session_id=session_id, user_id=principal.user_id,
                               posted_to_psa=not work.local))
            else:
                row.state = "status_unverified"
            if not verified and not work.local:
                emit(db, StatusVerificationFailed(
                    account_id=principal.account_id, session_id=session_id, provider=work.provider,
                    ticket_ref=work.ref, expected_status=row.status_expected or "", actual_status=row.status_after,
                ))
            await db.flush()
            await db.refresh(row)
            result = result_out(row)
        if not verified:
            shows = f"still shows {result.status_after!r}" if result.status_after else "could not be read back"
            raise StatusNotVerified(
                f"Note posted as #{note_id}; the ticket {shows}, not {result.status_expected!r}. "
                "Retry the status: the note will not be posted again.",
                result,
            )
        return result

    @staticmethod
    def _close_session(session: AiSession, row: Writeback, *, note_id: str | None) -> None:
        now = datetime.now(UTC)
        summary: dict[str, Any] = {"writeback_id": str(row.id), "state": row.state, "status_after": row.status_after}
        if row.kind == "resolution":
            session.status, session.resolved_at = "resolved", now
            session.resolution_note_markdown, session.resolution_note_posted_at = row.markdown, now
            session.resolution_note_external_id, session.resolution_note_post_result = note_id, summary
        else:
            session.status, session.escalated_at = "escalated", now
            session.escalation_package_markdown, session.escalation_package_posted_at = row.markdown, now
            session.escalation_package_external_id, session.escalation_package_post_result = note_id, summary
        if row.status_after:  # the ticket as the PSA now reads it, not as it was when the session opened
            session.ticket_snapshot = {**(session.ticket_snapshot or {}), "status": row.status_after}
        session.updated_at = now
