"""The schema, as SQLAlchemy 2 models. Migrations (``flowpilot_migrations``) are the source of truth
for DDL, RLS policies and grants; these models mirror them for queries.

Every tenant table carries ``account_id`` and is guarded by row-level security on
``app.current_account_id`` (see ``flowpilot_core.db.tenancy``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SESSION_STATUSES = ("open", "resolved", "escalated")
FACT_ORIGINS = ("question", "check", "manual", "ai_synthesis")
MESSAGE_ORIGINS = ("chat", "lane")
FIX_STATUSES = ("active", "superseded")
FIX_DECISIONS = ("one_off", "draft_template", "build_template", "dismissed")
DRAFT_STATUSES = ("pending", "accepted", "rejected")
EMPTY_TASK_LANE: dict[str, list[Any]] = {"questions": [], "checks": [], "actions": []}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSONB, list[Any]: JSONB}


def _uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()"))


def _account_fk() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False)


def _created() -> Mapped[datetime]:
    # clock_timestamp(), not now(): rows written in one transaction (several facts of one reply) keep their order.
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=text("clock_timestamp()"))


def _updated() -> Mapped[datetime]:
    return mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("clock_timestamp()"), onupdate=text("now()")
    )


class Account(Base):
    """An MSP (tenant). Its row is visible only to itself (RLS on ``id``)."""

    __tablename__ = "accounts"
    id: Mapped[uuid.UUID] = _uuid_pk()
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    embed_secret_encrypted: Mapped[str] = mapped_column(Text, nullable=False)
    allowed_origins: Mapped[list[Any]] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class User(Base):
    """A technician, created on first sight from a valid embed token's claims."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("account_id", "external_id", name="uq_users_account_external"),)
    id: Mapped[uuid.UUID] = _uuid_pk()
    account_id: Mapped[uuid.UUID] = _account_fk()
    external_id: Mapped[str] = mapped_column(String(200), nullable=False)
    display_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = _created()
    last_seen_at: Mapped[datetime] = _created()


