"""Transcript order that survives retries, lane continuations, who edited a fact.

- ``ai_messages.turn_seq``: a reply reads directly after the message it answers, even
  when it finished after a later message (a retried turn); backfilled from ``seq``.
- ``ai_messages.origin``: ``lane`` for the message FlowPilot writes to continue the
  conversation after the technician answered in the task lane.
- ``ai_messages(reply_to_id)`` index: every chat turn looks its reply up by it.
- ``session_facts.updated_by_user_id``: who last edited a fact or note.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("ai_messages", sa.Column("turn_seq", sa.Integer(), nullable=True))
    op.execute(
        """UPDATE ai_messages m SET turn_seq = COALESCE(
               (SELECT u.seq FROM ai_messages u WHERE u.id = m.reply_to_id), m.seq)"""
    )
    op.alter_column("ai_messages", "turn_seq", nullable=False)
    op.add_column(
        "ai_messages", sa.Column("origin", sa.String(length=20), server_default=sa.text("'chat'"), nullable=False)
    )
    op.create_check_constraint("ck_ai_messages_origin", "ai_messages", "origin IN ('chat', 'lane')")
    op.create_index("ix_ai_messages_session_turn", "ai_messages", ["session_id", "turn_seq", "seq"])
    op.create_index("ix_ai_messages_reply_to", "ai_messages", ["reply_to_id"])
    op.add_column("session_facts", sa.Column("updated_by_user_id", sa.UUID(), nullable=True))
    op.create_foreign_key(
        "fk_session_facts_updated_by", "session_facts", "users", ["updated_by_user_id"], ["id"], ondelete="SET NULL"
    )


def downgrade() -> None:
    op.drop_constraint("fk_session_facts_updated_by", "session_facts", type_="foreignkey")
    op.drop_column("session_facts", "updated_by_user_id")
    op.drop_index("ix_ai_messages_reply_to", table_name="ai_messages")
    op.drop_index("ix_ai_messages_session_turn", table_name="ai_messages")
    op.drop_constraint("ck_ai_messages_origin", "ai_messages", type_="check")
    op.drop_column("ai_messages", "origin")
    op.drop_column("ai_messages", "turn_seq")
