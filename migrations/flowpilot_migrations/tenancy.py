"""Row-level security and the application role, as reusable migration steps.

Every tenant table gets RLS ENABLED and FORCED and one policy comparing its account
column with ``NULLIF(current_setting('app.current_account_id', true), '')::uuid``:
an unset or empty setting matches no row instead of raising.
"""

from __future__ import annotations

from typing import Any

from alembic import context

POLICY_NAME = "tenant_isolation"
CURRENT_ACCOUNT = "NULLIF(current_setting('app.current_account_id', true), '')::uuid"


def _role() -> tuple[str, str | None]:
    attrs = context.config.attributes
    role = str(attrs.get("app_db_role") or "flowpilot_app")
    if not role.replace("_", "").isalnum():
        raise ValueError(f"invalid application role name {role!r}")
    return role, attrs.get("app_db_password")


def ensure_app_role(op: Any) -> str:
    """Create the application role if missing (cluster-wide, so it is never dropped by a downgrade)."""
    role, password = _role()
    op.execute(
        f"""DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
            END IF;
        END $$;"""
    )
    if password:
        escaped = password.replace("'", "''")
        op.execute(f"ALTER ROLE {role} PASSWORD '{escaped}'")
    op.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
    return role


def enable_tenancy(op: Any, table: str, key_column: str = "account_id") -> None:
    """RLS enabled + forced, the tenant policy, and DML grants for the application role."""
    role = ensure_app_role(op)
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY {POLICY_NAME} ON {table} "
        f"USING ({key_column} = {CURRENT_ACCOUNT}) WITH CHECK ({key_column} = {CURRENT_ACCOUNT})"
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {role}")
    op.execute(
        f"""DO $$ DECLARE seq text; BEGIN
            FOR seq IN SELECT pg_get_serial_sequence('{table}', a.attname) FROM pg_attribute a
                WHERE a.attrelid = '{table}'::regclass AND a.attnum > 0 AND NOT a.attisdropped
                  AND pg_get_serial_sequence('{table}', a.attname) IS NOT NULL
            LOOP EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %s TO {role}', seq); END LOOP;
        END $$;"""
    )


def revoke_app_role(op: Any) -> None:
    """Take back what the migrations granted; the role itself stays (other databases may use it)."""
    role, _ = _role()
    op.execute(
        f"""DO $$ BEGIN
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                EXECUTE 'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}';
                EXECUTE 'REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}';
                EXECUTE 'REVOKE USAGE ON SCHEMA public FROM {role}';
            END IF;
        END $$;"""
    )
