"""An owner that is no superuser (a managed PostgreSQL's usual owner): the migrations run as it, and at
start-up it finds every account's abandoned writebacks although every tenant table forces row-level
security on it, while the application role still sees only its own account's."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.pool import NullPool

from flowpilot_core import accounts
from flowpilot_core.db import migrate
from flowpilot_core.db.engine import DatabaseUrls, create_engine, derive_app_url, make_sessionmaker, tenant_session
from flowpilot_core.writeback.reconcile import abandoned_writebacks
from tests.conftest import TEST_SECRET_KEY
from tests.pg import with_database

A_DAY_AGO = "clock_timestamp() - interval '1 day'"


async def _admin(url: str, *statements: str) -> None:
    engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def _owned_database(pg_admin_url: str, revision: str = "head") -> AsyncIterator[str]:
    """A database owned by a new role with no superuser and no BYPASSRLS, migrated by that role to ``revision``."""
    suffix = uuid.uuid4().hex[:10]
    role, database = f"fp_owner_{suffix}", f"fp_owned_{suffix}"
    await _admin(
        pg_admin_url,
        f"CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE",
        f'CREATE DATABASE "{database}" OWNER {role}',
    )
    url = with_database(derive_app_url(pg_admin_url, role, None), database)  # the server's host or socket, as role
    try:
        await migrate.upgrade(url, revision)
        yield url
    finally:
        await _admin(pg_admin_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)', f"DROP ROLE IF EXISTS {role}")


@pytest.fixture
async def owner_url(pg_admin_url: str, db_urls: DatabaseUrls) -> AsyncIterator[str]:
    """The application role exists already (``db_urls`` made it): an owner without CREATEROLE cannot create it."""
    async with _owned_database(pg_admin_url) as url:
        yield url


async def _account_with_abandoned_writeback(app_url: str) -> tuple[uuid.UUID, uuid.UUID]:
    engine = create_engine(app_url, poolclass=NullPool)
    try:
        async with make_sessionmaker(engine)() as db, db.begin():
            account_id = (await accounts.create_account(db, name="MSP", secret_key=TEST_SECRET_KEY)).id
        async with tenant_session(make_sessionmaker(engine), account_id) as db:
            session_id = (
                await db.execute(
                    text("INSERT INTO ai_sessions (account_id, title, problem_statement) VALUES (:a, 't', 'p') "
                         "RETURNING id"),
                    {"a": account_id},
                )
            ).scalar_one()  # fmt: skip
            writeback_id = (
                await db.execute(
                    text("INSERT INTO writebacks (account_id, session_id, kind, idempotency_key, state, marker, "
                         "markdown, generated_markdown, updated_at) VALUES (:a, :s, 'resolution', 'k', 'pending', "
                         f"'m', 'n', 'n', {A_DAY_AGO}) RETURNING id"),
                    {"a": account_id, "s": session_id},
                )
            ).scalar_one()  # fmt: skip
    finally:
        await engine.dispose()
    return account_id, writeback_id


async def test_the_owner_finds_every_accounts_abandoned_writebacks(owner_url: str) -> None:
    engine = create_engine(owner_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            query = text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            role = (await conn.execute(query)).one()
    finally:
        await engine.dispose()
    assert tuple(role) == (False, False)
    app_url = derive_app_url(owner_url, "flowpilot_app", None)
    first = await _account_with_abandoned_writeback(app_url)
    second = await _account_with_abandoned_writeback(app_url)

    assert sorted(await abandoned_writebacks(owner_url, stale_after=60)) == sorted([first, second])

    engine = create_engine(app_url, poolclass=NullPool)
    try:
        async with tenant_session(make_sessionmaker(engine), first[0]) as db:
            seen = (await db.execute(text("SELECT id FROM writebacks"))).scalars().all()
            changed = await db.execute(text("UPDATE writebacks SET attempts = 9 WHERE id = :w"), {"w": second[1]})
    finally:
        await engine.dispose()
    assert seen == [first[1]] and changed.rowcount == 0  # type: ignore[attr-defined]


async def test_the_word_index_copies_every_accounts_sessions_when_the_owner_is_no_superuser(
    pg_admin_url: str, db_urls: DatabaseUrls
) -> None:
    """Migration 0009 reads every account's sessions, which the forced policy hides from such an owner."""
    async with _owned_database(pg_admin_url, "0008") as owner:
        app_url = derive_app_url(owner, "flowpilot_app", None)
        first = await _account_with_abandoned_writeback(app_url)
        second = await _account_with_abandoned_writeback(app_url)
        await migrate.upgrade(owner)
        engine = create_engine(app_url, poolclass=NullPool)
        try:
            for account_id, _ in (first, second):
                async with tenant_session(make_sessionmaker(engine), account_id) as db:
                    words = set((await db.execute(text("SELECT word FROM session_search_words"))).scalars())
                    assert words == {"t", "p"}  # the title and the problem of its one session
        finally:
            await engine.dispose()
