"""The built-in ``local`` PSA's record: FlowPilot's own tickets and their notes, and which PSA a writeback went to.

A session without a PSA ticket resolves through the ``local`` provider like any other
writeback: its note and status land in ``local_tickets`` / ``local_ticket_notes``,
tenant-scoped like every other table.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from flowpilot_migrations.tenancy import enable_tenancy

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.text("clock_timestamp()"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "local_tickets",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("session_id", sa.UUID(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status_id", sa.String(length=20), server_default=sa.text("'in_progress'"), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.CheckConstraint(
            "status_id IN ('new', 'in_progress', 'escalated', 'resolved')", name="ck_local_tickets_status"
        ),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["session_id"], ["ai_sessions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", name="uq_local_tickets_session"),
    )
    enable_tenancy(op, "local_tickets")
    op.create_table(
        "local_ticket_notes",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("ticket_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("internal", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        _timestamp("created_at"),
        sa.CheckConstraint("kind IN ('resolution', 'escalation', 'internal')", name="ck_local_ticket_notes_kind"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["ticket_id"], ["local_tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_local_ticket_notes_ticket", "local_ticket_notes", ["ticket_id", "created_at"])
    enable_tenancy(op, "local_ticket_notes")
    op.add_column("writebacks", sa.Column("provider", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("writebacks", "provider")
    op.drop_index("ix_local_ticket_notes_ticket", table_name="local_ticket_notes")
    op.drop_table("local_ticket_notes")
    op.drop_table("local_tickets")
