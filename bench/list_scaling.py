"""List scaling: do the session list, its filters, its search and a session's facts stay flat as accounts grow?

Eleven accounts of the same size (one measured, ten others, so that row-level security and the
indexes have something to filter), grown through ``SIZES`` sessions each; every session has
``FACTS_PER_SESSION`` facts, a ticket reference and summary, a status (half open, a quarter resolved,
a quarter escalated) and a problem among five kinds, ``updated_at`` spread over months. The rows are
generated inside PostgreSQL (``INSERT ... SELECT FROM generate_series``) as the application role,
one transaction per account with its ``set_config``, then ``ANALYZE`` as the owner.

Measured at each size, library level (the functions the routes call, on the reads they run on,
``read_transaction``, as the application role), ``REPEAT`` times after a warm-up, p50 in ms:

- ``sessions``: the first page of ``list_sessions`` (newest first), unfiltered;
- ``status=open``: the same, open sessions only;
- ``facts``: ``list_facts`` of one session;
- ``q=rare``: search for one ticket's reference (one match);
- ``q=common``: search for a word a fifth of the sessions have (a page of matches).

Every size returns the same rows: a page is as long as the smallest account can fill (``PAGE``: 10
sessions, 5 open ones, 2 matches of the common word), so that only the account's size changes. With
pages of 50 the smallest account returns 10 rows against the largest's 50, and once a read is one
round trip those 40 rows (about 6 µs each, decoded into structs) are most of what such a ratio measures.

Goal (issue #14): flat from 10 to 10,000 sessions per account; the last column is the time at the
largest size over the time at the smallest (goal <= 2). PostgreSQL as in ``bench/answer_to_fact.py``
(embedded unless ``FLOWPILOT_TEST_DATABASE_URL`` names a server).
Run from the repository root: ``.venv/bin/python bench/list_scaling.py``.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from answer_to_fact import create_account, database, quiet  # noqa: E402
from sqlalchemy import select, text  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from flowpilot_core.accounts import Principal  # noqa: E402
from flowpilot_core.db import migrate  # noqa: E402
from flowpilot_core.db.engine import create_engine, derive_app_url, make_sessionmaker, tenant_session  # noqa: E402
from flowpilot_core.db.models import AiSession  # noqa: E402
from flowpilot_core.db.read_tx import read_transaction  # noqa: E402
from flowpilot_core.facts.crud import list_facts  # noqa: E402
from flowpilot_core.sessions.lifecycle import list_sessions  # noqa: E402

SIZES = (10, 100, 1_000, 10_000)
OTHER_ACCOUNTS = 10
FACTS_PER_SESSION = 5
REPEAT = 100
WARMUP = 5
GOAL_RATIO = 2.0
PAGE = {"sessions": SIZES[0], "status=open": SIZES[0] // 2, "q=common": SIZES[0] // 5}
"""Page sizes the smallest account fills: half its sessions are open, a fifth have the common word."""

GROW = text(
    """
    WITH new AS (
        INSERT INTO ai_sessions (account_id, session_type, title, problem_statement, status, ticket_ref,
                                 ticket_snapshot, updated_at, created_at)
        SELECT :account_id, 'chat',
               (ARRAY['Printer offline', 'VPN drops', 'Outlook password prompts', 'Disk full', 'DNS fails'])
                   [1 + n % 5] || ' on WS-' || n,
               'The user reports trouble since this morning; case ' || n || '. Nothing changed on their side.',
               (ARRAY['open', 'resolved', 'open', 'escalated'])[1 + n % 4],
               (400000 + n)::text,
               jsonb_build_object('summary', 'Ticket ' || (400000 + n) || ' from Contoso', 'company', 'Contoso'),
               timestamptz '2026-01-01' + make_interval(mins => 17 * n),
               timestamptz '2026-01-01' + make_interval(mins => 17 * n)
        FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS n
        RETURNING id, account_id
    )
    INSERT INTO session_facts (account_id, session_id, text, origin, editable)
    SELECT account_id, id, 'Fact ' || k || ': WS answers ping, the queue holds ' || k || ' jobs', 'manual', true
    FROM new CROSS JOIN generate_series(1, CAST(:facts AS integer)) AS k
    """
)


async def grow(app_url: str, owner_url: str, accounts: list[uuid.UUID], have: int, size: int) -> float:
    """Sessions ``have + 1`` to ``size`` in every account; returns the seconds it took."""
    started = time.perf_counter()
    engine = create_engine(app_url, poolclass=NullPool)
    try:
        maker = make_sessionmaker(engine)
        for account_id in accounts:
            async with tenant_session(maker, account_id) as db:
                params = {"account_id": account_id, "first": have + 1, "last": size, "facts": FACTS_PER_SESSION}
                await db.execute(GROW, params)
    finally:
        await engine.dispose()
    owner = create_engine(owner_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with owner.connect() as conn:
            await conn.execute(text("ANALYZE ai_sessions, session_facts, session_search_words"))
    finally:
        await owner.dispose()
    return time.perf_counter() - started


async def measure(app_url: str, account_id: uuid.UUID, size: int) -> dict[str, float]:
    engine = create_engine(app_url, pool_size=1)
    maker = make_sessionmaker(engine)
    principal = Principal(account_id=account_id, via="api_key")
    rare = str(400000 + max(1, size // 2))
    try:
        async with tenant_session(maker, account_id) as db:
            newest = (
                await db.execute(select(AiSession.id).order_by(AiSession.updated_at.desc()).limit(1))
            ).scalar_one()

        def listed(limit: int, **filters: str) -> Callable[[], Awaitable[int]]:
            async def run() -> int:
                async with read_transaction(engine, account_id) as tx:
                    return len((await list_sessions(tx, principal, limit=limit, **filters)).items)  # type: ignore[arg-type]

            return run

        async def facts() -> int:
            async with read_transaction(engine, account_id) as tx:
                return len((await list_facts(tx, principal, newest)).items)

        queries: dict[str, Callable[[], Awaitable[int]]] = {
            "sessions": listed(PAGE["sessions"]),
            "status=open": listed(PAGE["status=open"], status="open"),
            "facts": facts,
            "q=rare": listed(50, q=rare),
            "q=common": listed(PAGE["q=common"], q="printer"),
        }
        expected = {**PAGE, "facts": FACTS_PER_SESSION, "q=rare": 1}
        p50: dict[str, float] = {}
        for name, run in queries.items():
            timings = []
            for i in range(WARMUP + REPEAT):
                t0 = time.perf_counter()
                found = await run()
                if i >= WARMUP:
                    timings.append((time.perf_counter() - t0) * 1000)
            assert found == expected[name], (name, size, found, expected[name])
            p50[name] = statistics.median(timings)
        return p50
    finally:
        await engine.dispose()


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    quiet()
    with tempfile.TemporaryDirectory(prefix="fp-bench-") as tmp, database(Path(tmp)) as (owner, where):
        asyncio.run(migrate.upgrade(owner))
        app_url = derive_app_url(owner, "flowpilot_app", None)
        accounts = [asyncio.run(create_account(app_url))[0] for _ in range(1 + OTHER_ACCOUNTS)]
        print(f"database: {where}; {1 + OTHER_ACCOUNTS} accounts of the same size, {FACTS_PER_SESSION} facts a session")
        print(f"p50 of {REPEAT} runs, ms, library level as the application role")
        results: dict[int, dict[str, float]] = {}
        have = 0
        for size in SIZES:
            seconds = asyncio.run(grow(app_url, owner, accounts, have, size))
            have = size
            results[size] = asyncio.run(measure(app_url, accounts[0], size))
            total = size * len(accounts)
            print(f"  grown to {size} sessions per account ({total} sessions, {total * FACTS_PER_SESSION} facts) "
                  f"in {seconds:.1f} s")  # fmt: skip
    names = list(results[SIZES[0]])
    print(f"{'sessions/account':>16} " + " ".join(f"{n:>12}" for n in names))
    for size in SIZES:
        print(f"{size:>16} " + " ".join(f"{results[size][n]:12.2f}" for n in names))
    ratios = {n: results[SIZES[-1]][n] / results[SIZES[0]][n] for n in names}
    print(f"{'ratio':>16} " + " ".join(f"{ratios[n]:12.2f}" for n in names))
    print(f"list_scaling_worst_ratio={max(ratios.values()):.2f} ({max(ratios, key=ratios.__getitem__)}; "
          f"goal <= {GOAL_RATIO}: flat from {SIZES[0]} to {SIZES[-1]} sessions per account)")  # fmt: skip


if __name__ == "__main__":
    main()