class ApiKey(Base):
    """A server-to-server credential. Only its SHA-256 is stored; ``prefix`` is shown to identify it."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_account", "account_id"),)
    id: Mapped[uuid.UUID] = _uuid_pk()
    account_id: Mapped[uuid.UUID] = _account_fk()
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    prefix: Mapped[str] = mapped_column(String(40), nullable=False)
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = _created()
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PsaConnection(Base):
    """A PSA the account posts to; ``config_encrypted`` holds credentials encrypted with the secret key."""

    __tablename__ = "psa_connections"
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_psa_connections_account_name"),)
    id: Mapped[uuid.UUID] = _uuid_pk()
    account_id: Mapped[uuid.UUID] = _account_fk()
    provider: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    config_encrypted: Mapped[str] = mapped_column(Text, nullable=False)
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


WRITEBACK_KINDS = ("resolution", "escalation")
WRITEBACK_STATES = ("pending", "posted", "done", "status_unverified", "local")


class Writeback(Base):
    """One confirm-and-post of a resolution note or escalation package: recorded before anything is posted."""

    __tablename__ = "writebacks"
    __table_args__ = (
        UniqueConstraint("session_id", "idempotency_key", name="uq_writebacks_session_key"),
        CheckConstraint(_in("kind", WRITEBACK_KINDS), name="ck_writebacks_kind"),
        CheckConstraint(_in("state", WRITEBACK_STATES), name="ck_writebacks_state"),
        Index("ix_writebacks_state", "state"),
    )
    id: Mapped[uuid.UUID] = _uuid_pk()
    account_id: Mapped[uuid.UUID] = _account_fk()
    session_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("ai_sessions.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    idempotency_key: Mapped[str] = mapped_column(String(100), nullable=False)
    state: Mapped[str] = mapped_column(String(20), nullable=False, server_default=text("'pending'"))
    marker: Mapped[str] = mapped_column(String(100), nullable=False)
    markdown: Mapped[str] = mapped_column(Text, nullable=False)
    generated_markdown: Mapped[str] = mapped_column(Text, nullable=False)
    edit_distance: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    connection_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("psa_connections.id", ondelete="SET NULL")
    )
    ticket_ref: Mapped[str | None] = mapped_column(String(200))
    provider: Mapped[str | None] = mapped_column(String(64))
    """The PSA provider the note goes to (``local``: FlowPilot's own record, nothing leaves)."""
    external_note_id: Mapped[str | None] = mapped_column(String(200))
    status_before: Mapped[str | None] = mapped_column(String(200))
    status_expected: Mapped[str | None] = mapped_column(String(200))
    status_after: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    error: Mapped[str | None] = mapped_column(Text)
    posted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


LOCAL_TICKET_STATUSES = ("new", "in_progress", "escalated", "resolved")
LOCAL_NOTE_KINDS = ("resolution", "escalation", "internal")


class LocalTicket(Base):
    """A ticket of the built-in ``local`` PSA: FlowPilot's own record (a session without a PSA ticket gets one)."""

    __tablename__ = "local_tickets"
    __table_args__ = (
        UniqueConstraint("session_id", name="uq_local_tickets_session"),
        CheckConstraint(_in("status_id", LOCAL_TICKET_STATUSES), name="ck_local_tickets_status"),
    )
    id: Mapped[uuid.UUID] = _uuid_pk()
    account_id: Mapped[uuid.UUID] = _account_fk()
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("ai_sessions.id", ondelete="CASCADE")
    )
    summary: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    status_id: Mapped[str] = mapped_column(String(20), nullable=False, server_default=text("'in_progress'"))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class LocalTicketNote(Base):
    """A note on a ``local`` ticket."""

    __tablename__ = "local_ticket_notes"
    __table_args__ = (
        CheckConstraint(_in("kind", LOCAL_NOTE_KINDS), name="ck_local_ticket_notes_kind"),
        Index("ix_local_ticket_notes_ticket", "ticket_id", "created_at"),
    )
    id: Mapped[uuid.UUID] = _uuid_pk()
    account_id: Mapped[uuid.UUID] = _account_fk()
    ticket_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("local_tickets.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    internal: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    created_at: Mapped[datetime] = _created()
    text: Mapped[str] = mapped_column(Text, nullable=False)  # last: it shadows sqlalchemy's text() in this body


class McpServer(Base):
    """An account-level MCP server offered to AI services whose MCP flag allows it."""

    __tablename__ = "mcp_servers"
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_mcp_servers_account_name"),)
    id: Mapped[uuid.UUID] = _uuid_pk()
    account_id: Mapped[uuid.UUID] = _account_fk()
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    url: Mapped[str] = mapped_column(Text, nullable=False)
    credentials_encrypted: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    created_at: Mapped[datetime] = _created()


SEARCH_DOCUMENT_SQL = (
    "to_tsvector('simple'::regconfig, regexp_replace(title || ' ' || problem_statement || ' ' "
    "|| coalesce(ticket_ref, '') || ' ' || coalesce(ticket_snapshot ->> 'summary', ''), '[^[:alnum:]]+', ' ', 'g'))"
)
"""What the session list's ``q`` searches (``ai_sessions.search_vector``): title, problem, ticket reference and
summary. Words are runs of letters and digits (``WS-01`` is ``ws`` and ``01``, as
:func:`flowpilot_core.sessions.lifecycle.search_words` splits ``q``); ``simple``: no language's stemming or
stop words, as titles mix languages, host names and ticket numbers."""


class AiSession(Base):
    """A FlowPilot troubleshooting session (``session_type`` kept for compatibility)."""

    __tablename__ = "ai_sessions"
    __table_args__ = (
        CheckConstraint(_in("status", SESSION_STATUSES), name="ck_ai_sessions_status"),
        # The list's order (updated_at DESC, id DESC), per account and per account and status (migration 0008).
        Index("ix_ai_sessions_account_updated", "account_id", text("updated_at DESC"), text("id DESC")),
        Index("ix_ai_sessions_account_status_recent", "account_id", "status", text("updated_at DESC"), text("id DESC")),
        Index("ix_ai_sessions_account_ticket", "account_id", "psa_provider", "ticket_ref"),
    )
    id: Mapped[uuid.UUID] = _uuid_pk()
    account_id: Mapped[uuid.UUID] = _account_fk()
    owner_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    session_type: Mapped[str] = mapped_column(String(40), nullable=False, server_default=text("'chat'"))
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    problem_statement: Mapped[str] = mapped_column(Text, nullable=False)
    ticket_snapshot: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default=text("'open'"))
    psa_provider: Mapped[str | None] = mapped_column(String(64))
    psa_connection_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("psa_connections.id", ondelete="SET NULL")
    )
    ticket_ref: Mapped[str | None] = mapped_column(String(200))
    pending_task_lane: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("""'{"questions": [], "checks": [], "actions": []}'::jsonb""")
    )
    state_version: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    resolution_note_markdown: Mapped[str | None] = mapped_column(Text)
    resolution_note_posted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolution_note_post_result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    resolution_note_external_id: Mapped[str | None] = mapped_column(String(200))
    escalation_package_markdown: Mapped[str | None] = mapped_column(Text)
    escalation_package_posted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    escalation_package_post_result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    escalation_package_external_id: Mapped[str | None] = mapped_column(String(200))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    search_vector: Mapped[Any] = mapped_column(TSVECTOR, Computed(SEARCH_DOCUMENT_SQL, persisted=True), deferred=True)
    """:data:`SEARCH_DOCUMENT_SQL`, kept by PostgreSQL (a stored generated column: a search tests each candidate
    row without recomputing it); never loaded with the row."""

    @property
    def ticket(self) -> dict[str, Any]:
        """The ticket snapshot under the name the API uses."""
        return dict(self.ticket_snapshot or {})


