"""Migrations: reversible on a fresh database, and every tenant table guarded by RLS."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import NullPool

from flowpilot_core.db import migrate
from flowpilot_core.db.engine import DatabaseUrls, create_engine
from tests.pg import create_database, drop_database

TABLES_QUERY = text(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
    "AND table_name <> 'alembic_version' ORDER BY 1"
)


async def _tables(url: str) -> list[str]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(TABLES_QUERY)).scalars())
    finally:
        await engine.dispose()


async def test_fresh_database_upgrades_downgrades_and_upgrades_again(pg_admin_url: str) -> None:
    url = await create_database(pg_admin_url, "fp_migr")
    try:
        await migrate.upgrade(url)
        first = await _tables(url)
        assert {
            "accounts",
            "ai_sessions",
            "session_facts",
            "session_suggested_fixes",
            "draft_templates",
            "account_settings",
            "script_templates",
            "script_generations",
            "ai_usage",
            "local_tickets",
            "local_ticket_notes",
        } <= set(first)
        assert await migrate.current(url) == ("0011", "0011")

        await migrate.downgrade(url, "base")
        assert await _tables(url) == []
        assert (await migrate.current(url))[0] is None

        await migrate.upgrade(url)
        assert await _tables(url) == first
    finally:
        await drop_database(pg_admin_url, url)


RLS_QUERY = text(
    """
    SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
           COALESCE(bool_or(p.qual LIKE '%app.current_account_id%' AND p.with_check LIKE '%app.current_account_id%'),
                    false) AS has_policy
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
    LEFT JOIN pg_policies p ON p.schemaname = 'public' AND p.tablename = c.relname
    WHERE c.relkind = 'r'
      AND (EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'account_id'
                   AND NOT a.attisdropped) OR c.relname = 'accounts')
    GROUP BY c.relname, c.relrowsecurity, c.relforcerowsecurity
    ORDER BY c.relname
    """
)


async def test_every_tenant_table_has_forced_rls_and_an_account_policy(db_urls: DatabaseUrls) -> None:
    engine = create_engine(db_urls.owner, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(RLS_QUERY)).all()
    finally:
        await engine.dispose()
    assert len(rows) >= 14
    unguarded = [r.relname for r in rows if not (r.relrowsecurity and r.relforcerowsecurity and r.has_policy)]
    assert unguarded == []


async def test_app_role_owns_nothing_and_is_not_superuser(db_urls: DatabaseUrls) -> None:
    engine = create_engine(db_urls.app, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            role = (
                await conn.execute(
                    text("SELECT rolsuper, rolbypassrls, current_user FROM pg_roles WHERE rolname = current_user")
                )
            ).one()
            owned = (
                await conn.execute(
                    text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user")
                )
            ).scalar()
    finally:
        await engine.dispose()
    assert role.current_user == "flowpilot_app"
    assert role.rolsuper is False and role.rolbypassrls is False
    assert owned == 0


REQUEST_TABLES = (
    "accounts", "users", "api_keys", "ai_sessions", "session_search_words", "ai_messages", "session_facts",
    "session_suggested_fixes",
)  # fmt: skip
"""What the server's reads touch: a page of rows each, which parallel workers cost more than they save."""
PARALLEL_AT_ANY_PRICE = (
    "SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0; SET LOCAL min_parallel_table_scan_size = 0;"
    " SET LOCAL enable_indexscan = off; SET LOCAL enable_indexonlyscan = off; SET LOCAL enable_bitmapscan = off"
)


async def test_the_tables_a_request_reads_are_never_scanned_in_parallel(db_urls: DatabaseUrls) -> None:
    """``parallel_workers = 0`` (0011) holds for every plan, a read run alone included, however the planner is
    tempted; a table without it (usage, aggregated rather than paged) gets workers under the same temptation."""
    engine = create_engine(db_urls.app, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            async with raw.transaction():
                await raw.execute(PARALLEL_AT_ANY_PRICE)

                async def plan(table: str) -> str:
                    return "\n".join(row[0] for row in await raw.fetch(f"EXPLAIN SELECT count(*) FROM {table}"))

                assert "Gather" in await plan("ai_usage")
                assert {table: "Gather" in await plan(table) for table in REQUEST_TABLES} == dict.fromkeys(
                    REQUEST_TABLES, False
                )
    finally:
        await engine.dispose()


async def _account(conn: AsyncConnection) -> Any:
    """An account row, written as the owner (RLS does not bind the tests' superuser)."""
    inserted = await conn.execute(
        text("INSERT INTO accounts (name, embed_secret_encrypted) VALUES ('a', 'x') RETURNING id")
    )
    return inserted.scalar_one()


async def test_0002_places_existing_replies_directly_after_the_message_they_answer(pg_admin_url: str) -> None:
    """Backfill: a reply that finished after a later message still reads right after its own message."""
    url = await create_database(pg_admin_url, "fp_migr2")
    try:
        await migrate.upgrade(url, "0001")
        engine = create_engine(url, poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                account = await _account(conn)
                session = (
                    await conn.execute(
                        text(
                            "INSERT INTO ai_sessions (account_id, title, problem_statement) "
                            "VALUES (:a, 't', 'p') RETURNING id"
                        ),
                        {"a": account},
                    )
                ).scalar_one()
                ids = {}
                # 1 fails, 2 is answered (3), then 1 is retried and answered last (4).
                rows = ((1, "user", None), (2, "user", None), (3, "assistant", 2), (4, "assistant", 1))
                for seq, role, reply_to in rows:
                    ids[seq] = (
                        await conn.execute(
                            text(
                                "INSERT INTO ai_messages (account_id, session_id, seq, role, content, reply_to_id) "
                                "VALUES (:a, :s, :seq, :role, :c, :r) RETURNING id"
                            ),
                            {"a": account, "s": session, "seq": seq, "role": role, "c": f"m{seq}"}
                            | {"r": ids.get(reply_to)},
                        )
                    ).scalar_one()
            await migrate.upgrade(url)
            async with engine.connect() as conn:
                order = (
                    (await conn.execute(text("SELECT content FROM ai_messages ORDER BY turn_seq, seq"))).scalars().all()
                )
        finally:
            await engine.dispose()
        assert order == ["m1", "m4", "m2", "m3"]
    finally:
        await drop_database(pg_admin_url, url)


async def test_0009_copies_the_words_of_existing_sessions(pg_admin_url: str) -> None:
    """Backfill: sessions that existed before the word index are found through it afterwards."""
    url = await create_database(pg_admin_url, "fp_migr9")
    try:
        await migrate.upgrade(url, "0008")
        engine = create_engine(url, poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                account = await _account(conn)
                await conn.execute(
                    text(
                        "INSERT INTO ai_sessions (account_id, title, problem_statement, ticket_ref) "
                        "VALUES (:a, 'Printer offline', 'Spooler stops on PRINT01', '48220')"
                    ),
                    {"a": account},
                )
            await migrate.upgrade(url)
            async with engine.connect() as conn:
                words = set((await conn.execute(text("SELECT word FROM session_search_words"))).scalars())
        finally:
            await engine.dispose()
        assert words == {"printer", "offline", "spooler", "stops", "on", "print01", "48220"}
    finally:
        await drop_database(pg_admin_url, url)
