"""Writebacks: every confirm-and-post recorded before anything reaches a PSA.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from flowpilot_migrations.tenancy import enable_tenancy

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "writebacks",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("session_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("idempotency_key", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=20), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("marker", sa.String(length=100), nullable=False),
        sa.Column("markdown", sa.Text(), nullable=False),
        sa.Column("generated_markdown", sa.Text(), nullable=False),
        sa.Column("edit_distance", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("connection_id", sa.UUID(), nullable=True),
        sa.Column("ticket_ref", sa.String(length=200), nullable=True),
        sa.Column("external_note_id", sa.String(length=200), nullable=True),
        sa.Column("status_before", sa.String(length=200), nullable=True),
        sa.Column("status_expected", sa.String(length=200), nullable=True),
        sa.Column("status_after", sa.String(length=200), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("clock_timestamp()"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("clock_timestamp()"), nullable=False
        ),
        sa.CheckConstraint("kind IN ('resolution', 'escalation')", name="ck_writebacks_kind"),
        sa.CheckConstraint(
            "state IN ('pending', 'posted', 'done', 'status_unverified', 'local')", name="ck_writebacks_state"
        ),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["session_id"], ["ai_sessions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["connection_id"], ["psa_connections.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "idempotency_key", name="uq_writebacks_session_key"),
    )
    op.create_index("ix_writebacks_state", "writebacks", ["state"])
    enable_tenancy(op, "writebacks")


def downgrade() -> None:
    op.drop_index("ix_writebacks_state", table_name="writebacks")
    op.drop_table("writebacks")
