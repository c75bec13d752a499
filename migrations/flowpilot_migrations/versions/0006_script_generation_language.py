"""Scripts: a generation and a draft template say which language they are in and what they are called.

A one-off script has no template to take its language and name from, and a draft template
becomes a template with a language, a description and tags, so both tables carry them.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("script_generations", "draft_templates"):
        op.add_column(
            table, sa.Column("language", sa.String(40), server_default=sa.text("'powershell'"), nullable=False)
        )
    op.add_column("script_generations", sa.Column("name", sa.String(200), server_default=sa.text("''"), nullable=False))
    op.add_column("draft_templates", sa.Column("description", sa.Text(), server_default=sa.text("''"), nullable=False))
    op.create_check_constraint(
        "ck_script_generations_path", "script_generations", "path IN ('template', 'one_off', 'draft_template')"
    )


def downgrade() -> None:
    op.drop_constraint("ck_script_generations_path", "script_generations", type_="check")
    op.drop_column("draft_templates", "description")
    op.drop_column("script_generations", "name")
    for table in ("script_generations", "draft_templates"):
        op.drop_column(table, "language")
