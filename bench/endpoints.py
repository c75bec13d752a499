"""Per-endpoint reads of a big session against the floor, and the round trips each takes.

One session with 100 facts, 40 messages (20 turns), 3 suggested fixes (one active) and a lane of
12 items, on the real server (uvicorn in this process, offline model, PostgreSQL as in
``bench/answer_to_fact.py``: embedded unless ``FLOWPILOT_TEST_DATABASE_URL`` names a server),
read over HTTP with an embed token as the widget does.

- **server**: the time the server takes per request (ASGI receive to last byte, ``ServerTimer``),
  for each read endpoint, and for ``GET .../open`` (everything the widget shows when it opens a
  session).
- **floor**: bare asyncpg as the application role reading the same rows in one transaction with
  ``set_config``, on a connection kept open, one query per table (the session row, then its facts,
  fixes or messages), as ``bench/previews.py`` measures it. The same process, interleaved with the
  server in blocks of ``BLOCK`` so that the machine's load falls on both alike. The first ``SETTLE``
  timings of each block, of both sides, are dropped: after the other side's block, each side's first
  requests are slow while its code and data come back into the CPU's caches. With blocks of 20 and
  nothing dropped, the server's median by position in the block fell from 1.71 ms (first) to 1.12 ms
  (tenth) and was still falling at the twentieth, while the floor's settled after one (0.53, then
  0.31 ms): blocks that short measured the switching, mostly the server's, rather than either side.
- **fixed cost**: ``GET /livez`` (no database, no authentication), timed the same way: what any request
  costs the server (routing, middleware, the response and its compression where it applies, the
  send) before it reads a row. It is printed beside the ratios, not subtracted from them.
- **round trips**: one warm request per endpoint through ``RoundTripCounter`` (a second server
  whose database connections go through it), counted on the wire.

Goals (issue #14): server p50 <= 3x the floor and p99 <= 4x per endpoint; open p50 <= 2x its floor;
round trips per authenticated read <= 5. Bounded: ``BLOCKS * BLOCK`` timed requests per endpoint
(``BLOCKS * (BLOCK - SETTLE)`` of them counted).
Run from the repository root: ``.venv/bin/python bench/endpoints.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
from answer_to_fact import SECRET_KEY, create_account, database, percentiles, quiet, serve  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from flowpilot_core.accounts import Principal  # noqa: E402
from flowpilot_core.accounts.embed_tokens import mint_embed_token  # noqa: E402
from flowpilot_core.config import Settings  # noqa: E402
from flowpilot_core.db import migrate  # noqa: E402
from flowpilot_core.db.engine import DatabaseUrls, create_engine, derive_app_url, make_sessionmaker, tenant_session  # noqa: E402
from flowpilot_core.db.models import AiMessage, SessionFact  # noqa: E402
from flowpilot_core.fixes import propose_fix  # noqa: E402
from flowpilot_core.sessions.lifecycle import CreateSession, create_session, get_session_row  # noqa: E402
from flowpilot_core.sessions.task_lane import lane_of, record_answer, save  # noqa: E402
from flowpilot_core.testing.round_trips import RoundTripCounter  # noqa: E402

BLOCK = 100
BLOCKS = 4
SETTLE = 10
WARMUP = 20
FACTS, TURNS = 100, 20

SESSION_SQL = (
    "SELECT id, session_type, title, problem_statement, status, psa_provider, ticket_ref, ticket_snapshot, "
    "pending_task_lane, state_version, owner_user_id, created_at, updated_at, resolved_at, escalated_at, "
    "resolution_note_markdown, resolution_note_external_id, escalation_package_markdown, "
    "escalation_package_external_id FROM ai_sessions WHERE id = $1"
)
FACTS_SQL = (
    "SELECT id, session_id, text, origin, source_ref, editable, author_user_id, updated_by_user_id, created_at, "
    "updated_at FROM session_facts WHERE session_id = $1 AND deleted_at IS NULL ORDER BY created_at, id"
)
FIXES_SQL = (
    "SELECT id, session_id, title, root_cause, body, fact_ids, status, superseded_by_id, user_decision, "
    "decided_by_user_id, decided_at, source_message_id, created_at FROM session_suggested_fixes "
    "WHERE session_id = $1 ORDER BY created_at DESC, id"
)
MESSAGES_SQL = (
    "SELECT id, seq, turn_seq, role, content, display_content, markers, client_message_id, reply_to_id, created_at, "
    "origin FROM ai_messages WHERE session_id = $1 ORDER BY turn_seq DESC, seq DESC"
)
VERSION_SQL = "SELECT state_version FROM ai_sessions WHERE id = $1"
LIST_SQL = (
    "SELECT id, session_type, title, problem_statement, status, psa_provider, ticket_ref, state_version, "
    "owner_user_id, created_at, updated_at, resolved_at, escalated_at FROM ai_sessions "
    "WHERE account_id = $1 AND status = 'open' ORDER BY updated_at DESC, id DESC LIMIT 51"
)

# endpoint -> (path under /api/v1/ai-sessions/{id}, or None for the list; the floor's statements)
ENDPOINTS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "getSession": ("", (SESSION_SQL,)),
    "getTaskLane": ("/task-lane", ("SELECT pending_task_lane FROM ai_sessions WHERE id = $1",)),
    "listFacts": ("/facts", (VERSION_SQL, FACTS_SQL)),
    "listSuggestedFixes": ("/suggested-fixes", (VERSION_SQL, FIXES_SQL)),
    "listMessages": ("/messages", (VERSION_SQL, MESSAGES_SQL)),
    "listSessions": (None, (LIST_SQL,)),
    "openSession": ("/open", (SESSION_SQL, FACTS_SQL, FIXES_SQL, MESSAGES_SQL + " LIMIT 51")),
}


async def seed(app_url: str, account_id: uuid.UUID) -> uuid.UUID:
    """The big session: written through the library as the app role (bulk inserts for facts and messages)."""
    engine = create_engine(app_url)
    principal = Principal(account_id=account_id, via="api_key")
    try:
        async with tenant_session(make_sessionmaker(engine), account_id) as db:
            created = await create_session(
                db, principal, CreateSession(problem_statement="Accounts cannot print to ACC-PRN-01 since 9am")
            )
            sid = created.id
            session = await get_session_row(db, principal, sid, lock=True)
            lane = lane_of(session)
            for i in range(12):
                item, _ = lane.add("question", f"Question {i} about PRINT01?", command=None, shell=None, message_id="m")
                if i % 3:
                    record_answer(lane, item.id, "Yes" if i % 2 else "No")
            save(session, lane)
            start = datetime.now(UTC) - timedelta(hours=2)
            await db.execute(
                insert(SessionFact),
                [
                    {
                        "account_id": account_id,
                        "session_id": sid,
                        "text": f"Fact {i}: WS-ACC-{i:02d} answers ping at 10.0.20.{i}",
                        "origin": "manual",
                        "editable": True,
                        "created_at": start + timedelta(seconds=i),
                        "updated_at": start + timedelta(seconds=i),
                    }
                    for i in range(FACTS)
                ],
            )
            messages = []
            for turn in range(TURNS):
                asked = uuid.uuid4()
                seq = 2 * turn + 1
                at = start + timedelta(minutes=turn)
                messages += [
                    {"id": asked, "account_id": account_id, "session_id": sid, "seq": seq, "turn_seq": seq,
                     "role": "user", "content": f"Technician message {turn}: the queue still shows 4 jobs",
                     "created_at": at},
                    {"account_id": account_id, "session_id": sid, "seq": seq + 1, "turn_seq": seq,
                     "role": "assistant", "content": f"Reply {turn} [QUESTION]Is it PRINT01?[/QUESTION]",
                     "display_content": f"Reply {turn}: is it PRINT01?", "reply_to_id": asked,
                     "markers": [{"kind": "question", "item_id": str(uuid.uuid4())}],
                     "created_at": at + timedelta(seconds=5)},
                ]  # fmt: skip
            await db.execute(insert(AiMessage), messages)
            for i in range(3):
                await propose_fix(
                    db, principal, sid, title=f"Fix {i}", root_cause=f"Cause {i}",
                    body="1. Stop the spooler\n2. Clear C:\\Windows\\System32\\spool\\PRINTERS\n3. Start it",
                )  # fmt: skip
        return sid
    finally:
        await engine.dispose()


@dataclasses.dataclass
class Floor:
    conn: asyncpg.Connection
    account_id: uuid.UUID
    session_id: uuid.UUID

    async def block(self, statements: tuple[str, ...], n: int) -> list[float]:
        timings = []
        for _ in range(n):
            started = time.perf_counter()
            async with self.conn.transaction():
                await self.conn.execute("SELECT set_config('app.current_account_id', $1, true)", str(self.account_id))
                for sql in statements:
                    await self.conn.fetch(sql, self.account_id if "account_id = $1" in sql else self.session_id)
            timings.append((time.perf_counter() - started) * 1000)
        return timings


def url_of(base: str, session_id: uuid.UUID, path: str | None) -> str:
    return f"{base}/api/v1/ai-sessions?status=open" if path is None else f"{base}/api/v1/ai-sessions/{session_id}{path}"


def measure(base: str, timer: object, headers: dict[str, str], floor: Floor, loop: asyncio.AbstractEventLoop,
            session_id: uuid.UUID) -> dict[str, tuple[list[float], list[float]]]:  # fmt: skip
    results: dict[str, tuple[list[float], list[float]]] = {}
    timings: list[tuple[str, float]] = timer.timings  # type: ignore[attr-defined]
    with httpx.Client(headers=headers, timeout=10) as http:
        for name, (path, statements) in ENDPOINTS.items():
            url = url_of(base, session_id, path)
            for _ in range(WARMUP):
                assert http.get(url).status_code == 200
            loop.run_until_complete(floor.block(statements, WARMUP))
            server_ms: list[float] = []
            floor_ms: list[float] = []
            for _ in range(BLOCKS):
                first = len(timings)
                for _ in range(BLOCK):
                    response = http.get(url)
                    assert response.status_code == 200, response.text
                server_ms += [ms for _, ms in timings[first:]][SETTLE:]
                floor_ms += loop.run_until_complete(floor.block(statements, BLOCK))[SETTLE:]
            results[name] = (server_ms, floor_ms)
        for _ in range(WARMUP):
            http.get(f"{base}/livez")
        fixed: list[float] = []
        for _ in range(BLOCKS):
            first = len(timings)
            for _ in range(BLOCK):
                assert http.get(f"{base}/livez").status_code == 200
            fixed += [ms for _, ms in timings[first:]][SETTLE:]
        results["livez"] = (fixed, [])
    return results


def round_trips(
    settings: Settings, urls: DatabaseUrls, headers: dict[str, str], session_id: uuid.UUID
) -> dict[str, int]:
    counts = {}
    with RoundTripCounter(urls.app) as counter:
        counted = dataclasses.replace(urls, app=counter.url_for(urls.app))
        with serve(settings, counted) as (base, _app, _timer), httpx.Client(headers=headers, timeout=10) as http:
            for name, (path, _) in ENDPOINTS.items():
                url = url_of(base, session_id, path)
                for _ in range(3):  # the driver's statement cache and the token cache are warm
                    http.get(url)
                counter.reset()
                assert http.get(url).status_code == 200
                counts[name] = counter.count
    return counts


@dataclasses.dataclass(frozen=True)
class BigSession:
    """A migrated database with one account holding the big session, and what a server on it needs."""

    where: str
    urls: DatabaseUrls
    settings: Settings
    account_id: uuid.UUID
    session_id: uuid.UUID
    token: str
    """An embed token of the account's technician."""


