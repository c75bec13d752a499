"""The session search's word index: each session's words (the lexemes of ``ai_sessions.search_vector``), per account.

``q=`` tests ``search_vector @@ to_tsquery(...)``, an operator PostgreSQL evaluates only after the tenant policy
(it is not leakproof), so no index on the vector serves the application role: a term few sessions have cost a
walk of the whole account (7 ms at 10,000 sessions, growing with the account). This table holds the same words as
rows, ``word`` in the "C" collation, so that a word's prefix is a btree range whose comparisons (``text_ge``,
``text_lt``) are leakproof and run inside the index under row-level security. The session list looks a query's
rarest word up here first and tests only those sessions (``flowpilot_core.sessions.lifecycle``).

Kept by triggers on ``ai_sessions`` (insert, and an update that changes the vector), as the writing role, so the
tenant policy applies to the words as to the session. Existing sessions are copied once, below.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from flowpilot_migrations.tenancy import enable_tenancy

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COPY_WORDS = (
    "INSERT INTO session_search_words (account_id, word, session_id) "
    "SELECT s.account_id, lexeme, s.id FROM ai_sessions AS s, unnest(tsvector_to_array(s.search_vector)) AS lexeme"
)

SYNC_FUNCTION = """
CREATE FUNCTION session_search_words_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM session_search_words WHERE session_id = NEW.id;
    END IF;
    INSERT INTO session_search_words (account_id, word, session_id)
    SELECT NEW.account_id, lexeme, NEW.id FROM unnest(tsvector_to_array(NEW.search_vector)) AS lexeme;
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.create_table(
        "session_search_words",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("word", sa.Text(collation="C"), nullable=False),
        sa.Column("session_id", sa.UUID(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["session_id"], ["ai_sessions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id", "word", "session_id"),
    )
    op.create_index("ix_session_search_words_session", "session_search_words", ["session_id"])
    # The copy reads every account's sessions. An owner that is neither a superuser nor BYPASSRLS is bound by the
    # forced policy, so for it the policy is lifted for this transaction (DDL is transactional: nothing else sees
    # the gap, but reads of ai_sessions wait for the migration to commit); any other owner reads through it.
    op.execute(
        f"""DO $$ BEGIN
            IF (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user) THEN
                {COPY_WORDS};
            ELSE
                ALTER TABLE ai_sessions NO FORCE ROW LEVEL SECURITY;
                {COPY_WORDS};
                ALTER TABLE ai_sessions FORCE ROW LEVEL SECURITY;
            END IF;
        END $$;"""
    )
    enable_tenancy(op, "session_search_words")
    op.execute(SYNC_FUNCTION)
    op.execute(
        "CREATE TRIGGER ai_sessions_search_words_insert AFTER INSERT ON ai_sessions "
        "FOR EACH ROW EXECUTE FUNCTION session_search_words_sync()"
    )
    op.execute(
        "CREATE TRIGGER ai_sessions_search_words_update "
        "AFTER UPDATE OF title, problem_statement, ticket_ref, ticket_snapshot ON ai_sessions FOR EACH ROW "
        "WHEN (OLD.search_vector IS DISTINCT FROM NEW.search_vector) EXECUTE FUNCTION session_search_words_sync()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER ai_sessions_search_words_update ON ai_sessions")
    op.execute("DROP TRIGGER ai_sessions_search_words_insert ON ai_sessions")
    op.execute("DROP FUNCTION session_search_words_sync()")
    op.drop_index("ix_session_search_words_session", table_name="session_search_words")
    op.drop_table("session_search_words")
