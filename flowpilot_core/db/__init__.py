"""Persistence: SQLAlchemy models, engines, tenant-scoped units of work, the embedded PostgreSQL."""
