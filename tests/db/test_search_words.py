"""The session search's word index (migration 0009), as the application role.

What must hold: a search finds the same sessions whichever plan runs (the rarest word's sessions from
the index, or the walk newest first), the index follows a session's title and ticket as they change,
another account's words are neither found nor counted, and under row-level security the index
answers a word's prefix range (else a rare word would walk the account again).
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core.accounts import Principal
from flowpilot_core.db.engine import DatabaseUrls, create_engine, tenant_session
from flowpilot_core.db.models import AiSession, SessionSearchWord
from flowpilot_core.db.read_tx import read_transaction
from flowpilot_core.db.rows import statements
from flowpilot_core.sessions import lifecycle
from flowpilot_core.sessions.lifecycle import list_sessions
from tests.conftest import Tenant

SESSIONS = (
    ("Printer offline in Accounting", "The spooler stops on PRINT01", "48220", "ACC printing"),
    ("Printing slow on WS-01", "Jobs wait minutes in the queue", "48221", None),
    ("DNS fails on WS-01", "Name resolution times out", "50311", "Name resolution"),
    ("Outlook asks for the password", "Since the Exchange migration", None, None),
)
QUERIES = (
    "printer", "print", "PRINT01", "ws 01", "ws-01", "482", "48220", "resolution", "name dns",
    "accounting offline", "password printer", "exchange", "nothing-like-this", "o",
)  # fmt: skip
# Plan by plan: every search word counts as few (the index), or none does (the walk).
PLANS = {"index": 10_000, "walk": 0}


async def _add(db: AsyncSession, account_id: uuid.UUID, title: str, problem: str, ref: str | None,
               summary: str | None) -> uuid.UUID:  # fmt: skip
    session = AiSession(account_id=account_id, title=title, problem_statement=problem, ticket_ref=ref,
                        ticket_snapshot={"summary": summary} if summary else {})  # fmt: skip
    db.add(session)
    await db.flush()
    return session.id


async def _found(db_urls: DatabaseUrls, tenant: Tenant, q: str, **filters: str) -> list[str]:
    engine = create_engine(db_urls.app, pool_size=1)
    try:
        async with read_transaction(engine, tenant.account_id) as tx:
            listed = await list_sessions(tx, Principal(account_id=tenant.account_id, via="api_key"), q=q, **filters)  # type: ignore[arg-type]
    finally:
        await engine.dispose()
    return sorted(item.title for item in listed.items)


async def test_both_plans_find_the_same_sessions(
    db_urls: DatabaseUrls, sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant, other_tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    async with tenant_session(sessionmaker, tenant.account_id) as db:
        for row in SESSIONS:
            await _add(db, tenant.account_id, *row)
    async with tenant_session(sessionmaker, other_tenant.account_id) as db:
        await _add(db, other_tenant.account_id, "Exchange printer in Billing", "Other account", "48229", None)

    results = {}
    for plan, few in PLANS.items():
        monkeypatch.setattr(lifecycle, "SEARCH_FEW", few)
        results[plan] = {q: await _found(db_urls, tenant, q) for q in QUERIES}
    assert results["index"] == results["walk"]
    found = results["index"]
    assert found["printer"] == ["Printer offline in Accounting"]
    assert found["print"] == ["Printer offline in Accounting", "Printing slow on WS-01"]
    assert found["ws-01"] == found["ws 01"] == ["DNS fails on WS-01", "Printing slow on WS-01"]
    assert found["482"] == ["Printer offline in Accounting", "Printing slow on WS-01"]
    assert found["resolution"] == found["name dns"] == ["DNS fails on WS-01"]
    assert found["password printer"] == [] and found["nothing-like-this"] == []
    assert found["exchange"] == ["Outlook asks for the password"]  # not the other account's session
    assert len(found["o"]) == 4


async def test_a_common_word_beside_a_rare_one_is_looked_up_by_the_rare_one(
    db_urls: DatabaseUrls, sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """With "the" in more sessions than count as few and "spooler" in one, the index plan serves the search."""
    async with tenant_session(sessionmaker, tenant.account_id) as db:
        for row in SESSIONS:
            await _add(db, tenant.account_id, *row)
    monkeypatch.setattr(lifecycle, "SEARCH_FEW", 2)
    assert await _found(db_urls, tenant, "the spooler") == ["Printer offline in Accounting"]
    assert await _found(db_urls, tenant, "the spooler", status="resolved") == []


async def test_the_index_follows_a_changed_title_and_ticket(
    db_urls: DatabaseUrls, sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(lifecycle, "SEARCH_FEW", PLANS["index"])
    async with tenant_session(sessionmaker, tenant.account_id) as db:
        sid = await _add(db, tenant.account_id, *SESSIONS[0])
    async with tenant_session(sessionmaker, tenant.account_id) as db:
        await db.execute(
            update(AiSession).where(AiSession.id == sid)
            .values(title="Scanner jams on MFP-2", ticket_ref="61000", ticket_snapshot={"summary": "Paper path"})
        )  # fmt: skip
    assert await _found(db_urls, tenant, "scanner") == ["Scanner jams on MFP-2"]
    assert await _found(db_urls, tenant, "paper 610") == ["Scanner jams on MFP-2"]
    assert await _found(db_urls, tenant, "accounting") == []  # the old title's word is gone
    assert await _found(db_urls, tenant, "spooler") == ["Scanner jams on MFP-2"]  # the problem did not change

    async with tenant_session(sessionmaker, tenant.account_id) as db:
        words = set((await db.execute(select(SessionSearchWord.word))).scalars())
        vector = (await db.execute(select(AiSession.search_vector).where(AiSession.id == sid))).scalar_one()
    assert words == {lexeme.split(":")[0].strip("'") for lexeme in vector.split()}


async def test_another_accounts_words_are_not_visible(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant, other_tenant: Tenant
) -> None:
    async with tenant_session(sessionmaker, other_tenant.account_id) as db:
        await _add(db, other_tenant.account_id, "Zebra printer", "Only in B", None, None)
    async with tenant_session(sessionmaker, tenant.account_id) as db:
        assert (await db.execute(select(SessionSearchWord))).all() == []


async def test_under_row_level_security_the_index_answers_the_prefix_range(
    db_urls: DatabaseUrls, sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    """The word lookup is an index range (both ends), not a scan of the account's words filtered after."""
    async with tenant_session(sessionmaker, tenant.account_id) as db:
        for row in SESSIONS:
            await _add(db, tenant.account_id, *row)
    query = lifecycle._list_query(False, False, False, True)
    params = {"account_id": tenant.account_id, "limit": 51, **lifecycle.search_params(["printer"])}
    compiled, params = statements.get(query, params)
    engine = create_engine(db_urls.app, pool_size=1)
    try:
        async with read_transaction(engine, tenant.account_id) as tx:
            connection = await tx.begin()
            await connection.execute("SET LOCAL enable_seqscan = off")  # a four-row table would be scanned
            rows = await connection.fetch("EXPLAIN " + compiled.sql, *compiled.arguments(params))
            plan = "\n".join(r[0] for r in rows)
    finally:
        await engine.dispose()
    conditions = [line for line in plan.splitlines() if "Index Cond" in line and "word >=" in line]
    assert conditions and all("word <" in line.replace("word >=", "") for line in conditions), plan


async def test_few_sessions_are_read_from_the_index_and_many_by_the_walk(
    db_urls: DatabaseUrls, sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Which plan ran, told apart by a session whose index rows are removed: only the walk still finds it."""
    async with tenant_session(sessionmaker, tenant.account_id) as db:
        unindexed = await _add(db, tenant.account_id, *SESSIONS[0])
        await _add(db, tenant.account_id, *SESSIONS[1])
        await db.execute(delete(SessionSearchWord).where(SessionSearchWord.session_id == unindexed))
    monkeypatch.setattr(lifecycle, "SEARCH_FEW", 1)  # "print": one session in the index, so few
    assert await _found(db_urls, tenant, "print") == ["Printing slow on WS-01"]
    monkeypatch.setattr(lifecycle, "SEARCH_FEW", 0)  # one is too many: the walk tests every session
    assert await _found(db_urls, tenant, "print") == ["Printer offline in Accounting", "Printing slow on WS-01"]
