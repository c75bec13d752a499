"""Where a warm read's server time goes: ``GET /api/v1/ai-sessions/{id}`` split into its stages.

``bench/endpoints.py`` says how a read compares with the bare-asyncpg floor; this says why. The app
(``create_app``, offline model, the big session of ``bench/endpoints.py``) is called in this process as
an ASGI app, without HTTP, ``N`` times after a warm-up; the pieces of the read path are wrapped to note
the time at each boundary (each wrapper costs about a microsecond):

- **routing and auth**: ASGI call to the read transaction's start (Litestar's middleware, routing, the
  input guard, the embed token from the process's cache, dependency resolution);
- **pool checkout**: the connection from SQLAlchemy's pool (a greenlet hop), up to the query;
- **query round trip**: the read's one round trip to PostgreSQL (the statement, scoped to the account by
  itself: ``flowpilot_core.db.read_tx``), as asyncpg awaits it;
- **row to struct**: the query's end to the handler's return into the dependency's cleanup;
- **pool return**: the handler's return to the read's exit (the connection back to the pool);
- **response**: the transaction's exit to the response's first ASGI message (msgspec encoding,
  brotli, headers); **send**: the rest.

p50 per stage, in microseconds, and the floor's four round trips (``BEGIN``, ``set_config``, the
row, ``COMMIT`` on one asyncpg connection) measured alike, for scale. The machine matters: on this
project's 2-core VM a round trip between two processes on different cores costs 2-3 times one on a
shared core, so ``taskset -c 0`` (client, app and an embedded PostgreSQL, which inherits it, on one
core) gives the steadiest split. PostgreSQL as in ``bench/answer_to_fact.py``.
Run from the repository root: ``[taskset -c 0] .venv/bin/python bench/read_stages.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
from answer_to_fact import quiet  # noqa: E402
from endpoints import SESSION_SQL, big_session  # noqa: E402
from flowpilot_server import deps  # noqa: E402
from flowpilot_server.app import create_app  # noqa: E402

N, WARMUP = 3000, 300
# (stage, from mark, to mark), in request order
STAGES = (
    ("routing and auth", "start", "tx_enter"),
    ("pool checkout", "tx_enter", "query>"),
    ("query round trip", "query>", "query<"),
    ("row to struct", "query<", "tx_body_done"),
    ("pool return", "tx_body_done", "tx_exit"),
    ("response", "tx_exit", "response_start"),
    ("send", "response_start", "end"),
    ("whole request", "start", "end"),
)

marks: dict[str, float] = {}


def instrument() -> None:
    """Wrap the read path's pieces so that each notes the time it starts and ends."""

    def timed(name: str, method: Any) -> Any:
        async def wrapper(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
            key = name or query.split(None, 1)[0].upper()
            marks[key + ">"] = time.perf_counter()
            try:
                return await method(self, query, *args, **kwargs)
            finally:
                marks[key + "<"] = time.perf_counter()

        return wrapper

    asyncpg.Connection.execute = timed("", asyncpg.Connection.execute)
    asyncpg.Connection.fetchrow = timed("query", asyncpg.Connection.fetchrow)
    original = deps.read_transaction

    @contextlib.asynccontextmanager
    async def read_transaction(engine: Any, account_id: Any) -> AsyncIterator[Any]:
        marks["tx_enter"] = time.perf_counter()
        async with original(engine, account_id) as tx:
            yield tx
            marks["tx_body_done"] = time.perf_counter()
        marks["tx_exit"] = time.perf_counter()

    deps.read_transaction = read_transaction


async def requests(app: Any, path: str, token: str, n: int) -> dict[str, list[float]]:
    headers = [(b"authorization", f"Bearer {token}".encode()), (b"host", b"127.0.0.1"), (b"accept-encoding", b"br")]
    stages: dict[str, list[float]] = defaultdict(list)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200, message
            marks["response_start"] = time.perf_counter()

    for _ in range(n):
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80), "state": {},
        }  # fmt: skip
        marks.clear()
        marks["start"] = time.perf_counter()
        await app(scope, receive, send)
        marks["end"] = time.perf_counter()
        for stage, begin, end in STAGES:
            stages[stage].append((marks[end] - marks[begin]) * 1e6)
    return stages


async def floor(app_url: str, account_id: Any, session_id: Any, n: int) -> list[float]:
    conn = await asyncpg.connect(app_url.replace("postgresql+asyncpg://", "postgresql://"))
    timings = []
    try:
        for _ in range(n):
            started = time.perf_counter()
            async with conn.transaction():
                await conn.execute("SELECT set_config('app.current_account_id', $1, true)", str(account_id))
                await conn.fetch(SESSION_SQL, session_id)
            timings.append((time.perf_counter() - started) * 1e6)
    finally:
        await conn.close()
    return timings


def p50(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    quiet()
    with big_session() as big:
        app = create_app(big.settings, urls=big.urls)
        instrument()

        async def run() -> tuple[dict[str, list[float]], list[float]]:
            async with app.lifespan():
                path = f"/api/v1/ai-sessions/{big.session_id}"
                await requests(app, path, big.token, WARMUP)
                stages = await requests(app, path, big.token, N)
            await floor(big.urls.app, big.account_id, big.session_id, WARMUP)
            return stages, await floor(big.urls.app, big.account_id, big.session_id, N)

        stages, floor_us = asyncio.run(run())
        where = big.where
    print(f"database: {where}; GET /api/v1/ai-sessions/{{id}} in process (no HTTP), n={N}, p50 in microseconds")
    for stage, _, _ in STAGES:
        print(f"{stage:<20} {p50(stages[stage]):8.1f}")
    trips = p50(stages["query round trip"])
    whole = p50(stages["whole request"])
    print(f"round_trips_us={trips:.1f} python_us={whole - trips:.1f} (of {whole:.1f})")
    print(f"floor_us={p50(floor_us):.1f} (BEGIN, set_config, the row, COMMIT on one connection)")


if __name__ == "__main__":
    main()
