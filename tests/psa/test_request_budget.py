"""PSA request budgets (``flowpilot_core.psa.request_budget``): in the process, and in a real Redis shared by
every process that names the same budget, so that replicas together stay inside a PSA's limit."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator

import msgspec
import pytest
from flowpilot_autotask.config import Config as AutotaskConfig
from flowpilot_autotask.provider import AutotaskProvider
from flowpilot_autotask.testing import FakeAutotask
from flowpilot_halopsa.config import Config
from flowpilot_halopsa.provider import HaloPSAProvider
from flowpilot_halopsa.testing import FakeHaloPSA

from flowpilot_core.config import Settings
from flowpilot_core.db.engine import DatabaseUrls
from flowpilot_core.library import FlowPilot
from flowpilot_core.psa import request_budget
from flowpilot_core.psa.errors import PSARateLimited
from flowpilot_core.psa.request_budget import (
    LocalConcurrency,
    RequestBudget,
    SharedConcurrency,
    SharedWindow,
    SlidingWindow,
    Slot,
    budget_for,
    concurrency_for,
)
from tests.redis_support import redis_or_fail

# A Redis database of its own; every test names budgets of its own, so runs never collide.
REDIS_URL = os.environ.get("FLOWPILOT_TEST_BUDGETS_REDIS_URL", "redis://127.0.0.1:6379/13")


def counted(got: Slot | float) -> bool:
    """Whether ``take`` counted the request (a :class:`Slot`) rather than saying how long to wait."""
    return isinstance(got, Slot)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def redis_reachable() -> AsyncIterator[None]:
    redis = await redis_or_fail(REDIS_URL, "FLOWPILOT_TEST_BUDGETS_REDIS_URL")
    await redis.aclose()
    yield


def replica(name: str, limit: int, window: float, url: str = REDIS_URL) -> SharedWindow:
    """The budget ``name`` as another process sees it: a Redis client of its own."""
    return SharedWindow(request_budget._RedisClients(url), name, limit, window)


def replica_limit(name: str, limit: int, lease: float, url: str = REDIS_URL) -> SharedConcurrency:
    """The concurrency limit ``name`` as another process sees it."""
    return SharedConcurrency(request_budget._RedisClients(url), name, limit, lease)


async def close(*budgets: SharedWindow | SharedConcurrency) -> None:
    for budget in budgets:
        await budget._redis.aclose()  # type: ignore[attr-defined]


async def test_the_process_window_counts_each_request_from_its_answer_and_honours_a_block() -> None:
    clock = Clock()
    budget = SlidingWindow(2, 10, clock=clock)
    first = await budget.take()
    assert isinstance(first, Slot) and counted(await budget.take())
    assert not counted(await budget.take()) and await budget.wait_needed() == 10
    clock.now += 4
    await budget.settle(first)  # its answer came 4 s after it was sent: it counts from then
    clock.now += 7  # the second one has expired, the first has 3 s to go
    assert await budget.count_since(10) == 1 and counted(await budget.take())
    assert await budget.wait_needed() == 3
    clock.now += 3
    assert counted(await budget.take())
    await budget.block_for(30)
    clock.now += 20
    assert await budget.wait_needed() == 10 and await budget.take() == 10  # refused: the wait, nothing counted
    assert await budget.count_since(10) == 0


async def test_replicas_spend_one_budget_in_redis(redis_reachable: None) -> None:
    name = f"test:{uuid.uuid4()}"
    one, two = replica(name, 3, 30), replica(name, 3, 30)
    try:
        assert [counted(await one.take()), counted(await two.take()), counted(await one.take())] == [True] * 3
        assert not counted(await two.take()) and not counted(await one.take())  # the third filled it for both
        assert 29 < await two.wait_needed() <= 30
        refused = await two.take()  # the wait comes with the refusal, in the same round trip
        assert not isinstance(refused, Slot) and 29 < refused <= 30
        assert await one.count_since(30) == 3 and await two.count_since(30) == 3
        redis = await redis_or_fail(REDIS_URL, "FLOWPILOT_TEST_BUDGETS_REDIS_URL")
        keys = [key.decode() for key in await redis.keys("flowpilot:psa-budget:*")]
        await redis.aclose()
        assert keys and not any(name in key for key in keys)  # a tenant's identifiers are not key names
    finally:
        await close(one, two)


async def test_a_settled_request_counts_from_its_answer_in_every_replica(redis_reachable: None) -> None:
    name = f"test:{uuid.uuid4()}"
    one, two = replica(name, 1, 0.6), replica(name, 1, 0.6)
    try:
        slot = await one.take()
        assert isinstance(slot, Slot)
        await asyncio.sleep(0.3)
        await one.settle(slot)  # answered 0.3 s after it was sent: its place frees 0.6 s after that
        assert 0.5 < await two.wait_needed() <= 0.6
        await asyncio.sleep(0.35)
        assert not counted(await two.take())  # counted from the send, it would have fitted by now
        await asyncio.sleep(0.3)
        assert counted(await two.take())
    finally:
        await close(one, two)


async def test_a_429_seen_by_one_replica_blocks_the_others(redis_reachable: None) -> None:
    name = f"test:{uuid.uuid4()}"
    one, two = replica(name, 100, 300), replica(name, 100, 300)
    try:
        await one.block_for(0.4)
        assert 0.3 < await two.wait_needed() <= 0.4 and not counted(await two.take())
        await two.block_for(0.1)  # a shorter block does not shorten the longer one
        assert await one.wait_needed() > 0.2
        await asyncio.sleep(0.45)
        assert counted(await two.take())
    finally:
        await close(one, two)


async def test_an_unreachable_redis_counts_in_the_process_instead_of_failing_the_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="flowpilot.psa")
    budget = replica(f"test:{uuid.uuid4()}", 2, 30, url="redis://127.0.0.1:1/0")
    try:
        slots = [await budget.take() for _ in range(3)]
        assert [isinstance(slot, Slot) for slot in slots] == [True, True, False]  # still a budget: the process's
        assert isinstance(slots[0], Slot)
        await budget.settle(slots[0])
        await budget.block_for(5)
        assert await budget.wait_needed() >= 5 and await budget.count_since(30) == 2
    finally:
        await close(budget)
    warnings = [r for r in caplog.records if "budget (Redis) unavailable" in r.getMessage()]
    assert len(warnings) == 1  # once a minute, not once per request


async def test_the_runtime_choice_of_store_decides_what_budget_for_returns(redis_reachable: None) -> None:
    name = f"test:{uuid.uuid4()}"
    request_budget.use_redis(None)
    assert isinstance(budget_for(name, 5, 60), SlidingWindow)
    assert budget_for(name, 5, 60) is budget_for(name, 5, 60)  # one per process, whoever asks
    request_budget.use_redis(REDIS_URL)
    try:
        shared: RequestBudget = budget_for(name, 5, 60)
        assert isinstance(shared, SharedWindow)
        assert counted(await shared.take())
        other = replica(name, 5, 60)
        assert await other.count_since(60) == 1
        await close(other)
    finally:
        await request_budget.close_redis()
        request_budget.use_redis(None)


async def test_a_runtime_opened_with_redis_keeps_the_budgets_there(settings: Settings, db_urls: DatabaseUrls) -> None:
    runtime = FlowPilot.start(dataclasses.replace(settings, redis_url=REDIS_URL), urls=db_urls)
    try:
        assert isinstance(budget_for(f"test:{uuid.uuid4()}", 5, 60), SharedWindow)
    finally:
        await runtime.close()
    runtime = FlowPilot.start(settings, urls=db_urls)
    try:
        assert isinstance(budget_for(f"test:{uuid.uuid4()}", 5, 60), SlidingWindow)
    finally:
        await runtime.close()


async def test_two_replicas_of_a_halo_connection_stay_inside_halos_rolling_window_together(
    redis_reachable: None,
) -> None:
    """Each replica alone keeps inside the limit; without a shared budget the two together exceed it."""

    async def burst(fake: FakeHaloPSA, budgets: tuple[RequestBudget, RequestBudget]) -> list[int]:
        config = msgspec.convert(fake.config(max_retry_wait=5), Config)
        providers = [HaloPSAProvider(config, budget=budget) for budget in budgets]
        ticket = fake.add_ticket()

        async def reads(provider: HaloPSAProvider) -> None:
            for _ in range(5):
                with contextlib.suppress(PSARateLimited):  # the unshared run meets Halo's 429s
                    await provider.get_status(str(ticket.id))

        try:
            await asyncio.gather(*(reads(provider) for provider in providers))
        finally:
            for provider in providers:
                await provider.aclose()
        return [r.status for r in fake.requests if r.route != "token"]

    with FakeHaloPSA(requests_per_window=5, rate_window=0.4) as strict:
        name = f"halopsa:{uuid.uuid4()}"
        one, two = replica(name, 5, 0.4), replica(name, 5, 0.4)
        started = time.monotonic()
        try:
            statuses = await burst(strict, (one, two))
        finally:
            await close(one, two)
        elapsed = time.monotonic() - started
    assert 429 not in statuses and statuses.count(200) >= 10 and elapsed >= 0.8  # 12+ requests: three windows
    with FakeHaloPSA(requests_per_window=5, rate_window=0.4) as strict:
        assert 429 in await burst(strict, (SlidingWindow(5, 0.4), SlidingWindow(5, 0.4)))


async def test_an_autotask_hourly_budget_spent_by_another_replica_refuses_before_sending(
    redis_reachable: None,
) -> None:
    request_budget.use_redis(REDIS_URL)
    try:
        with FakeAutotask() as at:
            ticket = at.add_ticket()
            name = f"autotask:{at.zone_url.lower()}:{at.username.lower()}"
            other = replica(name, 6, 3600)  # another replica of the same connection spent 3 of the hour's 6
            for _ in range(3):
                assert counted(await other.take())
            config = msgspec.convert(at.config(hourly_budget=6, timeout=0.3), AutotaskConfig)
            provider = AutotaskProvider(config)
            try:
                await provider.get_status(str(ticket.id))  # the threshold, the fields, the ticket: 3 more
                sent = len(at.requests)
                with pytest.raises(PSARateLimited, match="its 6 Autotask requests for this hour"):
                    await provider.get_status(str(ticket.id))
                assert len(at.requests) == sent and await other.count_since(3600) == 6
            finally:
                await provider.aclose()
                await close(other)
    finally:
        await request_budget.close_redis()
        request_budget.use_redis(None)


async def most_at_once(limits: list[SharedConcurrency] | list[LocalConcurrency], holders: int) -> int:
    """Run ``holders`` blocks of 50 ms, spread over ``limits``; the most that ran at the same time."""
    running = peak = 0

    async def hold(limit: SharedConcurrency | LocalConcurrency) -> None:
        nonlocal running, peak
        async with limit.slot():
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.05)
            running -= 1

    await asyncio.gather(*(hold(limits[n % len(limits)]) for n in range(holders)))
    return peak


async def test_replicas_share_one_concurrency_limit_in_redis(redis_reachable: None) -> None:
    name = f"test:{uuid.uuid4()}"
    shared = [replica_limit(name, 2, 10), replica_limit(name, 2, 10), replica_limit(name, 2, 10)]
    try:
        assert await most_at_once(shared, 9) == 2
    finally:
        await close(*shared)
    assert await most_at_once([LocalConcurrency(2), LocalConcurrency(2), LocalConcurrency(2)], 9) == 6


async def test_a_place_held_by_a_replica_that_died_is_freed_when_its_lease_ends(redis_reachable: None) -> None:
    name = f"test:{uuid.uuid4()}"
    dead, alive = replica_limit(name, 1, 0.3), replica_limit(name, 1, 0.3)
    try:
        assert await dead._hold("a holder that never lets go")
        started = time.monotonic()
        async with alive.slot():
            waited = time.monotonic() - started
        assert 0.2 < waited < 1.0
    finally:
        await close(dead, alive)


async def test_an_unreachable_redis_limits_the_process_instead_of_failing_the_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="flowpilot.psa")
    limit = replica_limit(f"test:{uuid.uuid4()}", 2, 10, url="redis://127.0.0.1:1/0")
    try:
        assert await most_at_once([limit], 6) == 2
    finally:
        await close(limit)
    assert sum("concurrency limit (Redis) unavailable" in r.getMessage() for r in caplog.records) == 1


async def test_autotask_requests_in_flight_at_another_replica_count_against_the_endpoints_three(
    redis_reachable: None,
) -> None:
    request_budget.use_redis(REDIS_URL)
    try:
        with FakeAutotask() as at:
            at.latency = 0.05
            tickets = [at.add_ticket(f"T{n}") for n in range(6)]
            config = msgspec.convert(at.config(timeout=5), AutotaskConfig)
            provider = AutotaskProvider(config)
            other = replica_limit(f"autotask:{at.zone_url.lower()}:{at.username.lower()}:Tickets", 3, 20)
            try:
                await provider.get_status(str(tickets[0].id))  # the zone, the picklists
                at.max_in_flight.clear()
                assert await other._hold("another replica's request") and await other._hold("and another")
                got = await asyncio.gather(*(provider.get_status(str(t.id)) for t in tickets))
            finally:
                await provider.aclose()
                await other._redis().zrem(other._key, "another replica's request", "and another")
                await close(other)
            assert [s.name for s in got] == ["In Progress"] * 6
            assert at.max_in_flight["Tickets"] == 1  # the other replica held two of the three places
    finally:
        await request_budget.close_redis()
        request_budget.use_redis(None)


def test_concurrency_for_keeps_its_limit_where_the_runtime_says() -> None:
    name = f"test:{uuid.uuid4()}"
    assert isinstance(concurrency_for(name, 3, 10), LocalConcurrency)
    assert concurrency_for(name, 3, 10) is concurrency_for(name, 3, 10)
    request_budget.use_redis(REDIS_URL)
    assert isinstance(concurrency_for(name, 3, 10), SharedConcurrency)
