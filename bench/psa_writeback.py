"""A resolve against each built-in PSA's fake: PSA requests per resolve and wall time against a floor.

For ConnectWise, Autotask and HaloPSA, each against its fake over local HTTP:

**The PSA side.** The writeback engine's provider calls for one resolve (look for the marker
among the ticket's notes, post the note, list the statuses, read, set, read and re-read the
status), with a new provider per resolve as the engine builds them. Per provider:

- the PSA requests of the first resolve of the process (Autotask reads its zone, usage and
  picklists then, HaloPSA fetches its token) and of each later one;
- the wall time of a later resolve, p50 and p95, and a **floor** measured in the same run,
  right after each resolve: as many bare httpx GETs of a ticket to the same fake as that
  resolve sent, over one kept-open client (local loopback, so what is left above it is
  FlowPilot's provider code plus opening a client per resolve, not the PSA's latency), with
  the ratio of the p50s;
- resolves whose provider builds a TLS context of its own (what every provider paid before
  the plugins kept one per process), interleaved with the others, p50 and p95.

**Through the API.** ``POST .../resolution-note/post`` on the real server (uvicorn in this
process, PostgreSQL with RLS: embedded unless ``FLOWPILOT_TEST_DATABASE_URL`` names a server,
as in ``bench/answer_to_fact.py``), the status re-read after 1 ms instead of the default 2 s.
Per provider: the PSA requests the engine sent (first and later; the session's ticket was
read when it was opened, so Autotask's zone and HaloPSA's token are known by then), p50 and
p95, the same bare-GET floor, and an unlinked session's resolve timed alongside (the same
request and engine on the built-in ``local`` provider: FlowPilot's own ticket in PostgreSQL).
The difference between the two is what the PSA's HTTP calls cost beyond the local provider's
reads and writes.

Bounded: ``RESOLVES`` resolves per provider and TLS mode, ``API_RESOLVES`` per provider through
the API. Run from the repository root: ``.venv/bin/python bench/psa_writeback.py``. The last
lines are ``<provider>_requests_per_resolve=<n> p50_ratio=<r>`` and the same through the API.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flowpilot_autotask
import flowpilot_connectwise
import flowpilot_halopsa
import httpx
from flowpilot_autotask.testing import FakeAutotask
from flowpilot_connectwise.testing import FakeConnectWise
from flowpilot_halopsa.testing import FakeHaloPSA
from sqlalchemy.pool import NullPool

from flowpilot_core.accounts import accounts
from flowpilot_core.accounts.embed_tokens import mint_embed_token
from flowpilot_core.config import Settings
from flowpilot_core.db import migrate
from flowpilot_core.db.engine import DatabaseUrls, create_engine, derive_app_url, make_sessionmaker
from flowpilot_core.psa import PSAProvider
from flowpilot_core.psa.http_client import tls_context

sys.path.insert(0, str(Path(__file__).resolve().parent))
from answer_to_fact import SECRET_KEY, database, quiet, serve

RESOLVES = 60
API_RESOLVES = 30


@dataclass
class Target:
    """One PSA's fake as the bench drives it."""

    fake: Any
    config: dict[str, Any]
    create: Callable[[dict[str, Any]], PSAProvider]
    add_ticket: Callable[[], str]
    provider: str
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
                     lambda: str(fake.add_ticket("Printer offline").id), "connectwise", "Closed", floor_get,
                     tls_context)  # fmt: skip


@contextmanager
def autotask() -> Iterator[Target]:
    with FakeAutotask() as fake:

        async def floor_get(raw: httpx.AsyncClient, ref: str) -> httpx.Response:
            return await raw.get(f"{fake.api_url}/Tickets/{ref}", headers=fake.headers)

        yield Target(fake, fake.config(), flowpilot_autotask.create_provider,
                     lambda: str(fake.add_ticket("Printer offline").id), "autotask", "Complete", floor_get,
                     tls_context)  # fmt: skip


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
                     lambda: str(fake.add_ticket("Printer offline").id), "halopsa", "Closed", floor_get,
                     tls_context)  # fmt: skip


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


