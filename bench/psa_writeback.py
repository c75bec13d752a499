"""The PSA side of a resolve, for every built-in PSA: requests per resolve and wall time against a floor.

For ConnectWise, Autotask and HaloPSA, runs the writeback engine's provider calls for one
resolve (look for the marker among the ticket's notes, post the note, list the statuses, read,
set, read and re-read the status) against the PSA's fake over local HTTP, with a new provider
per resolve as the engine builds them, and prints per provider:

- the PSA requests of the first resolve of the process (Autotask reads its zone, usage and
  picklists then, HaloPSA fetches its token) and of each later one;
- the wall time of a later resolve, p50 and p95, and a **floor** measured in the same run,
  right after each resolve: as many bare httpx GETs of a ticket to the same fake as that
  resolve sent, over one kept-open client (local loopback, so what is left above it is
  FlowPilot's provider code plus opening a client per resolve, not the PSA's latency), with
  the ratio of the p50s;
- resolves whose provider builds a TLS context of its own (what every provider paid before
  the plugins kept one per process), interleaved with the others, p50 and p95.

Bounded: ``RESOLVES`` resolves per provider and TLS mode. Run from the repository root:
``.venv/bin/python bench/psa_writeback.py``. The last lines are
``<provider>_requests_per_resolve=<n> p50_ratio=<r>``.
"""

from __future__ import annotations

import asyncio
import base64
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import flowpilot_autotask
import flowpilot_connectwise
import flowpilot_halopsa
import httpx
from flowpilot_autotask import shared as autotask_shared
from flowpilot_autotask.testing import FakeAutotask
from flowpilot_connectwise import http as connectwise_http
from flowpilot_connectwise.testing import FakeConnectWise
from flowpilot_halopsa import http as halo_http
from flowpilot_halopsa.testing import FakeHaloPSA

from flowpilot_core.psa import PSAProvider

RESOLVES = 60


@dataclass
class Target:
    """One PSA's fake as the bench drives it."""

    fake: Any
    config: dict[str, Any]
    create: Callable[[dict[str, Any]], PSAProvider]
    add_ticket: Callable[[], str]
    resolved: str
    floor_get: Callable[[httpx.AsyncClient, str], Awaitable[httpx.Response]]
    """A bare GET of a ticket, authenticated as the provider would be."""
    tls_cache: Any
    """The plugin's per-process TLS context (``functools.cache``), cleared to measure a provider without it."""


@contextmanager
def connectwise() -> Iterator[Target]:
    with FakeConnectWise() as fake:
        token = base64.b64encode(f"{fake.company}+{fake.public_key}:{fake.private_key}".encode()).decode()
        headers = {"Authorization": f"Basic {token}", "clientId": fake.client_id}

        async def floor_get(raw: httpx.AsyncClient, ref: str) -> httpx.Response:
            return await raw.get(f"{fake.api_url}/service/tickets/{ref}", headers=headers)

        yield Target(fake, fake.config(), flowpilot_connectwise.create_provider,
                     lambda: str(fake.add_ticket("Printer offline").id), "Closed", floor_get,
                     connectwise_http.tls_context)  # fmt: skip


@contextmanager
def autotask() -> Iterator[Target]:
    with FakeAutotask() as fake:

        async def floor_get(raw: httpx.AsyncClient, ref: str) -> httpx.Response:
            return await raw.get(f"{fake.api_url}/Tickets/{ref}", headers=fake.headers)

        yield Target(fake, fake.config(), flowpilot_autotask.create_provider,
                     lambda: str(fake.add_ticket("Printer offline").id), "Complete", floor_get,
                     autotask_shared.tls_context)  # fmt: skip


@contextmanager
def halopsa() -> Iterator[Target]:
    # The fake's limit and the client budget are lifted: this counts requests (bench/halopsa_writeback.py
    # exercises the budget).
    with FakeHaloPSA(requests_per_window=10**6) as fake:
        config = fake.config(requests_per_window=10**5)
        bearer: dict[str, str] = {}

        async def floor_get(raw: httpx.AsyncClient, ref: str) -> httpx.Response:
            if not bearer:
                form = {"grant_type": "client_credentials", "client_id": fake.client_id,
                        "client_secret": fake.client_secret, "scope": "all"}  # fmt: skip
                token = await raw.post(f"{fake.url}/auth/token", params={"tenant": fake.tenant}, data=form)
                bearer["Authorization"] = f"Bearer {token.raise_for_status().json()['access_token']}"
            return await raw.get(f"{fake.api_url}/Tickets/{ref}", headers=bearer)

        yield Target(fake, config, flowpilot_halopsa.create_provider,
                     lambda: str(fake.add_ticket("Printer offline").id), "Closed", floor_get,
                     halo_http.tls_context)  # fmt: skip


