"""Autotask requests per writeback: what one confirm & post costs against a database's hourly threshold.

Runs the writeback engine's sequence of provider calls (look for the marker, post the
note, list the statuses, read, set, read and re-read the status) through
:class:`flowpilot_autotask.provider.AutotaskProvider` against
:class:`flowpilot_autotask.testing.FakeAutotask` over local HTTP, one provider per
writeback as the engine makes them. It prints the requests each route receives per
writeback, for the first writeback of the process (the zone, ``ThresholdInformation`` and
the picklists are read) and for the ones after it (they are kept), and the wall time per
writeback against a floor measured in the same run: the same number of bare httpx GETs to
the same fake (local loopback, so the time is FlowPilot's own overhead plus the fake's,
not Autotask's latency). It also prints the requests a notes list needs as it grows
(pages of 500), how many writebacks per hour fit in the default ``hourly_budget``, and what
a provider's HTTP transport costs with a TLS context of its own and with the shared one.

Bounded: ``WRITEBACKS`` writebacks. The last line is ``autotask_requests_per_writeback=<n>``.

Run from the repository root: ``.venv/bin/python bench/autotask_writeback.py``.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Callable

import httpx
from flowpilot_autotask import create_provider, shared
from flowpilot_autotask.config import Config
from flowpilot_autotask.provider import AutotaskProvider
from flowpilot_autotask.testing import FakeAutotask, FakeNote

WRITEBACKS = 200


async def writeback(provider: AutotaskProvider, ref: str, n: int) -> None:
    marker = f"[FlowPilot resolution bench-{n}]"
    if not any(marker in note.text for note in await provider.list_notes(ref)):
        await provider.post_note(ref, f"## Fix\nRestarted the spooler.\n\n{marker}", kind="resolution", internal=True)
    complete = next(s for s in await provider.list_statuses(ref) if s.name == "Complete")
    if (await provider.get_status(ref)).id != complete.id:
        await provider.set_status(ref, complete.id)
    await provider.get_status(ref)
    await provider.get_status(ref)  # the engine's re-read after its verify delay


def timed_ms(build: Callable[[], object], rounds: int = 10) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        build()
    return (time.perf_counter() - started) * 1000 / rounds


async def floor_ms(fake: FakeAutotask, requests: int, ticket_id: int) -> float:
    """Milliseconds for ``requests`` bare GETs of a ticket (median of 20 rounds)."""
    rounds: list[float] = []
    async with httpx.AsyncClient(headers=fake.headers) as raw:
        for _ in range(20):
            started = time.perf_counter()
            for _ in range(requests):
                (await raw.get(f"{fake.api_url}/Tickets/{ticket_id}")).raise_for_status()
            rounds.append((time.perf_counter() - started) * 1000)
    return statistics.median(rounds)


async def main() -> None:
    with FakeAutotask() as fake:
        times: list[float] = []
        per_writeback: list[int] = []
        first: Counter[str] = Counter()
        after: Counter[str] = Counter()
        for n in range(WRITEBACKS):
            ticket = fake.add_ticket(f"Bench ticket {n}", description="Printing is down")
            provider: AutotaskProvider = create_provider(fake.config())  # one provider per writeback, as the engine
            before = len(fake.requests)
            started = time.perf_counter()
            await writeback(provider, str(ticket.id), n)
            times.append((time.perf_counter() - started) * 1000)
            await provider.aclose()
            sent = fake.requests[before:]
            (first if n == 0 else after).update(r.route or "?" for r in sent)
            if n:
                per_writeback.append(len(sent))
        steady = statistics.mean(per_writeback)
        print(f"writebacks={WRITEBACKS}")
        cold = ", ".join(f"{route} {count}" for route, count in sorted(first.items()))
        print(f"first writeback: {sum(first.values())} requests ({cold})")
        print(f"later writebacks: {steady:.1f} requests each")
        for route, count in sorted(after.items()):
            print(f"  {route}: {count / (WRITEBACKS - 1):.1f} per writeback")
        median = statistics.median(times[1:])
        floor = await floor_ms(fake, round(steady), fake.add_ticket("Floor").id)
        print(f"writeback_ms_median={median:.2f} p95={sorted(times[1:])[int(len(times[1:]) * 0.95)]:.2f} "
              f"first={times[0]:.2f}")  # fmt: skip
        print(f"floor_ms={floor:.2f} ({round(steady)} bare GETs to the same fake) ratio={median / floor:.2f}")
        budget = Config(username="u", secret="s", integration_code="c").hourly_budget  # the default
        print(f"writebacks_per_hour_within_hourly_budget={int(budget // steady)} (hourly_budget={budget})")

        fresh = timed_ms(lambda: httpx.AsyncHTTPTransport())
        kept = timed_ms(lambda: httpx.AsyncHTTPTransport(verify=shared.tls_context()))
        print(f"transport_ms fresh_tls_context={fresh:.2f} shared_tls_context={kept:.3f} (per provider)")

        ticket = fake.add_ticket("Long ticket")
        provider = create_provider(fake.config())
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
