"""chat_call_cached through the real SDK and the fake: caching, usage records, MCP flags, errors."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from flowpilot_anthropic.provider import AnthropicProvider

from flowpilot_core.ai.errors import (
    AIAuthenticationFailed,
    AIError,
    AIOverloaded,
    AIRateLimited,
    AIRequestRejected,
    AIServerError,
    AIUnavailable,
)
from flowpilot_core.ai.layout import LaidOutCall
from flowpilot_core.ai.policy import AIPolicy
from flowpilot_core.ai.provider import (
    MemoryUsageSink,
    StreamEvent,
    TextDelta,
    UsageRecord,
    UsageUpdate,
    chat_call_cached,
    chat_call_cached_stream,
    prepare_call,
)
from flowpilot_core.ai.types import CallSpec, ChatMessage, Completion, TokenUsage
from flowpilot_core.testing import FakeAnthropic

from .support import chat_spec, tool

POLICY = AIPolicy()
SERVERS = [{"type": "url", "url": "https://rmm.example/mcp", "name": "rmm", "authorization_token": "secret"}]


async def call(
    spec: CallSpec, provider: Any, sink: MemoryUsageSink, policy: AIPolicy = POLICY, **kw: Any
) -> Completion:
    return await chat_call_cached(spec, provider=provider, policy=policy, usage_sink=sink, **kw)


async def stream_all(spec: CallSpec, provider: Any, sink: MemoryUsageSink) -> tuple[list[str], Completion]:
    deltas: list[str] = []
    final: Completion | None = None
    async for item in chat_call_cached_stream(spec, provider=provider, policy=POLICY, usage_sink=sink):
        if isinstance(item, Completion):
            final = item
        else:
            deltas.append(item)
    assert final is not None
    return deltas, final


# -- Phase 0 acceptance -----------------------------------------------------------------


async def test_identical_calls_write_then_read_and_a_new_message_still_reads(
    fake: FakeAnthropic, provider: AnthropicProvider, sink: MemoryUsageSink
) -> None:
    spec = chat_spec()
    first = await call(spec, provider, sink)
    assert first.usage.cache_creation_input_tokens > 0
    assert first.usage.cache_read_input_tokens == 0

    fake.advance(4 * 60)  # "within 5 minutes"
    second = await call(spec, provider, sink)
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens == 0
    assert second.text == first.text

    # Next turn: the exchange joins the history, a new fact and a new request arrive.
    context = {**spec.context, "facts": [*spec.context["facts"], "Event 7031 logged at each stop"]}
    third_spec = chat_spec(
        history=(
            *spec.history,
            ChatMessage(role="user", content=spec.request),
            ChatMessage(role="assistant", content=second.text),
        ),
        context=context,
        request="The log shows a third-party print driver crashing.",
    )
    third = await call(third_spec, provider, sink)
    assert third.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens  # whole old prefix
    assert 0 < third.usage.cache_creation_input_tokens < 200  # just the new exchange
    assert third.usage.input_tokens < 120  # facts and request: the uncached tail

    assert [r.usage for r in sink.records] == [first.usage, second.usage, third.usage]
    assert all(r.error is None and r.model == "claude-sonnet-4-6" for r in sink.records)


async def test_a_changed_tool_or_model_misses(
    fake: FakeAnthropic, provider: AnthropicProvider, sink: MemoryUsageSink
) -> None:
    await call(chat_spec(), provider, sink)
    changed_tool = chat_spec(tools=(*chat_spec().tools[:1], tool("get_device", "Read RMM device details v2.")))
    miss = await call(changed_tool, provider, sink)
    assert miss.usage.cache_read_input_tokens == 0 and miss.usage.cache_creation_input_tokens > 0

    opus = AIPolicy.from_config({}, {"tiers": {"balanced": "claude-opus-4-8"}})
    other_model = await call(chat_spec(), provider, sink, policy=opus)
    assert other_model.model == "claude-opus-4-8"
    assert other_model.usage.cache_read_input_tokens == 0
    assert fake.message_requests[-1].json["model"] == "claude-opus-4-8"


async def test_after_five_idle_minutes_only_the_static_prefix_is_read_and_after_an_hour_nothing(
    fake: FakeAnthropic, provider: AnthropicProvider, sink: MemoryUsageSink
) -> None:
    # The default policy: tools and static system sections on a 1-hour breakpoint, the
    # account's context and the conversation on 5-minute ones.
    first = await call(chat_spec(), provider, sink)
    static = {b.label: b.prefix_tokens for b in prepare_call(chat_spec(), policy=POLICY).breakpoints}["system"]
    assert first.usage.cache_creation_1h_input_tokens == static
    assert first.usage.cache_creation_5m_input_tokens == first.usage.cache_creation_input_tokens - static > 0

    fake.advance(5 * 60 + 1)
    late = await call(chat_spec(), provider, sink)
    assert late.usage.cache_read_input_tokens == static, "the shared static prefix outlives five idle minutes"
    assert late.usage.cache_creation_5m_input_tokens == first.usage.cache_creation_5m_input_tokens

    fake.advance(60 * 60 + 1)
    cold = await call(chat_spec(), provider, sink)
    assert cold.usage.cache_read_input_tokens == 0
    assert cold.usage.cache_creation_input_tokens == first.usage.cache_creation_input_tokens


# -- usage records --------------------------------------------------------------------------


async def test_every_call_is_recorded_with_cost(
    fake: FakeAnthropic, provider: AnthropicProvider, sink: MemoryUsageSink
) -> None:
    await call(chat_spec(), provider, sink)
    await call(chat_spec(), provider, sink)
    first, second = sink.records
    assert (first.account_id, first.session_id, first.service, first.provider) == (
        "acct-1",
        "sess-1",
        "chat",
        "anthropic",
    )
    assert first.latency_ms > 0 and not first.streamed
    assert first.cost_usd is not None and second.cost_usd is not None and second.uncached_cost_usd is not None
    assert first.cost_usd > first.uncached_cost_usd  # type: ignore[operator]  # writes cost 1.25x
    assert second.cost_usd < 0.5 * second.uncached_cost_usd  # reads cost 0.1x
    assert first.uncached_cost_usd == pytest.approx(second.uncached_cost_usd)


async def test_streamed_calls_are_recorded(
    fake: FakeAnthropic, provider: AnthropicProvider, sink: MemoryUsageSink
) -> None:
    await call(chat_spec(), provider, sink)
    deltas, final = await stream_all(chat_spec(), provider, sink)
    assert len(deltas) > 3 and "".join(deltas) == final.text
    assert final.usage.cache_read_input_tokens > 0 and final.usage.output_tokens > 1
    record = sink.records[-1]
    assert record.streamed and record.error is None
    assert record.usage == final.usage
    assert record.first_token_ms is not None and record.first_token_ms <= record.latency_ms


async def test_a_stream_failing_after_it_started_is_recorded_with_what_was_known(
    fake: FakeAnthropic, provider: AnthropicProvider, sink: MemoryUsageSink
) -> None:
    fake.queue_stream_error(after_deltas=3, error_type="overloaded_error")
    got: list[str] = []
    with pytest.raises(AIOverloaded) as info:
        async for item in chat_call_cached_stream(chat_spec(), provider=provider, policy=POLICY, usage_sink=sink):
            assert isinstance(item, str)
            got.append(item)
    assert len(got) == 3
    assert info.value.retryable
    assert info.value.partial_text == "".join(got)
    (record,) = sink.records
    assert record.error == "overloaded" and record.streamed
    assert record.usage.cache_creation_input_tokens > 0  # from message_start
    assert record.usage.input_tokens > 0
    logged = fake.message_requests[-1].usage
    assert logged is not None
    assert record.usage.input_tokens == logged["input_tokens"]
    assert record.usage.cache_creation_input_tokens == logged["cache_creation_input_tokens"]
    assert record.usage.output_tokens == 1  # message_start's placeholder: the final delta never came


async def test_an_abandoned_stream_is_recorded_as_cancelled(
    fake: FakeAnthropic, provider: AnthropicProvider, sink: MemoryUsageSink
) -> None:
    stream = chat_call_cached_stream(chat_spec(), provider=provider, policy=POLICY, usage_sink=sink)
    async with contextlib.aclosing(stream):
        async for _ in stream:
            break
    (record,) = sink.records
    assert record.error == "cancelled"
    assert record.usage.cache_creation_input_tokens > 0


class _BrokenSink:
    async def record(self, record: UsageRecord) -> None:
        raise RuntimeError("database down")


async def test_a_broken_usage_sink_does_not_fail_the_call(
    fake: FakeAnthropic, provider: AnthropicProvider, caplog: pytest.LogCaptureFixture
) -> None:
    completion = await chat_call_cached(chat_spec(), provider=provider, policy=POLICY, usage_sink=_BrokenSink())
    assert completion.text
    assert "usage sink" in caplog.text


class _BuggyProvider:
    name = "buggy"

    async def complete(self, request: LaidOutCall) -> Completion:
        raise KeyError("oops")

    async def stream(self, request: LaidOutCall) -> AsyncIterator[StreamEvent]:
        yield UsageUpdate(TokenUsage(input_tokens=5))
        yield TextDelta("half")
        raise KeyError("oops")


class _NotAGeneratorProvider(_BuggyProvider):
    def stream(self, request: LaidOutCall) -> AsyncIterator[StreamEvent]:
        raise KeyError("fails before returning an iterator")


async def test_provider_bugs_become_ai_errors_and_are_recorded(sink: MemoryUsageSink) -> None:
    with pytest.raises(AIError) as info:
        await call(chat_spec(), _BuggyProvider(), sink)
    assert isinstance(info.value.__cause__, KeyError)
    with pytest.raises(AIError):
        await stream_all(chat_spec(), _BuggyProvider(), sink)
    with pytest.raises(AIError):
        await stream_all(chat_spec(), _NotAGeneratorProvider(), sink)
    assert [r.error for r in sink.records] == ["ai_error", "ai_error", "ai_error"]
    assert sink.records[1].usage.input_tokens == 5 and sink.records[1].provider == "buggy"


# -- MCP flags -------------------------------------------------------------------------------


async def test_mcp_only_for_services_whose_flag_allows_it(
    fake: FakeAnthropic, provider: AnthropicProvider, sink: MemoryUsageSink
) -> None:
    await call(chat_spec(), provider, sink, mcp_servers=SERVERS)
    sent = fake.message_requests[-1]
    assert sent.headers["anthropic-beta"] == "mcp-client-2025-11-20"
    assert sent.json["mcp_servers"] == SERVERS
    last_tool = {k: v for k, v in sent.json["tools"][-1].items() if k != "cache_control"}
    assert last_tool == {"type": "mcp_toolset", "mcp_server_name": "rmm"}
    assert len(fake.mcp_requests) == 1

    # fact_synthesis has MCP off: even a toolset smuggled into its tools disappears.
    toolset = {"type": "mcp_toolset", "mcp_server_name": "rmm"}
    spec = chat_spec(service="fact_synthesis", tools=(*chat_spec().tools, toolset))
    await call(spec, provider, sink, mcp_servers=SERVERS)
    plain = fake.message_requests[-1]
    assert "anthropic-beta" not in plain.headers
    assert "mcp" not in plain.body.decode()
    assert plain.json["model"] == "claude-haiku-4-5"

    # An account can switch chat's flag off too.
    no_mcp = AIPolicy().with_overrides({"services": {"chat": {"mcp": False}}})
    await call(chat_spec(), provider, sink, policy=no_mcp, mcp_servers=SERVERS)
    assert "mcp" not in fake.message_requests[-1].body.decode()
    assert len(fake.mcp_requests) == 1


# -- error mapping ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type", "expected", "retryable"),
    [
        (429, "rate_limit_error", AIRateLimited, True),
        (529, "overloaded_error", AIOverloaded, True),
        (500, "api_error", AIServerError, True),
        (400, "invalid_request_error", AIRequestRejected, False),
        (413, "request_too_large", AIRequestRejected, False),
        (401, "authentication_error", AIAuthenticationFailed, False),
        (403, "permission_error", AIAuthenticationFailed, False),
    ],
)
async def test_provider_errors_map_to_flowpilot_errors(
    fake: FakeAnthropic,
    provider: AnthropicProvider,
    sink: MemoryUsageSink,
    status: int,
    error_type: str,
    expected: type[AIError],
    retryable: bool,
) -> None:
    fake.queue_error(status, error_type, "Scripted {details}", retry_after=7 if status == 429 else None)
    with pytest.raises(expected) as info:
        await call(chat_spec(), provider, sink)
    error = info.value
    assert type(error) is expected
    assert error.retryable is retryable
    assert "{" not in str(error) and str(error).endswith(".")  # a sentence for a technician, not JSON
    assert error.provider_detail is not None and error_type in error.provider_detail
    assert error.request_id == fake.message_requests[-1].request_id
    (record,) = sink.records
    assert record.error == expected.code and record.usage == TokenUsage()
    if status == 429:
        assert error.retry_after == 7 and "7 seconds" in str(error)


async def test_a_wrong_key_is_an_authentication_error(sink: MemoryUsageSink) -> None:
    with FakeAnthropic(api_key="right") as fake:
        wrong = AnthropicProvider(api_key="wrong", base_url=fake.url, max_retries=0)
        with pytest.raises(AIAuthenticationFailed):
            await call(chat_spec(), wrong, sink)
        await wrong.aclose()


async def test_an_unreachable_service_is_unavailable_and_retryable(sink: MemoryUsageSink) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = AnthropicProvider(api_key="k", base_url=f"http://127.0.0.1:{port}", max_retries=0)
    with pytest.raises(AIUnavailable) as info:
        await call(chat_spec(), down, sink)
    assert info.value.retryable
    assert sink.records[0].error == "unavailable"
    await down.aclose()


async def test_sdk_retries_are_bounded_and_used(fake: FakeAnthropic, sink: MemoryUsageSink) -> None:
    fake.queue_error(529, "overloaded_error", "Overloaded", retry_after=0.01)
    retrying = AnthropicProvider(api_key="k", base_url=fake.url, max_retries=1)
    completion = await call(chat_spec(), retrying, sink)
    assert completion.text
    assert [r.headers["x-stainless-retry-count"] for r in fake.message_requests] == ["0", "1"]
    await retrying.aclose()
    with pytest.raises(ValueError, match=r"ai\.anthropic\.max_retries"):
        AnthropicProvider(api_key="k", max_retries=50)


async def test_the_request_body_is_the_layout(
    fake: FakeAnthropic, provider: AnthropicProvider, sink: MemoryUsageSink
) -> None:
    from flowpilot_core.ai.provider import prepare_call

    await call(chat_spec(), provider, sink)
    expected = prepare_call(chat_spec(), policy=POLICY).kwargs
    assert json.loads(fake.message_requests[-1].body) == expected
