"""HaloPSA requests per writeback, and what hosted Halo's 300-requests-per-5-minutes limit leaves of them.

Runs the writeback engine's sequence of provider calls (``psa_writeback.resolve``: look for the marker
among the ticket's actions, post the action, list the statuses, read, set, read and re-read the status)
through :class:`flowpilot_halopsa.provider.HaloPSAProvider` against
:class:`flowpilot_halopsa.testing.FakeHaloPSA` over local HTTP, one provider per writeback as the
engine builds them, and prints the requests each step sends and the wall time per writeback
(building and closing the provider included; local loopback: FlowPilot's own overhead plus the
fake's, not Halo's latency). It then runs a
burst through a small request budget against a fake enforcing the same rolling limit, and
prints its wall time against the floor that limit allows (measured in the same run) and the
429s the fake answered (0: the client-side budget kept inside the window).

Bounded: ``WRITEBACKS`` writebacks, then ``BURST`` more. The last line is
``halopsa_requests_per_writeback=<n>``.

Run from the repository root: ``.venv/bin/python bench/halopsa_writeback.py``.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import msgspec
from flowpilot_halopsa.config import Config
from flowpilot_halopsa.provider import HaloPSAProvider
from flowpilot_halopsa.testing import FakeHaloPSA

from flowpilot_core.psa.request_budget import SlidingWindow

sys.path.insert(0, str(Path(__file__).resolve().parent))
from psa_writeback import halopsa, one_resolve, p95, resolve

WRITEBACKS = 200
BURST = 12
BURST_LIMIT, BURST_WINDOW = 40, 1.0
HOSTED_LIMIT = 300


async def main() -> None:
    # psa_writeback.halopsa lifts the fake's own limit: this part counts requests, the burst below exercises it.
    with halopsa() as target:
        runs = [await one_resolve(target, n, shared_tls=True) for n in range(WRITEBACKS)]
        times = [ms for ms, _ in runs]
        routes = Counter(r.route or "?" for _, sent in runs for r in sent)
        print(f"writebacks={WRITEBACKS} tokens_fetched={target.fake.tokens_issued}")
        print(f"writeback_ms_median={statistics.median(times):.2f} p95={p95(times):.2f}")
        for route, count in sorted(routes.items()):
            print(f"  {route}: {count / WRITEBACKS:.2f} requests per writeback")
        mean = statistics.mean(len(sent) for _, sent in runs)
        print(f"writebacks_per_5_minutes_at_the_hosted_limit={HOSTED_LIMIT / mean:.1f} (nothing else using the API)")

    with FakeHaloPSA(requests_per_window=BURST_LIMIT, rate_window=BURST_WINDOW) as strict:
        budget = SlidingWindow(BURST_LIMIT, BURST_WINDOW)
        started = time.perf_counter()
        for n in range(BURST):
            ticket = strict.add_ticket(f"Burst ticket {n}")
            config = msgspec.convert(strict.config(max_retry_wait=BURST_WINDOW * 2), Config)
            provider = HaloPSAProvider(config, budget=budget)
            await resolve(provider, str(ticket.id), "Closed", n)
            await provider.aclose()
        elapsed = time.perf_counter() - started
        sent = len(strict.requests)
        floor = (math.ceil(sent / BURST_LIMIT) - 1) * BURST_WINDOW  # the fewest windows the requests fit in
        refused = sum(1 for r in strict.requests if r.status == 429)
        print(
            f"burst: {BURST} writebacks, {sent} requests through a budget of {BURST_LIMIT} per {BURST_WINDOW:g} s: "
            f"{elapsed:.2f} s, floor {floor:.2f} s, ratio {elapsed / floor if floor else float('nan'):.2f}, "
            f"429s from the fake {refused}"
        )
    print(f"halopsa_requests_per_writeback={mean:.1f}")


if __name__ == "__main__":
    asyncio.run(main())
