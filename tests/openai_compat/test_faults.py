"""Every fault an OpenAI-compatible server can produce, through the real SDK, as FlowPilot's AI errors.

The errors and the technician's sentences are the Anthropic path's (``flowpilot_core.ai.errors``);
each failed call leaves a usage row with the error's code. Timeouts are small and the
server is on 127.0.0.1, so every test is bounded and asserts how long the technician waited.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import pytest
from flowpilot_openai_compat.provider import OpenAICompatProvider
from flowpilot_openai_compat.testing import FakeOpenAICompat

from flowpilot_core.ai.errors import (
    NO_RETRY_HINT,
    RETRY_HINT,
    AIAuthenticationFailed,
    AIBadResponse,
    AIError,
    AIOverloaded,
    AIRateLimited,
    AIRequestRejected,
    AIServerError,
    AITimedOut,
    AIUnavailable,
)
from flowpilot_core.ai.provider import MemoryUsageSink, chat_call_cached, chat_call_cached_stream
from flowpilot_core.ai.types import CallSpec, Completion

from .conftest import local_policy

FAST = local_policy(timeouts={"connect": 1, "first_byte": 0.5, "stream_idle": 0.4, "deadline": 3})
REPLY = "Check the spooler on PRINT01, then clear the queue on WS-ACC-04 and print a test page."


def spec() -> CallSpec:
    return CallSpec(service="chat", system=("You are FlowPilot.",), request="Nobody can print")


async def _call(provider: OpenAICompatProvider, sink: MemoryUsageSink, *, streamed: bool) -> tuple[str, float]:
    started = time.monotonic()
    parts: list[str] = []
    if streamed:
        async for item in chat_call_cached_stream(spec(), provider=provider, policy=FAST, usage_sink=sink):
            if not isinstance(item, Completion):
                parts.append(item)
    else:
        parts.append((await chat_call_cached(spec(), provider=provider, policy=FAST, usage_sink=sink)).text)
    return "".join(parts), time.monotonic() - started


async def _fails(provider: OpenAICompatProvider, sink: MemoryUsageSink, *, streamed: bool) -> tuple[AIError, float]:
    started = time.monotonic()
    with pytest.raises(AIError) as info:
        await _call(provider, sink, streamed=streamed)
    return info.value, time.monotonic() - started


Script = Callable[[FakeOpenAICompat], Any]

STATUS_FAULTS: list[tuple[str, Script, type[AIError], str]] = [
    ("401", lambda f: f.queue_error(401), AIAuthenticationFailed, "auth_failed"),
    ("403", lambda f: f.queue_error(403), AIAuthenticationFailed, "auth_failed"),
    ("404 model", lambda f: f.queue_error(404), AIRequestRejected, "rejected"),
    ("400", lambda f: f.queue_error(400), AIRequestRejected, "rejected"),
    ("500", lambda f: f.queue_error(500), AIServerError, "server_error"),
    ("502", lambda f: f.queue_error(502), AIServerError, "server_error"),
    ("503 loading", lambda f: f.queue_error(503), AIOverloaded, "overloaded"),
    ("504", lambda f: f.queue_error(504), AITimedOut, "timed_out"),
]


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize(("script", "error", "code"), [f[1:] for f in STATUS_FAULTS], ids=[f[0] for f in STATUS_FAULTS])
async def test_http_errors_map_to_the_anthropic_paths_errors(
    fake: FakeOpenAICompat,
    provider: OpenAICompatProvider,
    sink: MemoryUsageSink,
    script: Script,
    error: type[AIError],
    code: str,
    streamed: bool,
) -> None:
    script(fake)
    raised, _ = await _fails(provider, sink, streamed=streamed)
    assert type(raised) is error and raised.code == code
    assert raised.message == error.default_message, "the same sentence as for Claude"
    assert str(raised.detail).endswith(RETRY_HINT if raised.retryable else NO_RETRY_HINT)
    (record,) = sink.records
    assert record.error == code and record.streamed is streamed
    assert record.error_message and str(fake.completion_requests[-1].status) in record.error_message


async def test_a_model_the_server_does_not_have_is_rejected_and_named_in_the_log(
    fake: FakeOpenAICompat, provider: OpenAICompatProvider, sink: MemoryUsageSink
) -> None:
    fake.models = ["llama3.1:8b"]  # chat asks for the balanced tier, qwen2.5:32b
    raised, _ = await _fails(provider, sink, streamed=False)
    assert isinstance(raised, AIRequestRejected) and not raised.retryable
    assert "qwen2.5:32b" in (raised.provider_detail or "") and "model_not_found" in (raised.provider_detail or "")


async def test_a_wrong_api_key_is_an_authentication_error(sink: MemoryUsageSink) -> None:
    with FakeOpenAICompat(api_key="right") as fake:
        wrong = OpenAICompatProvider(base_url=fake.url, api_key="wrong", max_retries=0)
        try:
            raised, _ = await _fails(wrong, sink, streamed=False)
        finally:
            await wrong.aclose()
    assert isinstance(raised, AIAuthenticationFailed) and "invalid_api_key" in (raised.provider_detail or "")


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
async def test_429_carries_retry_after_into_the_technicians_sentence(
    fake: FakeOpenAICompat, provider: OpenAICompatProvider, sink: MemoryUsageSink, streamed: bool
) -> None:
    fake.queue_error(429, retry_after=7)
    raised, _ = await _fails(provider, sink, streamed=streamed)
    assert isinstance(raised, AIRateLimited) and raised.retry_after == 7 and raised.status == 429
    assert raised.message == "The AI service is receiving too many requests right now. Try again in about 7 seconds."
    assert sink.records[0].error == "rate_limited"


async def test_sdk_retries_ride_out_one_server_error(fake: FakeOpenAICompat, sink: MemoryUsageSink) -> None:
    retrying = OpenAICompatProvider(base_url=fake.url, max_retries=2)
    try:
        fake.queue_error(500)
        fake.queue_reply(REPLY)
        text, _ = await _call(retrying, sink, streamed=False)
    finally:
        await retrying.aclose()
    assert text == REPLY
    assert [r.status for r in fake.completion_requests] == [500, 200]
    assert [r.error for r in sink.records] == [None], "one call, one usage row"


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
async def test_a_server_that_never_answers_times_out_within_first_byte(
    fake: FakeOpenAICompat, provider: OpenAICompatProvider, sink: MemoryUsageSink, streamed: bool
) -> None:
    hang = fake.queue_hang(seconds=5)
    raised, waited = await _fails(provider, sink, streamed=streamed)
    hang.release()
    assert isinstance(raised, AITimedOut) and raised.retryable
    assert 0.4 < waited < 2.0, waited
    assert sink.records[0].error == "timed_out"


async def test_a_stream_that_goes_quiet_ends_after_stream_idle_with_the_text_so_far(
    fake: FakeOpenAICompat, provider: OpenAICompatProvider, sink: MemoryUsageSink
) -> None:
    fake.queue_reply(REPLY)
    hang = fake.queue_hang(after_deltas=3, seconds=5)
    raised, waited = await _fails(provider, sink, streamed=True)
    hang.release()
    assert isinstance(raised, AITimedOut)
    assert raised.message == "The AI service stopped sending its answer (nothing for 0.4 seconds)."
    assert raised.partial_text and REPLY.startswith(raised.partial_text)
    assert 0.3 < waited < 1.5, waited
    (record,) = sink.records
    assert record.error == "timed_out" and record.usage.reported is False, "no usage arrived before the stall"


@pytest.mark.parametrize("clean", [False, True], ids=["cut", "clean-end"])
async def test_a_server_that_closes_mid_stream_is_a_bad_response(
    fake: FakeOpenAICompat, provider: OpenAICompatProvider, sink: MemoryUsageSink, clean: bool
) -> None:
    fake.queue_reply(REPLY)
    fake.queue_disconnect(after_deltas=2, clean=clean)
    raised, _ = await _fails(provider, sink, streamed=True)
    assert isinstance(raised, AIBadResponse) and raised.retryable
    assert raised.message == AIBadResponse.default_message
    assert raised.partial_text and REPLY.startswith(raised.partial_text)
    assert sink.records[0].error == "bad_response"


async def test_an_error_event_inside_a_stream_is_a_server_error(
    fake: FakeOpenAICompat, provider: OpenAICompatProvider, sink: MemoryUsageSink
) -> None:
    fake.queue_reply(REPLY)
    fake.queue_stream_error(after_deltas=2)
    raised, _ = await _fails(provider, sink, streamed=True)
    assert isinstance(raised, AIServerError) and raised.retryable
    assert raised.partial_text and REPLY.startswith(raised.partial_text)


async def test_a_rate_limit_event_inside_a_stream_is_rate_limited(
    fake: FakeOpenAICompat, provider: OpenAICompatProvider, sink: MemoryUsageSink
) -> None:
    fake.queue_reply(REPLY)
    fake.queue_stream_error(after_deltas=1, message="Too many requests", error_type="BadRequestError", code=429)
    raised, _ = await _fails(provider, sink, streamed=True)
    assert isinstance(raised, AIRateLimited)


@pytest.mark.parametrize(
    ("kind", "streamed"), [("truncated_json", False), ("broken_sse", True)], ids=["truncated-json", "broken-sse"]
)
async def test_an_unreadable_answer_is_a_bad_response(
    fake: FakeOpenAICompat, provider: OpenAICompatProvider, sink: MemoryUsageSink, kind: str, streamed: bool
) -> None:
    fake.queue_reply(REPLY)
    fake.queue_malformed(kind, after_deltas=2)
    raised, _ = await _fails(provider, sink, streamed=streamed)
    assert isinstance(raised, AIBadResponse) and raised.retryable
    assert sink.records[0].error == "bad_response"


async def test_a_server_that_is_not_running_is_unavailable(sink: MemoryUsageSink) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = OpenAICompatProvider(base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
    try:
        raised, waited = await _fails(down, sink, streamed=False)
    finally:
        await down.aclose()
    assert type(raised) is AIUnavailable and raised.retryable and waited < 1.0
    assert raised.message == "FlowPilot could not reach the AI service. Check the network connection and try again."
