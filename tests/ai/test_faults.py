"""The AI call path under faults: the real SDK against the fake Messages API on 127.0.0.1.

Every test is bounded in time: the timeouts come from the policy, set small here, and
each test asserts how long the technician waited as well as what they were told.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from flowpilot_anthropic.provider import AnthropicProvider

from flowpilot_core.ai.errors import (
    RETRY_HINT,
    AIBadResponse,
    AIError,
    AIOverloaded,
    AIRateLimited,
    AIServerError,
    AITimedOut,
    AIUnavailable,
)
from flowpilot_core.ai.policy import AIPolicy, Timeouts
from flowpilot_core.ai.provider import MemoryUsageSink, chat_call_cached, chat_call_cached_stream
from flowpilot_core.ai.types import Completion
from flowpilot_core.errors import FlowPilotError
from flowpilot_core.testing import FakeAnthropic

from .support import chat_spec

FAST = AIPolicy.from_config({"timeouts": {"connect": 1, "first_byte": 0.5, "stream_idle": 0.4, "deadline": 3}})


async def _stream(provider: AnthropicProvider, sink: MemoryUsageSink, policy: AIPolicy) -> list[str]:
    got: list[str] = []
    async for item in chat_call_cached_stream(chat_spec(), provider=provider, policy=policy, usage_sink=sink):
        if not isinstance(item, Completion):
            got.append(item)
    return got


async def _elapsed(coro: Any) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        await coro
    except Exception as exc:
        return time.monotonic() - started, exc
    return time.monotonic() - started, None


@pytest.fixture
async def retrying(fake: FakeAnthropic) -> AsyncIterator[AnthropicProvider]:
    """The provider with the SDK's default retries (2), as deployed."""
    p = AnthropicProvider(api_key="test-key", base_url=fake.url)
    yield p
    await p.aclose()


def test_every_service_has_default_timeouts_that_bound_a_hung_call_to_two_minutes() -> None:
    policy = AIPolicy()
    for service in ("chat", "ai_parse", "fact_synthesis", "script_generation", "not_configured"):
        assert policy.timeouts_for(service) == Timeouts(connect=10, first_byte=60, stream_idle=30, deadline=120)
    # What the SDK gets per attempt (its own default would be 600 s, times three attempts).
    attempt = AnthropicProvider(api_key="k", base_url="http://127.0.0.1:9").attempt_timeout(policy.timeouts_for("chat"))
    assert (attempt.connect, attempt.read, attempt.write, attempt.pool) == (10, 60, 60, 10)
    capped = AnthropicProvider(api_key="k", base_url="http://127.0.0.1:9", timeout=20)
    assert capped.attempt_timeout(policy.timeouts_for("chat")).read == 20, "ai.anthropic.timeout caps each attempt"