class SessionSearchWord(Base):
    """One word of a session's search document (a lexeme of ``AiSession.search_vector``), kept by triggers on
    ``ai_sessions`` (migration 0009). ``word`` is in the "C" collation: a prefix is a btree range that row-level
    security lets the index answer, so a search finds a rare word's few sessions without walking the account."""

    __tablename__ = "session_search_words"
    __table_args__ = (Index("ix_session_search_words_session", "session_id"),)
    account_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    word: Mapped[str] = mapped_column(Text(collation="C"), primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("ai_sessions.id", ondelete="CASCADE"), primary_key=True
    )


class AiMessage(Base):
    """One turn of a session's transcript, in order (``seq``)."""

    __tablename__ = "ai_messages"
    __table_args__ = (
        UniqueConstraint("session_id", "seq", name="uq_ai_messages_session_seq"),
        UniqueConstraint("session_id", "client_message_id", name="uq_ai_messages_client_id"),
        CheckConstraint("role IN ('user', 'assistant')", name="ck_ai_messages_role"),
        CheckConstraint(_in("origin", MESSAGE_ORIGINS), name="ck_ai_messages_origin"),
        Index("ix_ai_messages_session_turn", "session_id", "turn_seq", "seq"),
        Index("ix_ai_messages_reply_to", "reply_to_id"),
    )
    id: Mapped[uuid.UUID] = _uuid_pk()
    account_id: Mapped[uuid.UUID] = _account_fk()
    session_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("ai_sessions.id", ondelete="CASCADE"), nullable=False
    )
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    """Arrival order; unique per session."""
    turn_seq: Mapped[int] = mapped_column(Integer, nullable=False)
    """Transcript order: a technician message's own ``seq``; a reply's is the ``seq`` of the message it answers,
    so a reply that finishes late (a retry) still reads directly after its message."""
    origin: Mapped[str] = mapped_column(String(20), nullable=False, server_default=text("'chat'"))
    """``chat``: typed by the technician or written by the model; ``lane``: written by FlowPilot to continue the
    conversation after the technician answered in the task lane."""
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    display_content: Mapped[str | None] = mapped_column(Text)
    markers: Mapped[list[Any]] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    client_message_id: Mapped[str | None] = mapped_column(String(100))
    reply_to_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("ai_messages.id", ondelete="SET NULL")
    )
    author_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default=text("'complete'"))
    created_at: Mapped[datetime] = _created()


class SessionFact(Base):
    """Something confirmed about the problem ("What We Know")."""

    __tablename__ = "session_facts"
    __table_args__ = (
        CheckConstraint(_in("origin", FACT_ORIGINS), name="ck_session_facts_origin"),
        Index("ix_session_facts_session", "session_id"),
        Index(
            "uq_session_facts_live_source",
            "session_id",
            "source_ref",
            unique=True,
            postgresql_where=text("deleted_at IS NULL AND source_ref IS NOT NULL"),
        ),
    )
    id: Mapped[uuid.UUID] = _uuid_pk()
    account_id: Mapped[uuid.UUID] = _account_fk()
    session_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("ai_sessions.id", ondelete="CASCADE"), nullable=False
    )
    text: Mapped[str] = mapped_column(Text, nullable=False)
    origin: Mapped[str] = mapped_column(String(20), nullable=False)
    source_ref: Mapped[str | None] = mapped_column(String(200))
    editable: Mapped[bool] = mapped_column(Boolean, nullable=False)
    author_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    updated_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    """Who last edited the text (``None`` until someone edits it)."""
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class SessionSuggestedFix(Base):
    """A fix the AI proposed; one active per session, earlier ones superseded."""

    __tablename__ = "session_suggested_fixes"
    __table_args__ = (
        CheckConstraint(_in("status", FIX_STATUSES), name="ck_fixes_status"),
        CheckConstraint(f"user_decision IS NULL OR {_in('user_decision', FIX_DECISIONS)}", name="ck_fixes_decision"),
        Index(
            "uq_fixes_one_active",
            "session_id",
            unique=True,
            postgresql_where=text("status = 'active'"),
        ),
    )
    id: Mapped[uuid.UUID] = _uuid_pk()
    account_id: Mapped[uuid.UUID] = _account_fk()
    session_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("ai_sessions.id", ondelete="CASCADE"), nullable=False
    )
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    root_cause: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default=text("'active'"))
    superseded_by_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("session_suggested_fixes.id", ondelete="SET NULL")
    )
    user_decision: Mapped[str | None] = mapped_column(String(20))
    decided_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    source_message_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("ai_messages.id", ondelete="SET NULL")
    )
    fact_ids: Mapped[list[Any]] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    """Ids of the live facts the fix rests on, when it was proposed."""
    created_at: Mapped[datetime] = _created()


