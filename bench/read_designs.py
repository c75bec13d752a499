"""What a single-round-trip read would save: the session row read three ways on the app role's pool.

``bench/read_stages.py`` shows a warm ``GET`` session spending three round trips (``BEGIN`` with the
tenant's ``set_config``, the row, ``COMMIT``) and about 200 µs of Python. The only lever left of that
size is the round trips, so this measures the designs that would take one, on the same row:

- **current**: :func:`~flowpilot_core.db.read_tx.read_transaction` and the route's statement, pool
  checkout and return included (what a ``GET`` does);
- **one statement**: ``set_config`` in a ``MATERIALIZED`` CTE joined before the row, in one implicit
  transaction. PostgreSQL promises no order here, and this shows what it does: it folds the tenant policy
  (``account_id = current_setting(...)``) with the statement's own ``account_id = $2`` into a one-time
  filter evaluated *before* the CTE runs, so the read finds nothing (it fails closed, never open);
- **PL/pgSQL function**: ``PERFORM set_config(...)`` then ``RETURN QUERY`` the same statement, in one
  call: statements of a function run in order, so it is correct, and PL/pgSQL keeps its plan per
  connection (a SQL-language function re-plans its body on every call, which costs more than the round
  trips it saves). It is a temporary function here; the design would put one per read in a migration.

The function design is timed on a connection held outside the pool, so add the pool's checkout and
return (about 40 µs, ``read_stages.py``) to compare it with **current**. p50 of ``N`` interleaved reads,
in microseconds. PostgreSQL as in ``bench/answer_to_fact.py``.
Run from the repository root: ``[taskset -c 0] .venv/bin/python bench/read_designs.py``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from answer_to_fact import quiet  # noqa: E402
from endpoints import BigSession, big_session  # noqa: E402
from sqlalchemy.util import greenlet_spawn  # noqa: E402

from flowpilot_core.db.engine import create_app_engine  # noqa: E402
from flowpilot_core.db.read_tx import read_transaction  # noqa: E402
from flowpilot_core.db.rows import statements  # noqa: E402
from flowpilot_core.sessions import lifecycle  # noqa: E402

N = 3000


def p50(values: list[float]) -> float:
    return sorted(values)[len(values) // 2] * 1e6


async def run(big: BigSession) -> tuple[dict[str, list[float]], int]:
    engine = create_app_engine(big.settings, big.urls.app)
    compiled, params = statements.get(
        lifecycle._GET_SESSION, {"session_id": big.session_id, "account_id": big.account_id}
    )
    args = compiled.arguments(params)  # $1 the session, $2 the account
    one_statement = (
        "WITH scope AS MATERIALIZED (SELECT set_config('app.current_account_id', $2::uuid::text, true) AS account) "
        f"SELECT q.* FROM scope, LATERAL ({compiled.sql}) q WHERE scope.account IS NOT NULL"
    )
    body = compiled.sql.replace("$1::UUID", "session").replace("$2::UUID", "account")
    timings: dict[str, list[float]] = {"current": [], "one statement": [], "PL/pgSQL function": []}
    found_by_one_statement = 0
    pooled = await greenlet_spawn(engine.sync_engine.raw_connection)
    held = pooled.driver_connection
    try:
        columns = await held.fetch(
            "SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute "
            "WHERE attrelid = 'ai_sessions'::regclass AND attnum > 0 AND NOT attisdropped"
        )
        types = {row["attname"]: row["type"] for row in columns}
        names = [column.strip().rsplit(".", 1)[-1] for column in body.split("\nFROM ")[0][len("SELECT ") :].split(",")]
        returns = ", ".join(f"out_{name} {types[name]}" for name in names)
        await held.execute(
            f"CREATE FUNCTION pg_temp.read_session(session uuid, account uuid) RETURNS TABLE ({returns}) "
            "LANGUAGE plpgsql STABLE AS $fn$ BEGIN "
            "PERFORM set_config('app.current_account_id', account::text, true); "
            f"RETURN QUERY {body}; END $fn$"
        )
        for _ in range(N):
            started = time.perf_counter()
            async with read_transaction(engine, big.account_id) as tx:
                row = await tx.connection.fetchrow(compiled.sql, *args)
            timings["current"].append(time.perf_counter() - started)
            assert row is not None
            started = time.perf_counter()
            row = await held.fetchrow(one_statement, *args)
            timings["one statement"].append(time.perf_counter() - started)
            found_by_one_statement += row is not None
            started = time.perf_counter()
            row = await held.fetchrow("SELECT * FROM pg_temp.read_session($1, $2)", big.session_id, big.account_id)
            timings["PL/pgSQL function"].append(time.perf_counter() - started)
            assert row is not None and row["out_id"] == big.session_id
    finally:
        await greenlet_spawn(pooled.invalidate)  # its temporary function goes with it
        await engine.dispose()
    return timings, found_by_one_statement


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    quiet()
    with big_session() as big:
        timings, found = asyncio.run(run(big))
        where = big.where
    print(f"database: {where}; the big session's row, n={N} interleaved; p50 in microseconds")
    print(f"{'current (3 round trips, pool included)':<44} {p50(timings['current']):8.1f}")
    print(f"{'one statement (1 round trip, held)':<44} {p50(timings['one statement']):8.1f}  found the row {found}/{N}")
    print(f"{'PL/pgSQL function (1 round trip, held)':<44} {p50(timings['PL/pgSQL function']):8.1f}")
    print(
        f"function_saving_us={p50(timings['current']) - p50(timings['PL/pgSQL function']):.1f} (before the pool's ~40)"
    )


if __name__ == "__main__":
    main()
