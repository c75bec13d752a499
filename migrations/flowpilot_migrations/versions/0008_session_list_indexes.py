"""The session list: indexes for newest first per account (all statuses, and by status); a search document.

The list reads ``ORDER BY updated_at DESC, id DESC`` a page at a time: with these indexes a page is an
index range, however many sessions the account (or the others) holds. ``q=`` searches
``ai_sessions.search_vector``, a stored generated ``tsvector`` (``flowpilot_core.db.models.SEARCH_DOCUMENT_SQL``):
full text, as ``pg_trgm`` is not in every PostgreSQL FlowPilot runs on (the embedded one has no contrib).

No GIN index on it: under row-level security PostgreSQL evaluates a non-leakproof operator such as ``@@``
only after the tenant policy, so the application role's queries could never use one (measured: not even
with index scans disabled). A search walks the account's sessions newest first and tests each stored
vector, which is cheap; a term that matches few of them costs a walk of the account.
Adding the column rewrites ``ai_sessions`` once.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A copy, not an import: a migration must keep meaning what it meant when it ran.
SEARCH_DOCUMENT = (
    "to_tsvector('simple'::regconfig, regexp_replace(title || ' ' || problem_statement || ' ' "
    "|| coalesce(ticket_ref, '') || ' ' || coalesce(ticket_snapshot ->> 'summary', ''), '[^[:alnum:]]+', ' ', 'g'))"
)


def upgrade() -> None:
    op.execute("CREATE INDEX ix_ai_sessions_account_updated ON ai_sessions (account_id, updated_at DESC, id DESC)")
    op.execute(
        "CREATE INDEX ix_ai_sessions_account_status_recent "
        "ON ai_sessions (account_id, status, updated_at DESC, id DESC)"
    )
    op.drop_index("ix_ai_sessions_account_status_updated", table_name="ai_sessions")
    op.execute(
        f"ALTER TABLE ai_sessions ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ({SEARCH_DOCUMENT}) STORED"
    )


def downgrade() -> None:
    op.drop_column("ai_sessions", "search_vector")
    op.create_index("ix_ai_sessions_account_status_updated", "ai_sessions", ["account_id", "status", "updated_at"])
    op.drop_index("ix_ai_sessions_account_status_recent", table_name="ai_sessions")
    op.drop_index("ix_ai_sessions_account_updated", table_name="ai_sessions")
