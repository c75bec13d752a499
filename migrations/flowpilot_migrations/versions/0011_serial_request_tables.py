"""No parallel scans of the tables a request reads: a request reads a page of rows.

Starting parallel workers costs milliseconds (7.9 ms of a 10 ms search plan that chose them, on this
project's 2-core machine), far more than they save on a page. Reads said ``SET LOCAL
max_parallel_workers_per_gather = 0`` in their ``BEGIN``; a read that runs alone, in one statement
(``flowpilot_core.db.read_tx``), is planned before it could say anything, and a setting at connection
start-up is refused by PgBouncer and other poolers. The tables' own ``parallel_workers = 0`` holds for
every plan, whoever connects and however. Usage and writeback tables keep the planner's choice: they are
aggregated, not paged.

``ALTER TABLE ... SET (parallel_workers = ...)`` takes a ``SHARE UPDATE EXCLUSIVE`` lock and rewrites
nothing: reads and writes go on during the migration, and replicas of the previous release are unaffected.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REQUEST_TABLES = (
    "accounts",
    "users",
    "api_keys",
    "ai_sessions",
    "session_search_words",
    "ai_messages",
    "session_facts",
    "session_suggested_fixes",
)


def upgrade() -> None:
    for table in REQUEST_TABLES:
        op.execute(f"ALTER TABLE {table} SET (parallel_workers = 0)")


def downgrade() -> None:
    for table in REQUEST_TABLES:
        op.execute(f"ALTER TABLE {table} RESET (parallel_workers)")