TARGETS: dict[str, Callable[[], AbstractContextManager[Target]]] = {
    "connectwise": connectwise,
    "autotask": autotask,
    "halopsa": halopsa,
}


async def resolve(provider: PSAProvider, ref: str, resolved: str, n: int) -> None:
    """What WritebackService does with the provider for one resolve (its verify delay left out)."""
    marker = f"[FlowPilot resolution bench-{n}]"
    if not any(marker in note.text for note in await provider.list_notes(ref)):
        await provider.post_note(ref, f"## Fix\nRestarted the spooler.\n\n{marker}", kind="resolution", internal=True)
    wanted = next(s for s in await provider.list_statuses(ref) if s.name == resolved)
    if (await provider.get_status(ref)).id != wanted.id:
        await provider.set_status(ref, wanted.id)
    assert (await provider.get_status(ref)).id == wanted.id
    assert (await provider.get_status(ref)).id == wanted.id  # the engine's re-read after its verify delay


async def one_resolve(target: Target, n: int, *, shared_tls: bool) -> tuple[float, int]:
    """A resolve on a new ticket with a new provider: (milliseconds, PSA requests)."""
    ref = target.add_ticket()
    if not shared_tls:
        target.tls_cache.cache_clear()  # this provider builds a TLS context of its own
    before = len(target.fake.requests)
    started = time.perf_counter()
    provider = target.create(target.config)
    await resolve(provider, ref, target.resolved, n)
    await provider.aclose()
    return (time.perf_counter() - started) * 1000, len(target.fake.requests) - before


async def floor_round(target: Target, raw: httpx.AsyncClient, ref: str, requests: int) -> float:
    """Milliseconds for ``requests`` bare GETs of a ticket over one kept-open client."""
    started = time.perf_counter()
    for _ in range(requests):
        (await target.floor_get(raw, ref)).raise_for_status()
    return (time.perf_counter() - started) * 1000


def p95(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.95)]


async def bench(name: str) -> str:
    """The first resolve, then resolves with the shared TLS context, each followed by its floor round, interleaved
    with resolves that build their own (so load on the machine falls on all three alike)."""
    with TARGETS[name]() as target:
        target.tls_cache.cache_clear()
        first_ms, first_requests = await one_resolve(target, 0, shared_tls=True)
        shared, own, floor, requests = [], [], [], []
        async with httpx.AsyncClient() as raw:
            floor_ref = target.add_ticket()
            (await target.floor_get(raw, floor_ref)).raise_for_status()  # connects (Halo: fetches a token)
            for n in range(1, 2 * RESOLVES + 1):
                if n % 2:
                    ms, sent = await one_resolve(target, n, shared_tls=True)
                    shared.append(ms)
                    requests.append(sent)
                    floor.append(await floor_round(target, raw, floor_ref, sent))
                else:
                    own.append((await one_resolve(target, n, shared_tls=False))[0])
        target.tls_cache.cache_clear()
        later = statistics.mean(requests)
        p50, floor_p50 = statistics.median(shared), statistics.median(floor)
        print(f"{name}:")
        print(f"  requests per resolve: first {first_requests}, later {later:.1f}")
        print(f"  resolve_ms p50={p50:.2f} p95={p95(shared):.2f} first={first_ms:.2f}")
        bare = f"{round(later)} bare GETs to the same fake"
        print(f"  floor_ms p50={floor_p50:.2f} ({bare}) ratio_p50={p50 / floor_p50:.2f}")
        print(f"  tls context per provider: p50={statistics.median(own):.2f} p95={p95(own):.2f} ms; "
              f"shared per process: p50={p50:.2f} p95={p95(shared):.2f} ms")  # fmt: skip
        return f"{name}_requests_per_resolve={later:.1f} p50_ratio={p50 / floor_p50:.2f}"


async def main() -> None:
    print(f"resolves={RESOLVES} per provider and TLS mode, each shared-context one followed by its floor round")
    lines = [await bench(name) for name in TARGETS]
    for line in lines:
        print(line)


if __name__ == "__main__":
    asyncio.run(main())
