"""What the ConnectWise fake adds to ``flowpilot demo``'s start: starting it with the sample tickets, and reading
each sample ticket through the ``connectwise`` provider (what opening a sample session from the PSA does).

Prints the wall time of each part (median of ``RUNS``) and the requests one ticket read sends, and as a floor,
measured in the same run, one bare authenticated ``httpx`` GET of the same ticket from the same fake; the ratio says
how much of a read is the provider's own work (codebase lookup, status list, description note) rather than
loopback HTTP. No database: the database part of the demo's start is the same with or without a PSA.

Run from the repository root: ``.venv/bin/python bench/demo_psa_setup.py``. The last line is
``demo_psa_setup_ms=<start + reading the samples>``.
"""

from __future__ import annotations

import asyncio
import base64
import statistics
import time

import httpx
from flowpilot_connectwise import create_provider
from flowpilot_server.demo import SAMPLE_TICKETS
from flowpilot_server.demo_psa import start_demo_psa

RUNS = 30


async def read_samples(config: dict[str, object], refs: list[str]) -> None:
    for ref in refs:  # one provider per session, as open_session builds it
        provider = create_provider(dict(config))
        try:
            await provider.get_ticket(ref)
        finally:
            await provider.aclose()


async def bare_reads(url: str, auth: str, client_id: str, refs: list[str]) -> None:
    async with httpx.AsyncClient(headers={"Authorization": auth, "clientId": client_id}) as client:
        for ref in refs:
            (await client.get(f"{url}/service/tickets/{ref}")).raise_for_status()


async def main() -> None:
    starts, reads, floors, requests_per_read = [], [], [], []
    for _ in range(RUNS):
        began = time.perf_counter()
        fake, samples = start_demo_psa(SAMPLE_TICKETS)
        starts.append((time.perf_counter() - began) * 1000)
        try:
            refs = sorted(samples)
            before = len(fake.requests)
            began = time.perf_counter()
            await read_samples(fake.config(), refs)
            reads.append((time.perf_counter() - began) * 1000)
            requests_per_read.append((len(fake.requests) - before) / len(refs))
            token = base64.b64encode(f"{fake.company}+{fake.public_key}:{fake.private_key}".encode()).decode()
            began = time.perf_counter()
            await bare_reads(fake.api_url, f"Basic {token}", fake.client_id, refs)
            floors.append((time.perf_counter() - began) * 1000)
        finally:
            fake.close()
    start, read, floor = statistics.median(starts), statistics.median(reads), statistics.median(floors)
    print(f"runs={RUNS} samples={len(SAMPLE_TICKETS)}")
    print(f"fake_start_ms_median={start:.2f}")
    print(f"read_samples_ms_median={read:.2f} requests_per_ticket={statistics.mean(requests_per_read):.1f}")
    print(f"floor_bare_gets_ms_median={floor:.2f} ratio_vs_floor={read / floor:.1f}x")
    print(f"demo_psa_setup_ms={start + read:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
