"""ConnectWise requests per writeback: what one confirm & post costs against a tenant's rate limit.

Runs the writeback engine's sequence of provider calls (``psa_writeback.resolve``: look for the
marker, post the note, list the board's statuses, read, set, read and re-read the status) through
:class:`flowpilot_connectwise.provider.ConnectWiseProvider` against
:class:`flowpilot_connectwise.testing.FakeConnectWise` over local HTTP, one provider per writeback
as the engine makes them, and prints the requests each step sends and the wall time per writeback
(building and closing the provider included; local loopback, so the time is FlowPilot's own
overhead plus the fake's, not ConnectWise's latency). Also prints the requests a notes list needs
as it grows (pages of 1000).

Bounded: ``WRITEBACKS`` writebacks. The last line is ``connectwise_requests_per_writeback=<n>``.

Run from the repository root: ``.venv/bin/python bench/connectwise_writeback.py``.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from flowpilot_connectwise.testing import FakeNote

sys.path.insert(0, str(Path(__file__).resolve().parent))
from psa_writeback import connectwise, one_resolve, p95

WRITEBACKS = 200


async def main() -> None:
    with connectwise() as target:
        fake = target.fake
        runs = [await one_resolve(target, n, shared_tls=True) for n in range(WRITEBACKS)]
        times = [ms for ms, _ in runs]
        routes = Counter(r.route or "?" for _, sent in runs for r in sent)
        print(f"writebacks={WRITEBACKS}")
        print(f"writeback_ms_median={statistics.median(times):.2f} p95={p95(times):.2f}")
        for route, count in sorted(routes.items()):
            print(f"  {route}: {count / WRITEBACKS:.1f} requests per writeback")

        ticket = fake.add_ticket("Long ticket")
        provider = target.create(target.config)
        notes_held = fake.tickets[ticket.id].notes
        for size in (10, 1000, 2500):
            notes_held.extend(
                FakeNote(10**6 + i, ticket.id, f"note {i}", internal=True) for i in range(len(notes_held), size)
            )
            before = len(fake.requests)
            started = time.perf_counter()
            notes = await provider.list_notes(str(ticket.id))
            elapsed = (time.perf_counter() - started) * 1000
            print(f"list_notes notes={len(notes)} requests={len(fake.requests) - before} ms={elapsed:.1f}")
        await provider.aclose()
        print(f"connectwise_requests_per_writeback={statistics.mean(len(sent) for _, sent in runs):.1f}")


if __name__ == "__main__":
    asyncio.run(main())
