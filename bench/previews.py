"""Preview speed: a warm resolution-note preview against the floor, and the cold render of a big session.

One session with 100 facts, 10 suggested fixes (9 superseded) and a lane of 20 items, on
the real server (uvicorn in this process, offline model, PostgreSQL as in
``bench/answer_to_fact.py``: embedded unless ``FLOWPILOT_TEST_DATABASE_URL`` names a server).

- **warm**: ``GET .../resolution-note/preview`` over HTTP with an embed token, the preview
  cached (the state is unchanged): the server's time (ASGI receive to last byte, ``ServerTimer``,
  as ``bench/endpoints.py`` measures it), against the **floor**: bare asyncpg as the app role
  reading the same rows (the session row, its live facts, its fixes) in one transaction
  with ``set_config``, over a connection kept open. Goal: warm p50 at most 2x the floor. The
  client's time (httpx: the round trip, decompressing and reading the body) is printed beside it;
  it is not compared with the floor, which has no client.
- **cold**: rendering both previews from the loaded rows (``render`` of the sandboxed
  templates, what a cache miss costs beyond the reads). Goal: p99 at most 25 ms.

Bounded: ``RUNS`` timed runs of each (after ``WARMUP``). Run from the repository root:
``.venv/bin/python bench/previews.py``. The last lines are ``warm_ratio_p50=...`` and
``cold_render_p99_ms=...``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
from answer_to_fact import SECRET_KEY, create_account, database, percentiles, serve  # noqa: E402

from flowpilot_core.accounts import Principal  # noqa: E402
from flowpilot_core.accounts.embed_tokens import mint_embed_token  # noqa: E402
from flowpilot_core.config import Settings  # noqa: E402
from flowpilot_core.db import migrate  # noqa: E402
from flowpilot_core.db.engine import DatabaseUrls, create_engine, derive_app_url, make_sessionmaker, tenant_session  # noqa: E402
from flowpilot_core.facts import crud as facts  # noqa: E402
from flowpilot_core.fixes import propose_fix  # noqa: E402
from flowpilot_core.previews.render import render  # noqa: E402
from flowpilot_core.previews.service import _context  # noqa: E402
from flowpilot_core.previews.sources import load_sources  # noqa: E402
from flowpilot_core.sessions.lifecycle import CreateSession, create_session, get_session_row  # noqa: E402
from flowpilot_core.sessions.task_lane import lane_of, record_answer, save  # noqa: E402

RUNS = 300
WARMUP = 20
FLOOR_SQL = (
    "SELECT id, title, problem_statement, ticket_snapshot, pending_task_lane, state_version FROM ai_sessions "
    "WHERE id = $1",
    "SELECT id, text FROM session_facts WHERE session_id = $1 AND deleted_at IS NULL ORDER BY created_at, id",
    "SELECT id, title, root_cause, body, status, user_decision FROM session_suggested_fixes WHERE session_id = $1 "
    "ORDER BY created_at, id",
)


async def seed(app_url: str, account_id: uuid.UUID) -> uuid.UUID:
    """A session as big as a long troubleshooting day: 100 facts, 10 fixes, 20 lane items."""
    engine = create_engine(app_url)
    principal = Principal(account_id=account_id, via="api_key")
    try:
        async with tenant_session(make_sessionmaker(engine), account_id) as db:
            created = await create_session(
                db, principal, CreateSession(problem_statement="Accounts cannot print to ACC-PRN-01 since 9am")
            )
            session = await get_session_row(db, principal, created.id, lock=True)
            lane = lane_of(session)
            for i in range(20):
                item, _ = lane.add("question", f"Question {i} about PRINT01?", command=None, shell=None, message_id="m")
                record_answer(lane, item.id, "Yes" if i % 2 else "No")
            save(session, lane)
            for i in range(100):
                await facts.create_manual_fact(db, principal, created.id, f"Fact {i}: WS-ACC-{i:02d} shows 10.0.20.{i}")
            for i in range(10):
                await propose_fix(
                    db, principal, created.id, title=f"Fix {i}", root_cause=f"Cause {i}",
                    body="1. Stop the spooler\n2. Clear C:\\Windows\\System32\\spool\\PRINTERS\n3. Start it",
                )
        return created.id
    finally:
        await engine.dispose()


async def floor(app_url: str, account_id: uuid.UUID, session_id: uuid.UUID) -> list[float]:
    """The same rows read as the app role in one transaction, on one open connection: the floor."""
    dsn = app_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    timings: list[float] = []
    try:
        for run in range(WARMUP + RUNS):
            started = time.perf_counter()
            async with conn.transaction():
                await conn.execute("SELECT set_config('app.current_account_id', $1, true)", str(account_id))
                for sql in FLOOR_SQL:
                    await conn.fetch(sql, session_id)
            if run >= WARMUP:
                timings.append((time.perf_counter() - started) * 1000)
    finally:
        await conn.close()
    return timings


async def cold(app_url: str, account_id: uuid.UUID, session_id: uuid.UUID) -> list[float]:
    engine = create_engine(app_url)
    principal = Principal(account_id=account_id, via="api_key")
    try:
        async with tenant_session(make_sessionmaker(engine), account_id) as db:
            context = _context(await load_sources(db, await get_session_row(db, principal, session_id)))
    finally:
        await engine.dispose()
    timings: list[float] = []
    for run in range(WARMUP + RUNS):
        started = time.perf_counter()
        render("resolution_note", context)
        render("escalation_package", context)
        if run >= WARMUP:
            timings.append((time.perf_counter() - started) * 1000 / 2)
    return timings


def warm(base: str, headers: dict[str, str], session_id: uuid.UUID, timer: Any) -> tuple[list[float], list[float]]:
    """(the server's times, the client's times) of the warm preview, in ms."""
    url = f"{base}/api/v1/ai-sessions/{session_id}/resolution-note/preview"
    client: list[float] = []
    with httpx.Client(headers=headers, timeout=10) as http:
        for run in range(WARMUP + RUNS):
            if run == WARMUP:
                timer.timings.clear()
            started = time.perf_counter()
            response = http.get(url)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, response.text
            if run >= WARMUP:
                client.append(elapsed)
    return [ms for _, ms in timer.timings], client


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("pgserver", "httpx", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp, database(Path(tmp)) as (owner, where):
        asyncio.run(migrate.upgrade(owner))
        urls = DatabaseUrls(owner=owner, app=derive_app_url(owner, "flowpilot_app", None), embedded=False)
        account_id, embed_secret = asyncio.run(create_account(urls.app))
        session_id = asyncio.run(seed(urls.app, account_id))
        settings = Settings(data_dir=Path(tmp) / "data", database_url=owner, secret_key=SECRET_KEY)
        token = mint_embed_token(account_id=account_id, secret=embed_secret, user_id="bench-tech", name="Bench")
        with serve(settings, urls) as (base, _app, timer):
            warm_ms, client_ms = warm(base, {"Authorization": f"Bearer {token}"}, session_id, timer)
        floor_ms = asyncio.run(floor(urls.app, account_id, session_id))
        cold_ms = asyncio.run(cold(urls.app, account_id, session_id))
    print(f"database: {where}; session with 100 facts, 10 fixes, 20 lane items; n={RUNS} each")
    for label, values in (("warm preview (server)", warm_ms), ("  (as the client saw it)", client_ms),
                          ("floor (asyncpg, same rows)", floor_ms), ("cold render (per preview)", cold_ms)):
        p50, _, p99 = percentiles(values)
        print(f"{label:<30} p50={p50:7.2f} ms  p99={p99:7.2f} ms")
    w50, _, w99 = percentiles(warm_ms)
    f50, _, f99 = percentiles(floor_ms)
    _, _, c99 = percentiles(cold_ms)
    print(f"warm_ratio_p50={w50 / f50:.2f} warm_ratio_p99={w99 / f99:.2f} (goal p50 <= 2.0)")
    print(f"cold_render_p99_ms={c99:.2f} (goal <= 25)")


if __name__ == "__main__":
    main()