class ScriptTemplate(Base):
    """A parameterised script (Jinja2 sandboxed body + parameter schema), with provenance."""

    __tablename__ = "script_templates"
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_script_templates_account_name"),)
    id: Mapped[uuid.UUID] = _uuid_pk()
    account_id: Mapped[uuid.UUID] = _account_fk()
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("''"))
    language: Mapped[str] = mapped_column(String(40), nullable=False, server_default=text("'powershell'"))
    body: Mapped[str] = mapped_column(Text, nullable=False)
    parameter_schema: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    tags: Mapped[list[Any]] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    source_session_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("ai_sessions.id", ondelete="SET NULL")
    )
    source_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    source_ticket_ref: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


SCRIPT_PATHS = ("template", "one_off", "draft_template")


class ScriptGeneration(Base):
    """A script generated in (or outside) a session; ``ai_session_id`` links it back.

    ``script`` and ``parameters`` are stored with every sensitive value redacted: the script
    in clear is returned to the technician once, when it is generated.
    """

    __tablename__ = "script_generations"
    __table_args__ = (
        Index("ix_script_generations_session", "ai_session_id"),
        CheckConstraint(_in("path", SCRIPT_PATHS), name="ck_script_generations_path"),
    )
    id: Mapped[uuid.UUID] = _uuid_pk()
    account_id: Mapped[uuid.UUID] = _account_fk()
    ai_session_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("ai_sessions.id", ondelete="SET NULL")
    )
    template_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("script_templates.id", ondelete="SET NULL")
    )
    suggested_fix_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("session_suggested_fixes.id", ondelete="SET NULL")
    )
    path: Mapped[str] = mapped_column(String(40), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False, server_default=text("''"))
    language: Mapped[str] = mapped_column(String(40), nullable=False, server_default=text("'powershell'"))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    script: Mapped[str] = mapped_column(Text, nullable=False)
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = _created()


class DraftTemplate(Base):
    """A proposed template from a one-off script, awaiting the post-resolve templatize prompt."""

    __tablename__ = "draft_templates"
    __table_args__ = (
        CheckConstraint(_in("status", DRAFT_STATUSES), name="ck_draft_templates_status"),
        Index("ix_draft_templates_account_status", "account_id", "status"),
    )
    id: Mapped[uuid.UUID] = _uuid_pk()
    account_id: Mapped[uuid.UUID] = _account_fk()
    session_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("ai_sessions.id", ondelete="CASCADE"), nullable=False
    )
    suggested_fix_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("session_suggested_fixes.id", ondelete="SET NULL")
    )
    script_generation_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("script_generations.id", ondelete="SET NULL")
    )
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("''"))
    language: Mapped[str] = mapped_column(String(40), nullable=False, server_default=text("'powershell'"))
    body: Mapped[str] = mapped_column(Text, nullable=False)
    parameter_schema: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default=text("'pending'"))
    template_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("script_templates.id", ondelete="SET NULL")
    )
    decided_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _created()


class AccountSettings(Base):
    """One lazy row per account; preferences graduate to typed columns when they need constraints."""

    __tablename__ = "account_settings"
    account_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    preferences: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    DEFAULTS: Any = {"templatize_prompt_enabled": True, "auto_continue_enabled": True}

    def get_setting(self, key: str, default: Any = None) -> Any:
        """The preference ``key``; else the documented default; else ``default``."""
        if key in (self.preferences or {}):
            return self.preferences[key]
        return self.DEFAULTS.get(key, default)


class AiUsage(Base):
    """One row per AI call: who, which service and model, the four token counts, cost."""

    __tablename__ = "ai_usage"
    __table_args__ = (Index("ix_ai_usage_account_created", "account_id", "created_at"),)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    account_id: Mapped[uuid.UUID] = _account_fk()
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("ai_sessions.id", ondelete="SET NULL")
    )
    service: Mapped[str] = mapped_column(String(64), nullable=False)
    provider: Mapped[str] = mapped_column(String(64), nullable=False)
    model: Mapped[str] = mapped_column(String(128), nullable=False)
    input_tokens: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    cache_creation_input_tokens: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    cache_creation_5m_input_tokens: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    cache_creation_1h_input_tokens: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    cache_read_input_tokens: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    output_tokens: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    estimated: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    usage_reported: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    """False when the provider reported no usage: the token counts are unknown, not zero."""
    latency_ms: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(14, 6), nullable=False, server_default=text("0"))
    uncached_cost_usd: Mapped[Decimal] = mapped_column(Numeric(14, 6), nullable=False, server_default=text("0"))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