async def one_resolve(target: Target, n: int, *, shared_tls: bool) -> tuple[float, list[Any]]:
    """A resolve on a new ticket with a new provider: its milliseconds (building and closing the provider included)
    and the PSA requests it sent, as the fake recorded them."""
    ref = target.add_ticket()
    if not shared_tls:
        target.tls_cache.cache_clear()  # this provider builds a TLS context of its own
    before = len(target.fake.requests)
    started = time.perf_counter()
    provider = target.create(target.config)
    await resolve(provider, ref, target.resolved, n)
    await provider.aclose()
    return (time.perf_counter() - started) * 1000, target.fake.requests[before:]


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
        first_ms, first_sent = await one_resolve(target, 0, shared_tls=True)
        shared, own, floor, requests = [], [], [], []
        async with httpx.AsyncClient() as raw:
            floor_ref = target.add_ticket()
            (await target.floor_get(raw, floor_ref)).raise_for_status()  # connects (Halo: fetches a token)
            for n in range(1, 2 * RESOLVES + 1):
                if n % 2:
                    ms, sent = await one_resolve(target, n, shared_tls=True)
                    shared.append(ms)
                    requests.append(len(sent))
                    floor.append(await floor_round(target, raw, floor_ref, len(sent)))
                else:
                    own.append((await one_resolve(target, n, shared_tls=False))[0])
        target.tls_cache.cache_clear()
        later = statistics.mean(requests)
        p50, floor_p50 = statistics.median(shared), statistics.median(floor)
        print(f"{name}:")
        print(f"  requests per resolve: first {len(first_sent)}, later {later:.1f}")
        print(f"  resolve_ms p50={p50:.2f} p95={p95(shared):.2f} first={first_ms:.2f}")
        bare = f"{round(later)} bare GETs to the same fake"
        print(f"  floor_ms p50={floor_p50:.2f} ({bare}) ratio_p50={p50 / floor_p50:.2f}")
        print(f"  tls context per provider: p50={statistics.median(own):.2f} p95={p95(own):.2f} ms; "
              f"shared per process: p50={p50:.2f} p95={p95(shared):.2f} ms")  # fmt: skip
        return f"{name}_requests_per_resolve={later:.1f} p50_ratio={p50 / floor_p50:.2f}"


@dataclass
class Api:
    """The FlowPilot server under uvicorn on PostgreSQL, and one account's credentials."""

    base: str
    api_key: str
    token: str


async def api_bench(api: Api, name: str) -> str:
    """Resolves through ``POST .../resolution-note/post`` (the engine, PostgreSQL, RLS), each followed by its floor
    round; creating each session is not timed."""
    with TARGETS[name]() as target:
        technician = {"Authorization": f"Bearer {api.token}"}
        async with httpx.AsyncClient(base_url=api.base, timeout=30) as http, httpx.AsyncClient() as raw:
            made = await http.post(
                "/api/v1/psa-connections",
                json={"provider": target.provider, "name": name, "config": target.config,
                      "statuses": {"resolved": target.resolved, "escalated": target.resolved}},
                headers={"Authorization": f"Bearer {api.api_key}"},
            )  # fmt: skip
            made.raise_for_status()
            connection = str(made.json()["id"])
            floor_ref = target.add_ticket()
            (await target.floor_get(raw, floor_ref)).raise_for_status()
            times, requests, floor, local = [], [], [], []
            for _ in range(API_RESOLVES + 1):
                ms, sent = await api_resolve(http, technician, target, connection)
                times.append(ms)
                requests.append(sent)
                floor.append(await floor_round(target, raw, floor_ref, sent))
                local.append((await api_resolve(http, technician, None, None))[0])
        later, p50, floor_p50 = statistics.mean(requests[1:]), statistics.median(times[1:]), statistics.median(floor)
        local_p50 = statistics.median(local[1:])
        print(f"{name} through the API:")
        print(f"  requests per resolve: first {requests[0]}, later {later:.1f}")
        print(f"  resolve_ms p50={p50:.2f} p95={p95(times[1:]):.2f} first={times[0]:.2f}")
        print(f"  floor_ms p50={floor_p50:.2f} (as many bare GETs to the same fake) ratio_p50={p50 / floor_p50:.2f}")
        rest = p50 - local_p50
        print(f"  an unlinked session's resolve (the local provider) p50={local_p50:.2f}; the PSA's HTTP calls add "
              f"p50={rest:.2f} ms ({rest / floor_p50:.2f}x the floor)")  # fmt: skip
        return f"{name}_api_requests_per_resolve={later:.1f} api_p50_ratio={p50 / floor_p50:.2f}"


