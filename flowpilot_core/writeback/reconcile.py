"""At start-up, finish the writebacks a crash abandoned half-way (killed between posting and storing).

Which writebacks were abandoned is a question across accounts, so their ids are read with
the owner connection (migrations use it too); each one is then finished as the
application role, inside its own account, by :meth:`WritebackService.resume`. Only rows
untouched for ``stale_after`` seconds are taken, so a confirmation another replica is
working on right now is left to it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection

from sqlalchemy import text
from sqlalchemy.pool import NullPool

from flowpilot_core.accounts import Principal
from flowpilot_core.db.engine import create_engine
from flowpilot_core.writeback.engine import WritebackResult, WritebackService

log = logging.getLogger("flowpilot.writeback")

ABANDONED = text(
    "SELECT account_id, id FROM writebacks WHERE state IN ('pending', 'posted') "
    "AND updated_at < clock_timestamp() - make_interval(secs => :stale) ORDER BY created_at"
)


async def abandoned_writebacks(owner_url: str, stale_after: float) -> list[tuple[uuid.UUID, uuid.UUID]]:
    engine = create_engine(owner_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(ABANDONED, {"stale": stale_after})
            return [(row.account_id, row.id) for row in rows]
    finally:
        await engine.dispose()


async def reconcile_abandoned(
    service: WritebackService,
    owner_url: str,
    *,
    stale_after: float = 60.0,
    accounts: Collection[uuid.UUID] | None = None,
) -> list[WritebackResult]:
    """Resume every abandoned writeback (of ``accounts``, or all); one that still fails is logged and left for the
    technician's retry or the next start-up."""
    results: list[WritebackResult] = []
    try:
        abandoned = await abandoned_writebacks(owner_url, stale_after)
    except Exception as exc:  # the database not up yet: the next start-up (or the technician's retry) does it
        log.warning("could not look for abandoned writebacks: %s", exc)
        return results
    for account_id, writeback_id in abandoned:
        if accounts is not None and account_id not in accounts:
            continue
        try:
            results.append(await service.resume(Principal(account_id=account_id, via="api_key"), writeback_id))
        except Exception as exc:  # a PSA still down: the technician's retry, or the next start-up, finishes it
            log.warning("writeback %s could not be reconciled: %s", writeback_id, exc)
    return results
