"""The designs of a read's round trips, on the session row: why a ``GET`` reads in one.

A ``GET`` reads with one statement, so its cost is mostly round trips. Three designs, each on the app
role's pool through :func:`~flowpilot_core.db.read_tx.read_transaction`, the big session of
``bench/endpoints.py``, p50 of ``N`` interleaved reads in microseconds (checkout and return included):

- **alone** (what the server does): the statement scoped to the account by itself
  (:func:`~flowpilot_core.db.read_tx.scoped_alone`), one round trip in an implicit transaction;
- **in a transaction** (what it does behind PgBouncer, and what it did before): ``BEGIN`` with the
  tenant's ``set_config``, the statement, ``COMMIT``: three round trips;
- **CTE beside the statement**: ``set_config`` in a ``MATERIALIZED`` CTE joined to the unchanged
  statement, one round trip. It finds nothing: PostgreSQL derives ``$2 = current_setting(...)`` from the
  statement's ``account_id = $2`` and the tenant policy, and checks it as a one-time filter before the CTE
  runs (it fails closed, never open). The lateral rewrite of **alone** makes the statement depend on the
  ``set_config``'s result instead, which orders them.

PostgreSQL as in ``bench/answer_to_fact.py``.
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

from flowpilot_core.db.engine import create_app_engine  # noqa: E402
from flowpilot_core.db.read_tx import read_transaction  # noqa: E402
from flowpilot_core.db.rows import fetch_one, statements  # noqa: E402
from flowpilot_core.sessions import lifecycle  # noqa: E402

N = 3000
DESIGNS = ("alone", "in a transaction", "CTE beside the statement")


def p50(values: list[float]) -> float:
    return sorted(values)[len(values) // 2] * 1e6


async def run(big: BigSession) -> tuple[dict[str, list[float]], dict[str, int]]:
    engine = create_app_engine(big.settings, big.urls.app)
    params = {"session_id": big.session_id, "account_id": big.account_id}
    compiled, _ = statements.get(lifecycle._GET_SESSION, params)
    args = compiled.arguments(params)  # $1 the session, $2 the account
    beside = (
        "WITH scope AS MATERIALIZED (SELECT set_config('app.current_account_id', $2::uuid::text, true) AS account) "
        f"SELECT q.* FROM scope, LATERAL ({compiled.sql}) q WHERE scope.account IS NOT NULL"
    )
    timings: dict[str, list[float]] = {design: [] for design in DESIGNS}
    found = dict.fromkeys(DESIGNS, 0)
    try:
        for _ in range(N):
            for design in DESIGNS:
                started = time.perf_counter()
                async with read_transaction(engine, big.account_id) as tx:
                    if design == "alone":
                        row = await fetch_one(tx, lifecycle._GET_SESSION, params)
                    elif design == "in a transaction":
                        row = await (await tx.begin()).fetchrow(compiled.sql, *args)
                    else:
                        row = await tx.fetchrow(beside, args, (beside, 1))  # run alone, as written
                timings[design].append(time.perf_counter() - started)
                found[design] += row is not None
    finally:
        await engine.dispose()
    return timings, found


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    quiet()
    with big_session() as big:
        timings, found = asyncio.run(run(big))
        where = big.where
    print(f"database: {where}; the big session's row, n={N} interleaved; p50 in microseconds, pool included")
    for design in DESIGNS:
        print(f"{design:<28} {p50(timings[design]):8.1f}  found the row {found[design]}/{N}")
    print(f"alone_saving_us={p50(timings['in a transaction']) - p50(timings['alone']):.1f}")


if __name__ == "__main__":
    main()
