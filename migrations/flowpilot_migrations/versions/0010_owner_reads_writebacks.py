"""The owner reads every account's writebacks: start-up reconciliation works with an owner that is no superuser.

At start-up a replica looks, with the owner connection, for writebacks a crash left half-way, across accounts
(``flowpilot_core.writeback.reconcile``). Every tenant table forces row-level security, which binds the owner
too; with only the tenant policy, an owner that neither is a superuser nor has ``BYPASSRLS`` (a managed
PostgreSQL's usual owner) saw no writeback, and an abandoned one stayed unfinished. This adds a second,
SELECT-only policy on ``writebacks`` for the role that runs the migrations (the owner, which could lift the
policy on its own table anyway). The application role's access is unchanged: only the tenant policy applies
to it, and it still cannot write another account's rows.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POLICY = "owner_reconciles"


def upgrade() -> None:
    op.execute(f"CREATE POLICY {POLICY} ON writebacks FOR SELECT TO CURRENT_USER USING (true)")


def downgrade() -> None:
    op.execute(f"DROP POLICY {POLICY} ON writebacks")