def test_timeouts_are_configurable_per_service_and_per_account() -> None:
    policy = AIPolicy.from_config(
        {"timeouts": {"deadline": 90}, "services": {"script_generation": {"timeouts": {"deadline": 240}}}}
    )
    assert policy.timeouts_for("chat").deadline == 90
    assert policy.timeouts_for("script_generation") == Timeouts(deadline=240)
    account = policy.with_overrides({"services": {"chat": {"timeouts": {"first_byte": 20, "stream_idle": 10}}}})
    assert account.timeouts_for("chat") == Timeouts(first_byte=20, stream_idle=10, deadline=90)
    assert account.timeouts_for("script_generation").deadline == 240, "the deployment's service table is kept"
    assert account.with_overrides({"timeouts": {"connect": 3}}).timeouts_for("ai_parse").connect == 3


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"timeouts": {"deadline": 0}}, r"^ai\.timeouts\.deadline: 0 is not a number of seconds"),
        ({"timeouts": {"deadline": 3600}}, r"^ai\.timeouts\.deadline: 3600 .* at most 600"),
        ({"timeouts": {"connect": True}}, r"^ai\.timeouts\.connect: True"),
        ({"timeouts": {"read": 5}}, r"^ai\.timeouts\.read: unknown setting"),
        ({"timeouts": {"stream_idle": 90}}, r"^ai\.timeouts\.stream_idle: 90 must not exceed first_byte \(60\)"),
        (
            {"services": {"chat": {"timeouts": {"first_byte": 5}}}},
            r"^ai\.services\.chat\.timeouts\.stream_idle: 30 must not exceed first_byte \(5\)",
        ),
    ],
)
def test_a_bad_timeout_names_its_key(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AIPolicy.from_config(config)


async def test_a_hang_before_the_headers_is_a_retryable_timeout_within_the_deadline(
    fake: FakeAnthropic, retrying: AnthropicProvider, sink: MemoryUsageSink
) -> None:
    # Every attempt hangs; each is abandoned after first_byte and retried by the SDK, and
    # the deadline ends the call whatever retries are left.
    policy = AIPolicy.from_config({"timeouts": {"first_byte": 0.3, "stream_idle": 0.3, "deadline": 1.5}})
    for _ in range(3):
        fake.queue_hang(seconds=10)
    waited, error = await _elapsed(chat_call_cached(chat_spec(), provider=retrying, policy=policy, usage_sink=sink))
    assert isinstance(error, AITimedOut) and error.retryable
    assert 1.4 < waited < 2.5
    assert str(error) == "The AI service did not answer within 1.5 seconds."
    assert error.detail == f"The AI service did not answer within 1.5 seconds. {RETRY_HINT}"
    assert len(fake.message_requests) >= 2, "the SDK retried the attempt that timed out"
    assert all(r.fault == "hang before headers" for r in fake.message_requests)
    (record,) = sink.records
    assert record.error == "timed_out" and "deadline of 1.5 s" in (record.error_message or "")


async def test_one_slow_attempt_is_retried_and_the_call_succeeds(
    fake: FakeAnthropic, retrying: AnthropicProvider, sink: MemoryUsageSink
) -> None:
    fake.queue_hang(seconds=10)
    completion = await chat_call_cached(chat_spec(), provider=retrying, policy=FAST, usage_sink=sink)
    assert completion.text
    assert [r.fault for r in fake.message_requests] == ["hang before headers", None]
    assert [r.error for r in sink.records] == [None]


async def test_a_stream_that_goes_quiet_is_ended_after_stream_idle(
    fake: FakeAnthropic, provider: AnthropicProvider, sink: MemoryUsageSink
) -> None:
    hang = fake.queue_hang(after_deltas=2, seconds=10)
    got: list[str] = []
    started = time.monotonic()
    with pytest.raises(AITimedOut) as info:
        async for item in chat_call_cached_stream(chat_spec(), provider=provider, policy=FAST, usage_sink=sink):
            got.append(item if isinstance(item, str) else "")
    waited = time.monotonic() - started
    assert hang.reached.is_set() and len(got) == 2
    assert 0.35 < waited < 1.5
    assert str(info.value) == "The AI service stopped sending its answer (nothing for 0.4 seconds)."
    assert info.value.retryable and info.value.partial_text == "".join(got)
    (record,) = sink.records
    assert record.error == "timed_out" and record.streamed
    assert record.usage.cache_creation_input_tokens > 0, "message_start's usage is kept"


async def test_the_deadline_also_ends_a_stream_that_trickles(
    fake: FakeAnthropic, provider: AnthropicProvider, sink: MemoryUsageSink
) -> None:
    # The pause stays under stream_idle, but the whole reply would take longer than the deadline.
    policy = AIPolicy.from_config({"timeouts": {"first_byte": 2, "stream_idle": 2, "deadline": 0.6}})
    fake.queue_hang(after_deltas=1, seconds=1.0)
    waited, error = await _elapsed(_stream(provider, sink, policy))
    assert isinstance(error, AITimedOut)
    assert str(error) == "The AI service did not answer within 0.6 seconds."
    assert 0.55 < waited < 0.95


async def test_a_hang_released_in_time_is_just_slow(
    fake: FakeAnthropic, provider: AnthropicProvider, sink: MemoryUsageSink
) -> None:
    fake.queue_hang(after_deltas=1, seconds=0.1)
    got = await _stream(provider, sink, FAST)
    assert len(got) > 3 and sink.records[-1].error is None


async def test_truncated_json_is_a_retryable_bad_response(
    fake: FakeAnthropic, provider: AnthropicProvider, sink: MemoryUsageSink
) -> None:
    fake.queue_malformed("truncated_json")
    with pytest.raises(AIBadResponse) as info:
        await chat_call_cached(chat_spec(), provider=provider, policy=FAST, usage_sink=sink)
    assert info.value.retryable and "network" not in info.value.detail
    assert str(info.value) == "The AI service sent an incomplete answer."
    assert sink.records[-1].error == "bad_response"
    assert fake.message_requests[-1].fault == "truncated json"
    # The retry the technician is invited to make works.
    assert (await chat_call_cached(chat_spec(), provider=provider, policy=FAST, usage_sink=sink)).text


async def test_a_broken_event_stream_is_a_retryable_bad_response(
    fake: FakeAnthropic, provider: AnthropicProvider, sink: MemoryUsageSink
) -> None:
    fake.queue_malformed("broken_sse", after_deltas=3)
    with pytest.raises(AIBadResponse) as info:
        await _stream(provider, sink, FAST)
    assert info.value.retryable
    assert len(info.value.partial_text) > 0, "what was streamed before the break is known"
    (record,) = sink.records
    assert record.error == "bad_response" and record.usage.input_tokens > 0


@pytest.mark.parametrize(
    ("status", "error_type", "expected", "says"),
    [
        (500, "api_error", AIServerError, "was reached but failed to answer"),
        (529, "overloaded_error", AIOverloaded, "temporarily overloaded"),
        (504, "timeout_error", AITimedOut, "did not answer in time"),
        (429, "rate_limit_error", AIRateLimited, "Try again in about 7 seconds"),
    ],
)
async def test_a_reached_service_that_fails_never_blames_the_network(
    fake: FakeAnthropic,
    provider: AnthropicProvider,
    sink: MemoryUsageSink,
    status: int,
    error_type: str,
    expected: type[AIError],
    says: str,
) -> None:
    fake.queue_error(status, error_type, "Scripted", retry_after=7 if status == 429 else None)
    with pytest.raises(expected) as info:
        await chat_call_cached(chat_spec(), provider=provider, policy=FAST, usage_sink=sink)
    error = info.value
    assert says in error.detail and "network" not in error.detail
    assert error.retryable and error.detail.endswith(RETRY_HINT)
    assert isinstance(error, FlowPilotError) and error.status == (429 if status == 429 else 503)
    if status == 429:
        assert error.retry_after == 7


async def test_an_unreachable_service_still_says_check_the_network(sink: MemoryUsageSink) -> None:
    down = AnthropicProvider(api_key="k", base_url="http://127.0.0.1:9", max_retries=0)
    with pytest.raises(AIUnavailable) as info:
        await chat_call_cached(chat_spec(), provider=down, policy=FAST, usage_sink=sink)
    assert type(info.value) is AIUnavailable and "Check the network connection" in info.value.detail
    await down.aclose()
