"""Round trips to PostgreSQL per authenticated read, counted on the wire (``RoundTripCounter``).

A read is one statement that scopes itself to the tenant (``flowpilot_core.db.read_tx``): one round trip;
a known embed token adds nothing, an API key or a token this process has not seen one query.
These tests fail when a change adds a round trip to a hot read (a ``BEGIN`` and ``COMMIT`` around it, a
separate ``set_config``, a user upsert on every request, a second query).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator

import pytest
from flowpilot_server.app import create_app
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flowpilot_core.accounts import accounts
from flowpilot_core.config import Settings
from flowpilot_core.db.engine import DatabaseUrls, tenant_session
from flowpilot_core.db.models import User
from flowpilot_core.testing.round_trips import RoundTripCounter
from tests.conftest import Tenant

Client = AsyncTestClient[Litestar]
BASE = "/api/v1/ai-sessions"


@pytest.fixture
def counter(db_urls: DatabaseUrls) -> Iterator[RoundTripCounter]:
    with RoundTripCounter(db_urls.app) as proxy:
        yield proxy


@pytest.fixture
async def counted(settings: Settings, db_urls: DatabaseUrls, counter: RoundTripCounter) -> AsyncIterator[Client]:
    urls = dataclasses.replace(db_urls, app=counter.url_for(db_urls.app))
    async with AsyncTestClient(app=create_app(settings, urls=urls)) as test_client:
        yield test_client


async def _session_with_facts(client: Client, headers: dict[str, str]) -> str:
    created = await client.post(BASE, json={"problem_statement": "Printer offline on floor 2"}, headers=headers)
    assert created.status_code == 201, created.text
    session_id = str(created.json()["id"])
    for i in range(3):
        note = await client.post(f"{BASE}/{session_id}/facts", json={"text": f"Fact {i}"}, headers=headers)
        assert note.status_code == 201, note.text
    return session_id


async def _round_trips(client: Client, counter: RoundTripCounter, path: str, headers: dict[str, str]) -> int:
    warm = await client.get(path, headers=headers)  # the driver's statement cache and the token cache fill
    assert warm.status_code == 200, warm.text
    counter.reset()
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return counter.count


READS = ["", "/facts", "/task-lane", "/messages", "/suggested-fixes"]


@pytest.mark.parametrize("path", READS)
async def test_embed_token_read_takes_one_round_trip(
    counted: Client, counter: RoundTripCounter, tenant: Tenant, path: str
) -> None:
    """The read, scoped in the same statement: a known token costs no query."""
    headers = tenant.headers()
    session_id = await _session_with_facts(counted, headers)
    assert await _round_trips(counted, counter, f"{BASE}/{session_id}{path}", headers) == 1


@pytest.mark.parametrize("path", READS)
async def test_api_key_read_takes_two_round_trips(
    counted: Client, counter: RoundTripCounter, tenant: Tenant, path: str
) -> None:
    """An API key is looked up on every request (a revoked key stops working at once): one query more."""
    session_id = await _session_with_facts(counted, tenant.api_headers)
    assert await _round_trips(counted, counter, f"{BASE}/{session_id}{path}", tenant.api_headers) == 2


async def test_opening_a_session_is_one_round_trip(counted: Client, counter: RoundTripCounter, tenant: Tenant) -> None:
    """The session with its facts, its fixes and its recent messages in one query (one snapshot)."""
    headers = tenant.headers()
    session_id = await _session_with_facts(counted, headers)
    assert await _round_trips(counted, counter, f"{BASE}/{session_id}/open", headers) == 1


async def test_session_list_and_search_take_one_round_trip(
    counted: Client, counter: RoundTripCounter, tenant: Tenant
) -> None:
    headers = tenant.headers()
    await _session_with_facts(counted, headers)
    assert await _round_trips(counted, counter, f"{BASE}?status=open", headers) == 1
    assert await _round_trips(counted, counter, f"{BASE}?q=printer", headers) == 1


async def test_a_token_seen_by_another_worker_costs_one_read_and_no_write(
    counted: Client, counter: RoundTripCounter, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A worker that has not seen the token yet verifies it with one query (the account's secret and the
    technician together) and writes nothing when the stored technician matches the claims; new claims
    (another name) are stored."""
    headers = tenant.headers(name="Dana Tech")
    session_id = await _session_with_facts(counted, headers)
    path = f"{BASE}/{session_id}"
    assert (await counted.get(path, headers=headers)).status_code == 200
    accounts._known_tokens.clear()  # as on a worker that never saw this token
    counter.reset()
    assert (await counted.get(path, headers=headers)).status_code == 200
    assert counter.count == 2  # account + technician, then the session

    renamed = tenant.headers(name="Dana Technician", email="dana@msp.example")
    assert (await counted.get(path, headers=renamed)).status_code == 200
    async with tenant_session(sessionmaker, tenant.account_id) as db:
        users = (await db.execute(select(User.external_id, User.display_name, User.email))).all()
    assert [tuple(u) for u in users] == [("tech-1", "Dana Technician", "dana@msp.example")]
