"""ai_usage.usage_reported: whether the provider reported token usage at all.

Some OpenAI-compatible servers send no ``usage``; their rows keep zero token counts
with ``usage_reported = false`` so reports say "not reported" instead of "0 tokens".

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "ai_usage", sa.Column("usage_reported", sa.Boolean(), server_default=sa.text("true"), nullable=False)
    )


def downgrade() -> None:
    op.drop_column("ai_usage", "usage_reported")