async def api_resolve(
    http: httpx.AsyncClient, technician: dict[str, str], target: Target | None, connection: str | None
) -> tuple[float, int]:
    """One timed ``POST .../resolution-note/post`` on a new session opened on a new ticket of ``target`` through
    ``connection`` (``None``: an unlinked session, resolved locally): its milliseconds and the PSA requests it
    sent. Creating the session (which reads the ticket) is not timed."""
    body = {"problem_statement": "Printing is down"}
    if target is not None:
        body |= {"ticket_ref": target.add_ticket(), "psa_connection": str(connection)}  # FlowPilot reads the ticket
    session = (await http.post("/api/v1/ai-sessions", json=body, headers=technician)).json()
    before = len(target.fake.requests) if target else 0
    started = time.perf_counter()
    posted = await http.post(
        f"/api/v1/ai-sessions/{session['id']}/resolution-note/post",
        json={"markdown": "## Fix\nRestarted the spooler.\n", "state_version": session["state_version"],
              "idempotency_key": f"bench-{session['id']}"},
        headers=technician,
    )  # fmt: skip
    elapsed = (time.perf_counter() - started) * 1000
    assert posted.status_code == 200 and posted.json()["state"] == ("done" if target else "local"), posted.text
    return elapsed, (len(target.fake.requests) - before if target else 0)


async def new_account(app_url: str) -> tuple[uuid.UUID, str, str]:
    engine = create_engine(app_url, poolclass=NullPool)
    try:
        async with make_sessionmaker(engine)() as db, db.begin():
            created = await accounts.create_account(db, name="Bench MSP", secret_key=SECRET_KEY)
            key = await accounts.create_api_key(db, created.id, "bench")
    finally:
        await engine.dispose()
    return created.id, created.embed_secret, key.key


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    quiet()
    print(f"the PSA side: resolves={RESOLVES} per provider and TLS mode, each shared-context one followed by its "
          "floor round")  # fmt: skip
    lines = [asyncio.run(bench(name)) for name in TARGETS]
    with tempfile.TemporaryDirectory(prefix="flowpilot-bench-") as tmp, database(Path(tmp)) as (owner, where):
        asyncio.run(migrate.upgrade(owner))
        urls = DatabaseUrls(owner=owner, app=derive_app_url(owner, "flowpilot_app", None), embedded=False)
        account_id, embed_secret, api_key = asyncio.run(new_account(urls.app))
        token = mint_embed_token(account_id=account_id, secret=embed_secret, user_id="bench-tech", name="Bench")
        settings = Settings(data_dir=Path(tmp) / "data", database_url=owner, secret_key=SECRET_KEY)
        with serve(settings, urls) as (base, app, _timer):
            for plugin in ("flowpilot_connectwise", "flowpilot_autotask", "flowpilot_halopsa"):
                logging.getLogger(plugin).setLevel(logging.WARNING)  # e.g. Halo's "fetched an access token"
            # The engine re-reads the status after verify_delay (2 s by default, for PSA workflow rules): 1 ms here.
            app.state.runtime.writeback.verify_delay = 0.001
            print(f"through the API: resolves={API_RESOLVES} per provider; database: {where}; verify_delay 1 ms")
            lines += [asyncio.run(api_bench(Api(base, api_key, token), name)) for name in TARGETS]
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
