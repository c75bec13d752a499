"""The openai_compat provider through ``chat_call_cached``, the real ``openai`` SDK and the fake server.

What is asserted is what an OpenAI-compatible server sees (one system message, the
conversation in order, no ``cache_control``) and what FlowPilot records from its answer.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from flowpilot_openai_compat.provider import OpenAICompatProvider
from flowpilot_openai_compat.testing import FakeOpenAICompat

from flowpilot_core.ai.policy import AIPolicy
from flowpilot_core.ai.provider import MemoryUsageSink, chat_call_cached, chat_call_cached_stream
from flowpilot_core.ai.tokens import canonical_json
from flowpilot_core.ai.types import CallSpec, ChatMessage, Completion

from .conftest import LOCAL_KEY, LOCAL_TIERS, local_policy

ROLE = "You are FlowPilot, a troubleshooting copilot for MSP technicians."
MARKERS = "Use [QUESTION]...[/QUESTION] to ask and [CHECK title=...]...[/CHECK] for commands."
TICKET = {"summary": "Accounts cannot print", "description": "Jobs stuck in the queue on PRINT01. " * 20}
REPLY = (
    "The spooler on PRINT01 is the common point.\n"
    "[QUESTION]Can reception print to ACC-PRN-01?[/QUESTION]\n"
    '[CHECK title="Spooler on PRINT01"]Get-Service -ComputerName PRINT01 -Name Spooler[/CHECK]'
)


def spec(request: str = "Users in accounts can't print", history: tuple[ChatMessage, ...] = (), **kw: Any) -> CallSpec:
    return CallSpec(
        service=kw.pop("service", "chat"),
        system=(ROLE, MARKERS),
        context={"ticket": TICKET, "facts": kw.pop("facts", [])},
        history=history,
        request=request,
        **kw,
    )


async def _streamed(provider: OpenAICompatProvider, sink: MemoryUsageSink, call: CallSpec) -> tuple[str, Completion]:
    parts: list[str] = []
    final: Completion | None = None
    async for item in chat_call_cached_stream(call, provider=provider, policy=local_policy(), usage_sink=sink):
        if isinstance(item, Completion):
            final = item
        else:
            parts.append(item)
    assert final is not None
    return "".join(parts), final


async def test_a_plain_turn_maps_the_layout_and_records_the_reported_usage(
    fake: FakeOpenAICompat, provider: OpenAICompatProvider, sink: MemoryUsageSink
) -> None:
    fake.queue_reply(REPLY)
    completion = await chat_call_cached(
        spec(facts=[{"text": "Reception can print."}]), provider=provider, policy=local_policy(), usage_sink=sink
    )

    assert completion.text == REPLY and completion.stop_reason == "end_turn"
    (sent,) = fake.completion_requests
    assert "authorization" not in sent.headers, "a keyless local server gets no Authorization header"
    body = sent.json
    assert body["model"] == LOCAL_TIERS["balanced"], "chat's tier in the provider's own tiers"
    assert "cache_control" not in sent.body.decode(), "cache_control is never sent"
    system, final = body["messages"]
    assert system == {
        "role": "system",
        "content": f"{ROLE}\n\n{MARKERS}\n\n{canonical_json({'ticket': TICKET})}",
    }, "the system sections, then the stable context, in one system message"
    assert final == {
        "role": "user",
        "content": canonical_json({"facts": [{"text": "Reception can print."}]}) + "\n\nUsers in accounts can't print",
    }, "growing context after the history, then the request"
    assert body["max_tokens"] == 1024 and "stream" not in body

    (record,) = sink.records
    reported = sent.usage
    assert reported is not None
    assert (record.provider, record.model, record.streamed, record.error) == (
        "openai_compat",
        LOCAL_TIERS["balanced"],
        False,
        None,
    )
    assert record.usage.reported
    assert record.usage.input_tokens == reported["prompt_tokens"]
    assert record.usage.output_tokens == reported["completion_tokens"]
    assert record.cost_usd is None, "a local model has no price"


async def test_a_streamed_turn_yields_deltas_then_the_completion_with_usage(
    fake: FakeOpenAICompat, provider: OpenAICompatProvider, sink: MemoryUsageSink
) -> None:
    fake.queue_reply(REPLY)
    text, final = await _streamed(provider, sink, spec())
    assert text == REPLY == final.text and final.stop_reason == "end_turn"
    (sent,) = fake.completion_requests
    assert sent.json["stream"] is True and sent.json["stream_options"] == {"include_usage": True}
    (record,) = sink.records
    assert record.streamed and record.first_token_ms is not None and record.error is None
    assert sent.usage is not None
    assert record.usage.reported and record.usage.output_tokens == sent.usage["completion_tokens"] > 0


async def test_the_prefix_is_byte_stable_across_turns_so_the_server_caches_it(
    fake: FakeOpenAICompat, provider: OpenAICompatProvider, sink: MemoryUsageSink
) -> None:
    """Turn n's system message and history are turn n+1's first messages byte for byte; the server reads them."""
    history: tuple[ChatMessage, ...] = ()
    facts: list[dict[str, str]] = []
    for turn, message in enumerate(["Nobody can print", "Reception can't either", "Spooler is stopped"]):
        fake.queue_reply(f"Reply {turn}: check the spooler.")
        completion = await chat_call_cached(
            spec(message, history, facts=list(facts)), provider=provider, policy=local_policy(), usage_sink=sink
        )
        history += (ChatMessage("user", message), ChatMessage("assistant", completion.text))
        facts.append({"text": f"fact {turn}"})  # growing context changes the last message only

    bodies = [json.loads(r.body) for r in fake.completion_requests]
    for before, after in itertools.pairwise(bodies):
        kept = before["messages"][:-1]  # all but the volatile final turn
        assert after["messages"][: len(kept)] == kept
        assert [canonical_json(m) for m in after["messages"][: len(kept)]] == [canonical_json(m) for m in kept]
    first, second, third = (r.usage for r in fake.completion_requests)
    assert first and second and third
    assert first["prompt_tokens_details"]["cached_tokens"] == 0
    assert second["prompt_tokens_details"]["cached_tokens"] > 0
    assert third["prompt_tokens_details"]["cached_tokens"] > second["prompt_tokens_details"]["cached_tokens"]
    # FlowPilot's input_tokens count only what followed the cached prefix.
    for record, reported in zip(sink.records, (first, second, third), strict=True):
        cached = reported["prompt_tokens_details"]["cached_tokens"]
        assert record.usage.cache_read_input_tokens == cached
        assert record.usage.input_tokens == reported["prompt_tokens"] - cached


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_server_that_reports_no_usage_is_recorded_as_unreported_not_zero(
    provider: OpenAICompatProvider, fake: FakeOpenAICompat, sink: MemoryUsageSink, streamed: bool
) -> None:
    fake.report_usage = False
    fake.queue_reply(REPLY)
    policy = local_policy(prices={LOCAL_TIERS["balanced"]: {"input": 1.0, "output": 2.0}})
    if streamed:
        async for _ in chat_call_cached_stream(spec(), provider=provider, policy=policy, usage_sink=sink):
            pass
    else:
        await chat_call_cached(spec(), provider=provider, policy=policy, usage_sink=sink)
    (record,) = sink.records
    assert record.error is None and record.streamed is streamed
    assert record.usage.reported is False
    assert record.cost_usd is None and record.uncached_cost_usd is None, "unknown usage has no cost, not $0"


async def test_a_server_without_cache_details_reports_all_input_as_uncached(
    fake: FakeOpenAICompat, provider: OpenAICompatProvider, sink: MemoryUsageSink
) -> None:
    fake.report_cached = False
    await chat_call_cached(spec(), provider=provider, policy=local_policy(), usage_sink=sink)
    await chat_call_cached(spec(), provider=provider, policy=local_policy(), usage_sink=sink)
    second = sink.records[-1].usage
    assert second.reported and second.cache_read_input_tokens == 0
    assert second.input_tokens == fake.completion_requests[-1].usage["prompt_tokens"]  # type: ignore[index]


async def test_a_reply_cut_by_max_tokens_says_so(
    fake: FakeOpenAICompat, provider: OpenAICompatProvider, sink: MemoryUsageSink
) -> None:
    fake.queue_reply("word " * 200)
    completion = await chat_call_cached(spec(max_tokens=10), provider=provider, policy=local_policy(), usage_sink=sink)
    assert completion.stop_reason == "max_tokens" and 0 < len(completion.text) < 200


async def test_an_api_key_is_sent_as_a_bearer_token(sink: MemoryUsageSink) -> None:
    with FakeOpenAICompat(api_key=LOCAL_KEY) as fake:
        keyed = OpenAICompatProvider(base_url=fake.url, api_key=LOCAL_KEY, max_retries=0)
        try:
            await chat_call_cached(spec(), provider=keyed, policy=local_policy(), usage_sink=sink)
        finally:
            await keyed.aclose()
        assert fake.completion_requests[-1].headers["authorization"] == f"Bearer {LOCAL_KEY}"


async def test_without_its_own_tiers_the_provider_uses_the_policys_tiers(
    fake: FakeOpenAICompat, provider: OpenAICompatProvider, sink: MemoryUsageSink
) -> None:
    policy = AIPolicy.from_config({"tiers": {"fast": "llama3.1:8b", "balanced": "llama3.1:8b", "deep": "qwen2.5:72b"}})
    await chat_call_cached(spec(service="ai_parse"), provider=provider, policy=policy, usage_sink=sink)
    assert fake.completion_requests[-1].json["model"] == "llama3.1:8b"


def test_settings_name_the_key_that_is_wrong() -> None:
    with pytest.raises(ValueError, match=r"^ai\.openai_compat\.base_url: required"):
        OpenAICompatProvider.from_settings({"ai": {"openai_compat": {}}})
    with pytest.raises(ValueError, match=r"^ai\.openai_compat\.base_url: 'localhost:11434' is not an http"):
        OpenAICompatProvider.from_settings({"ai": {"openai_compat": {"base_url": "localhost:11434"}}})
    with pytest.raises(ValueError, match=r"^ai\.openai_compat\.max_retries: 11 is not a whole number 0-10"):
        OpenAICompatProvider(base_url="http://127.0.0.1:1/v1", max_retries=11)
    with pytest.raises(ValueError, match=r"^ai\.openai_compat\.modle: unknown setting"):
        OpenAICompatProvider.from_settings({"ai": {"openai_compat": {"base_url": "http://x/v1", "modle": "llama"}}})
    with pytest.raises(ValueError, match=r"^ai\.openai_compat\.tiers: names no model for balanced, deep"):
        AIPolicy.from_config({"openai_compat": {"tiers": {"fast": "llama3.1:8b"}}})
