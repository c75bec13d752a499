"""Autotask requests per writeback: what one confirm & post costs against a database's hourly threshold.

Runs the writeback engine's sequence of provider calls (``psa_writeback.resolve``: look for the
marker, post the note, list the statuses, read, set, read and re-read the status) through
:class:`flowpilot_autotask.provider.AutotaskProvider` against
:class:`flowpilot_autotask.testing.FakeAutotask` over local HTTP, one provider per
writeback as the engine makes them. It prints the requests each route receives per
writeback, for the first writeback of the process (the zone, ``ThresholdInformation`` and
the picklists are read) and for the ones after it (they are kept), and the wall time per
writeback (building and closing the provider included) against a floor measured in the same
run: the same number of bare httpx GETs to the same fake (local loopback, so the time is
FlowPilot's own overhead plus the fake's, not Autotask's latency). It also prints the requests
a notes list needs as it grows (pages of 500), how many writebacks per hour fit in the default
``hourly_budget``, and what a provider's HTTP transport costs with a TLS context of its own and
with the shared one.

Bounded: ``WRITEBACKS`` writebacks. The last line is ``autotask_requests_per_writeback=<n>``.

Run from the repository root: ``.venv/bin/python bench/autotask_writeback.py``.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
from flowpilot_autotask.config import Config
from flowpilot_autotask.testing import FakeNote

from flowpilot_core.psa.http_client import tls_context

sys.path.insert(0, str(Path(__file__).resolve().parent))
from psa_writeback import Target, autotask, floor_round, one_resolve, p95

WRITEBACKS = 200


def timed_ms(build: Callable[[], object], rounds: int = 10) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        build()
    return (time.perf_counter() - started) * 1000 / rounds


async def floor_ms(target: Target, requests: int, ref: str) -> float:
    """Milliseconds for ``requests`` bare GETs of a ticket (median of 20 rounds)."""
    async with httpx.AsyncClient() as raw:
        return statistics.median([await floor_round(target, raw, ref, requests) for _ in range(20)])


async def main() -> None:
    with autotask() as target:
        fake = target.fake
        runs = [await one_resolve(target, n, shared_tls=True) for n in range(WRITEBACKS)]
        times = [ms for ms, _ in runs]
        first = Counter(r.route or "?" for r in runs[0][1])
        after = Counter(r.route or "?" for _, sent in runs[1:] for r in sent)
        steady = statistics.mean(len(sent) for _, sent in runs[1:])
        print(f"writebacks={WRITEBACKS}")
        cold = ", ".join(f"{route} {count}" for route, count in sorted(first.items()))
        print(f"first writeback: {sum(first.values())} requests ({cold})")
        print(f"later writebacks: {steady:.1f} requests each")
        for route, count in sorted(after.items()):
            print(f"  {route}: {count / (WRITEBACKS - 1):.1f} per writeback")
        median = statistics.median(times[1:])
        floor = await floor_ms(target, round(steady), target.add_ticket())
        print(f"writeback_ms_median={median:.2f} p95={p95(times[1:]):.2f} first={times[0]:.2f}")
        print(f"floor_ms={floor:.2f} ({round(steady)} bare GETs to the same fake) ratio={median / floor:.2f}")
        budget = Config(username="u", secret="s", integration_code="c").hourly_budget  # the default
        print(f"writebacks_per_hour_within_hourly_budget={int(budget // steady)} (hourly_budget={budget})")

        fresh = timed_ms(lambda: httpx.AsyncHTTPTransport())
        kept = timed_ms(lambda: httpx.AsyncHTTPTransport(verify=tls_context()))
        print(f"transport_ms fresh_tls_context={fresh:.2f} shared_tls_context={kept:.3f} (per provider)")

        ticket = fake.add_ticket("Long ticket")
        provider = target.create(target.config)
        notes_held = fake.tickets[ticket.id].notes
        for size in (10, 500, 1200):
            notes_held.extend(FakeNote(10**8 + i, ticket.id, f"note {i}", 1, 1) for i in range(len(notes_held), size))
            before = len(fake.requests)
            started = time.perf_counter()
            notes = await provider.list_notes(str(ticket.id))
            elapsed = (time.perf_counter() - started) * 1000
            print(f"list_notes notes={len(notes)} requests={len(fake.requests) - before} ms={elapsed:.1f}")
        await provider.aclose()
        print(f"autotask_requests_per_writeback={steady:.1f}")


if __name__ == "__main__":
    asyncio.run(main())
