"""Session list paging: how long one page of ``GET /api/v1/ai-sessions`` takes, near the top and deep down.

Library level (``flowpilot_core.sessions.lifecycle.list_sessions``, the function the route calls, in a
tenant-scoped transaction as the application role) against PostgreSQL: an embedded ``pgserver`` in a
temporary directory, or a scratch database on the server ``FLOWPILOT_TEST_DATABASE_URL`` names (dropped
afterwards). One account holds ``SESSIONS`` open sessions (another account holds as many again, so row-level
security has something to filter); their ``updated_at`` spread over a year, some sharing an instant.

Measured, each ``REPEAT`` times after a warm-up, 50 sessions a page:

- the first page;
- page ``DEEP_PAGE`` reached with the cursor (keyset on ``updated_at``, ``id``), which is what the UI does;
- the same page with ``OFFSET``, for comparison only (the API has no offset), to show what keyset saves;
- a walk through every page with the cursor, total.

The last line is ``session_list_first_p50_ms=<x> deep_cursor_p50_ms=<y> deep_offset_p50_ms=<z>``.

Run from the repository root: ``.venv/bin/python bench/session_list_pages.py``.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "bench", ROOT / "plugins"):  # runnable from a plain checkout
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from answer_to_fact import create_account, database  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from flowpilot_core.accounts.accounts import Principal  # noqa: E402
from flowpilot_core.db import migrate  # noqa: E402
from flowpilot_core.db.engine import create_engine, derive_app_url, make_sessionmaker, tenant_session  # noqa: E402
from flowpilot_core.db.models import EMPTY_TASK_LANE, AiSession  # noqa: E402
from flowpilot_core.sessions.lifecycle import list_sessions  # noqa: E402

SESSIONS = 20_000
PAGE = 50
DEEP_PAGE = 200  # sessions 9,951 to 10,000
REPEAT = 30


async def seed(app_url: str, account_id: uuid.UUID) -> None:
    engine = create_engine(app_url, poolclass=NullPool)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        async with tenant_session(make_sessionmaker(engine), account_id) as db:
            for first in range(0, SESSIONS, 2_000):
                rows = [
                    {
                        "account_id": account_id,
                        "session_type": "chat",
                        "title": f"Session {n}",
                        "problem_statement": f"Problem {n}",
                        "status": "open",
                        "ticket_snapshot": {},
                        "pending_task_lane": {k: [] for k in EMPTY_TASK_LANE},
                        # sessions 10k+1 share their predecessor's instant: the id decides their order
                        "updated_at": start + timedelta(minutes=26 * (n - 1 if n % 10 == 1 else n)),
                    }
                    for n in range(first, min(first + 2_000, SESSIONS))
                ]
                await db.execute(insert(AiSession), rows)
    finally:
        await engine.dispose()


def ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered):7.2f} ms  p99 {p99:7.2f} ms"


async def measure(app_url: str, account_id: uuid.UUID) -> tuple[float, float, float]:
    engine = create_engine(app_url, pool_size=2)
    maker = make_sessionmaker(engine)
    principal = Principal(account_id=account_id, via="api_key")
    try:

        async def page(cursor: str | None) -> tuple[list[uuid.UUID], str | None]:
            async with tenant_session(maker, account_id) as db:
                result = await list_sessions(db, principal, status="open", limit=PAGE, cursor=cursor)
            return [s.id for s in result.items], result.next_cursor

        started = time.perf_counter()
        cursors: list[str | None] = [None]
        seen: list[uuid.UUID] = []
        while True:
            ids, cursor = await page(cursors[-1])
            seen += ids
            if cursor is None:
                break
            cursors.append(cursor)
        walk_ms = (time.perf_counter() - started) * 1000
        assert len(seen) == len(set(seen)) == SESSIONS, "every session exactly once"

        async def offset_page(n: int) -> list[uuid.UUID]:
            query = (
                select(AiSession.id)
                .where(AiSession.account_id == account_id, AiSession.status == "open")
                .order_by(AiSession.updated_at.desc(), AiSession.id.desc())
                .offset(n * PAGE)
                .limit(PAGE)
            )
            async with tenant_session(maker, account_id) as db:
                return list((await db.execute(query)).scalars())

        deep_cursor = cursors[DEEP_PAGE - 1]
        assert (await offset_page(DEEP_PAGE - 1)) == (await page(deep_cursor))[0], "offset and cursor agree"
        timings: dict[str, list[float]] = {"first": [], "deep_cursor": [], "deep_offset": []}
        for i in range(REPEAT + 3):
            for name, run in (
                ("first", lambda: page(None)),
                ("deep_cursor", lambda: page(deep_cursor)),
                ("deep_offset", lambda: offset_page(DEEP_PAGE - 1)),
            ):
                t0 = time.perf_counter()
                await run()
                if i >= 3:  # warm-up
                    timings[name].append((time.perf_counter() - t0) * 1000)
    finally:
        await engine.dispose()
    print(f"walk of all {len(cursors)} pages with the cursor: {walk_ms:.0f} ms")
    for name, label in (
        ("first", "first page"),
        ("deep_cursor", f"page {DEEP_PAGE}, cursor"),
        ("deep_offset", f"page {DEEP_PAGE}, OFFSET"),
    ):
        print(f"{label:<22} {ms(timings[name])}")
    return tuple(statistics.median(timings[k]) for k in ("first", "deep_cursor", "deep_offset"))  # type: ignore[return-value]


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="fp-bench-") as tmp, database(Path(tmp)) as (owner, where):
        print(f"database: {where}; {SESSIONS} sessions in the account (and as many in another), {PAGE} a page")
        asyncio.run(migrate.upgrade(owner))
        app_url = derive_app_url(owner, "flowpilot_app", None)
        account_id, _ = asyncio.run(create_account(app_url))
        other_id, _ = asyncio.run(create_account(app_url))
        asyncio.run(seed(app_url, account_id))
        asyncio.run(seed(app_url, other_id))
        first, deep_cursor, deep_offset = asyncio.run(measure(app_url, account_id))
        print(
            f"session_list_first_p50_ms={first:.2f} deep_cursor_p50_ms={deep_cursor:.2f} "
            f"deep_offset_p50_ms={deep_offset:.2f}"
        )


if __name__ == "__main__":
    main()
