"""ConnectWise requests per writeback: what one confirm & post costs against a tenant's rate limit.

Runs the writeback engine's sequence of provider calls (look for the marker, post the
note, list the board's statuses, read, set, read and re-read the status) through
:class:`flowpilot_connectwise.provider.ConnectWiseProvider` against
:class:`flowpilot_connectwise.testing.FakeConnectWise` over local HTTP, and prints the
requests each step sends and the wall time per writeback (local loopback, so the time is
FlowPilot's own overhead plus the fake's, not ConnectWise's latency). Also prints the
requests a notes list needs as it grows (pages of 1000).

Bounded: ``WRITEBACKS`` writebacks. The last line is ``connectwise_requests_per_writeback=<n>``.

Run from the repository root: ``.venv/bin/python bench/connectwise_writeback.py``.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter

from flowpilot_connectwise import create_provider
from flowpilot_connectwise.provider import ConnectWiseProvider
from flowpilot_connectwise.testing import FakeConnectWise, FakeNote

WRITEBACKS = 200


async def writeback(provider: ConnectWiseProvider, ref: str, n: int) -> None:
    marker = f"[FlowPilot resolution bench-{n}]"
    if not any(marker in note.text for note in await provider.list_notes(ref)):
        await provider.post_note(ref, f"## Fix\nRestarted the spooler.\n\n{marker}", kind="resolution", internal=True)
    closed = next(s for s in await provider.list_statuses(ref) if s.name == "Closed")
    if (await provider.get_status(ref)).id != closed.id:
        await provider.set_status(ref, closed.id)
    await provider.get_status(ref)
    await provider.get_status(ref)  # the engine's re-read after its verify delay


async def main() -> None:
    with FakeConnectWise() as fake:
        times: list[float] = []
        per_writeback: list[int] = []
        routes: Counter[str] = Counter()
        for n in range(WRITEBACKS):
            ticket = fake.add_ticket(f"Bench ticket {n}", description="Printing is down")
            provider: ConnectWiseProvider = create_provider(fake.config())  # one provider per writeback, as the engine
            before = len(fake.requests)
            started = time.perf_counter()
            await writeback(provider, str(ticket.id), n)
            times.append((time.perf_counter() - started) * 1000)
            await provider.aclose()
            sent = fake.requests[before:]
            per_writeback.append(len(sent))
            routes.update(r.route or "?" for r in sent)
        print(f"writebacks={WRITEBACKS}")
        print(f"writeback_ms_median={statistics.median(times):.2f} p95={sorted(times)[int(len(times) * 0.95)]:.2f}")
        for route, count in sorted(routes.items()):
            print(f"  {route}: {count / WRITEBACKS:.1f} requests per writeback")

        ticket = fake.add_ticket("Long ticket")
        provider = create_provider(fake.config())
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
        print(f"connectwise_requests_per_writeback={statistics.mean(per_writeback):.1f}")


if __name__ == "__main__":
    asyncio.run(main())