@contextlib.contextmanager
def big_session() -> Iterator[BigSession]:
    """:func:`seed`'s session on a fresh database (see ``database``), removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp, database(Path(tmp)) as (owner, where):
        asyncio.run(migrate.upgrade(owner))
        urls = DatabaseUrls(owner=owner, app=derive_app_url(owner, "flowpilot_app", None), embedded=False)
        account_id, embed_secret = asyncio.run(create_account(urls.app))
        session_id = asyncio.run(seed(urls.app, account_id))
        settings = Settings(data_dir=Path(tmp) / "data", database_url=owner, secret_key=SECRET_KEY)
        token = mint_embed_token(account_id=account_id, secret=embed_secret, user_id="bench-tech", name="Bench")
        yield BigSession(where, urls, settings, account_id, session_id, token)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    quiet()
    with big_session() as big:
        headers = {"Authorization": f"Bearer {big.token}"}
        loop = asyncio.new_event_loop()
        conn = loop.run_until_complete(asyncpg.connect(big.urls.app.replace("postgresql+asyncpg://", "postgresql://")))
        try:
            with serve(big.settings, big.urls) as (base, _app, timer):
                floor = Floor(conn, big.account_id, big.session_id)
                results = measure(base, timer, headers, floor, loop, big.session_id)
        finally:
            loop.run_until_complete(conn.close())
            loop.close()
        trips = round_trips(big.settings, big.urls, headers, big.session_id)
    print(f"database: {big.where}; one session with {FACTS} facts, {2 * TURNS} messages, 3 fixes, 12 lane items;")
    print(
        f"n={BLOCKS * (BLOCK - SETTLE)} per endpoint, server and floor interleaved in blocks of {BLOCK} "
        f"(the first {SETTLE} of each dropped); times in ms"
    )
    print(f"{'endpoint':<20} {'server p50':>10} {'p99':>7} {'floor p50':>10} {'p99':>7} "
          f"{'p50 ratio':>10} {'p99 ratio':>10} {'round trips':>12}")  # fmt: skip
    worst = {"p50": 0.0, "p99": 0.0}
    fixed = results.pop("livez")[0]
    for name, (server_ms, floor_ms) in results.items():
        s50, _, s99 = percentiles(server_ms)
        f50, _, f99 = percentiles(floor_ms)
        r50, r99 = s50 / f50, s99 / f99
        if name != "openSession":
            worst["p50"], worst["p99"] = max(worst["p50"], r50), max(worst["p99"], r99)
        print(f"{name:<20} {s50:10.2f} {s99:7.2f} {f50:10.2f} {f99:7.2f} {r50:10.2f} {r99:10.2f} {trips[name]:12d}")
    l50, _, l99 = percentiles(fixed)
    print(f"{'livez (fixed cost)':<20} {l50:10.2f} {l99:7.2f} {'-':>10} {'-':>7} {'-':>10} {'-':>10} {0:12d}")
    o50 = percentiles(results["openSession"][0])[0] / percentiles(results["openSession"][1])[0]
    reads = {k: v for k, v in trips.items() if k != "openSession"}
    print(f"endpoints_worst_p50_ratio={worst['p50']:.2f} (goal <= 3.0)")
    print(f"endpoints_worst_p99_ratio={worst['p99']:.2f} (goal <= 4.0)")
    print(f"open_session_p50_ratio={o50:.2f} (goal <= 2.0)")
    print(f"max_round_trips_per_read={max(reads.values())} (goal <= 5)")
    print(f"open_session_round_trips={trips['openSession']} (its floor: {2 + len(ENDPOINTS['openSession'][1]) + 1})")


if __name__ == "__main__":
    main()
