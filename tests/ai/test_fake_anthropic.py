"""The fake Messages API follows the documented rules (through the real SDK where it matters)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx
import pytest

from flowpilot_core.ai.tokens import estimate_request_tokens
from flowpilot_core.testing import FakeAnthropic
from flowpilot_core.testing.fake_anthropic import default_reply

from .support import SYSTEM, text, tool, turns

MODEL = "claude-sonnet-4-6"


@pytest.fixture
async def client(fake: FakeAnthropic) -> AsyncIterator[anthropic.AsyncAnthropic]:
    c = anthropic.AsyncAnthropic(api_key="test-key", base_url=fake.url, max_retries=0)
    yield c
    await c.close()


def body(**overrides: Any) -> dict[str, Any]:
    """A request with a cached ~2,000-token system block and one user message."""
    b: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 256,
        "system": [text(SYSTEM, "5m")],
        "messages": [{"role": "user", "content": [text("The printer is offline.")]}],
    }
    b.update(overrides)
    return b


async def create(client: anthropic.AsyncAnthropic, **kwargs: Any) -> Any:
    any_client: Any = client
    return await any_client.messages.create(**kwargs)


def raw_post(
    fake: FakeAnthropic, payload: Any, headers: dict[str, str] | None = None, path: str = "/v1/messages"
) -> httpx.Response:
    base = {"authorization": "Bearer test-key", "anthropic-version": "2026-10-21"}
    return httpx.post(fake.url + path, json=payload, headers=base if headers is None else headers, timeout=10)


# -- auth, error shape, request log ------------------------------------------------------


def test_x_api_key_is_not_enough_bearer_is_required(fake: FakeAnthropic) -> None:
    response = raw_post(fake, body(), headers={"x-api-key": "test-key", "anthropic-version": "2026-10-21"})
    assert response.status_code == 401
    payload = response.json()
    assert payload["type"] == "error"
    assert payload["error"]["type"] == "authentication_error"
    assert payload["request_id"] == response.headers["request-id"]
    assert raw_post(fake, body()).status_code == 200


def test_configured_key_must_match() -> None:
    with FakeAnthropic(api_key="right") as fake:
        assert raw_post(fake, body(), {"authorization": "Bearer wrong", "anthropic-version": "x"}).status_code == 401
        assert raw_post(fake, body(), {"authorization": "Bearer right", "anthropic-version": "x"}).status_code == 200


def test_anthropic_version_header_is_required(fake: FakeAnthropic) -> None:
    response = raw_post(fake, body(), headers={"authorization": "Bearer k"})
    assert response.status_code == 400
    assert "anthropic-version" in response.json()["error"]["message"]


async def test_request_log_shows_what_the_sdk_sent(fake: FakeAnthropic, client: anthropic.AsyncAnthropic) -> None:
    await create(client, **body())
    sent = fake.requests[-1]
    assert sent.method == "POST" and sent.path == "/v1/messages"
    assert sent.headers["authorization"] == "Bearer test-key"
    assert "x-api-key" not in sent.headers
    assert sent.headers["anthropic-version"] == "2026-10-21"
    assert json.loads(sent.body) == body()
    assert sent.status == 200
    assert sent.breakpoints == [0]


# -- writes, reads and usage accounting ------------------------------------------------------


async def test_first_call_writes_second_reads_and_counts_add_up(
    fake: FakeAnthropic, client: anthropic.AsyncAnthropic
) -> None:
    total = await client.messages.count_tokens(model=MODEL, system=body()["system"], messages=body()["messages"])
    assert total.input_tokens == estimate_request_tokens(body())

    first = (await create(client, **body())).usage
    assert first.cache_creation_input_tokens > 1024
    assert first.cache_read_input_tokens == 0
    assert first.cache_creation.ephemeral_5m_input_tokens == first.cache_creation_input_tokens
    assert first.input_tokens + first.cache_creation_input_tokens == total.input_tokens

    second = (await create(client, **body())).usage
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    assert second.cache_creation_input_tokens == 0
    assert second.input_tokens == first.input_tokens  # only what follows the cached prefix


async def test_below_the_model_minimum_nothing_is_cached_and_nothing_fails(
    fake: FakeAnthropic, client: anthropic.AsyncAnthropic
) -> None:
    short = body(system=[text("You are FlowPilot.", "5m")])
    for _ in range(2):
        usage = (await create(client, **short)).usage
        assert (usage.cache_creation_input_tokens, usage.cache_read_input_tokens) == (0, 0)
        assert usage.input_tokens == estimate_request_tokens(short)
    # ~2,000 tokens: cacheable on Sonnet 4.6 (1,024) but not on Haiku 4.5 (4,096).
    haiku = (await create(client, **body(model="claude-haiku-4-5"))).usage
    assert haiku.cache_creation_input_tokens == 0
    sonnet = (await create(client, **body())).usage
    assert sonnet.cache_creation_input_tokens > 0


async def test_a_changed_model_misses(fake: FakeAnthropic, client: anthropic.AsyncAnthropic) -> None:
    await create(client, **body())
    other = (await create(client, **body(model="claude-opus-4-8"))).usage
    assert other.cache_read_input_tokens == 0 and other.cache_creation_input_tokens > 0


async def test_tool_choice_change_keeps_tools_but_loses_system(
    fake: FakeAnthropic, client: anthropic.AsyncAnthropic
) -> None:
    tools = [tool(f"tool_{i:02d}", "Look things up. " * 60) for i in range(6)]
    tools[-1] = {**tools[-1], "cache_control": {"type": "ephemeral", "ttl": "5m"}}
    base = body(tools=tools)
    first = (await create(client, **base)).usage
    changed = (await create(client, **base, tool_choice={"type": "any"})).usage
    tools_tokens = estimate_request_tokens({"tools": tools})
    assert changed.cache_read_input_tokens == tools_tokens
    assert changed.cache_creation_input_tokens == first.cache_creation_input_tokens - tools_tokens


async def test_changed_tool_definition_misses_everything(fake: FakeAnthropic, client: anthropic.AsyncAnthropic) -> None:
    await create(client, **body(tools=[tool("a")]))
    usage = (await create(client, **body(tools=[tool("a", "Changed description.")]))).usage
    assert usage.cache_read_input_tokens == 0


async def test_lookback_reaches_twenty_positions_and_no_further(
    fake: FakeAnthropic, client: anthropic.AsyncAnthropic
) -> None:
    # Request 1 writes an entry at the system block (position 0).
    await create(client, **body(messages=turns(1)))
    # Breakpoint at position 19: positions 19..0 are 20 positions, so it finds the entry.
    near = (await create(client, **body(system=[text(SYSTEM)], messages=turns(19, "5m")))).usage
    assert near.cache_read_input_tokens > 0
    fake.clear_cache()
    await create(client, **body(messages=turns(1)))
    # Breakpoint at position 20: the walk stops at position 1; the entry at 0 is not found.
    far = (await create(client, **body(system=[text(SYSTEM)], messages=turns(20, "5m")))).usage
    assert far.cache_read_input_tokens == 0
    assert far.cache_creation_input_tokens > 0


# -- lifetime -------------------------------------------------------------------------------


async def test_five_minute_ttl_expires_and_hits_refresh_it(
    fake: FakeAnthropic, client: anthropic.AsyncAnthropic
) -> None:
    await create(client, **body())
    fake.advance(299)
    assert (await create(client, **body())).usage.cache_read_input_tokens > 0  # refreshes to t+299+300
    fake.advance(299)
    assert (await create(client, **body())).usage.cache_read_input_tokens > 0  # 598 s after the write
    fake.advance(301)
    expired = (await create(client, **body())).usage
    assert expired.cache_read_input_tokens == 0 and expired.cache_creation_input_tokens > 0


async def test_one_hour_ttl_and_the_creation_split(fake: FakeAnthropic, client: anthropic.AsyncAnthropic) -> None:
    request = body(system=[text(SYSTEM, "1h")], messages=turns(3, "5m"))
    first = (await create(client, **request)).usage
    system_tokens = estimate_request_tokens({"system": [text(SYSTEM)]})
    assert first.cache_creation.ephemeral_1h_input_tokens == system_tokens
    assert first.cache_creation.ephemeral_5m_input_tokens == first.cache_creation_input_tokens - system_tokens
    fake.advance(1800)  # the 5m entry is gone, the 1h one is not
    later = (await create(client, **request)).usage
    assert later.cache_read_input_tokens == system_tokens
    assert later.cache_creation.ephemeral_5m_input_tokens > 0
    fake.advance(3601)
    assert (await create(client, **request)).usage.cache_read_input_tokens == 0


async def test_an_entry_is_usable_only_after_the_writing_response_began() -> None:
    with FakeAnthropic(response_delay=0.3) as fake:
        client = anthropic.AsyncAnthropic(api_key="k", base_url=fake.url, max_retries=0)
        both = await asyncio.gather(create(client, **body()), create(client, **body()))
        assert [m.usage.cache_read_input_tokens for m in both] == [0, 0]
        assert all(m.usage.cache_creation_input_tokens > 0 for m in both)
        after = await create(client, **body())
        assert after.usage.cache_read_input_tokens > 0
        await client.close()


# -- breakpoint rules ---------------------------------------------------------------------


async def test_five_breakpoints_are_rejected_with_the_documented_message(
    fake: FakeAnthropic, client: anthropic.AsyncAnthropic
) -> None:
    request = body(messages=turns(5))
    for message in request["messages"]:
        message["content"][0]["cache_control"] = {"type": "ephemeral"}
    with pytest.raises(anthropic.BadRequestError) as info:
        await create(client, **request)
    assert info.value.type == "invalid_request_error"
    assert info.value.api_message == "A maximum of 4 blocks with cache_control may be provided. Found 6."


async def test_automatic_caching_uses_a_slot_and_caches_the_last_block(
    fake: FakeAnthropic, client: anthropic.AsyncAnthropic
) -> None:
    four = body(messages=turns(3, "5m"))
    four["messages"][0]["content"][0]["cache_control"] = {"type": "ephemeral"}
    four["messages"][1]["content"][0]["cache_control"] = {"type": "ephemeral"}
    with pytest.raises(anthropic.BadRequestError, match="Found 5"):
        await create(client, **four, cache_control={"type": "ephemeral"})

    auto = body(system=[text(SYSTEM)], messages=turns(3), cache_control={"type": "ephemeral"})
    first = (await create(client, **auto)).usage
    assert first.cache_creation_input_tokens == estimate_request_tokens(auto)
    assert first.input_tokens == 0
    assert (await create(client, **auto)).usage.cache_read_input_tokens == estimate_request_tokens(auto)
    assert fake.message_requests[-1].breakpoints == [3]


def test_one_hour_after_five_minutes_is_rejected(fake: FakeAnthropic) -> None:
    response = raw_post(fake, body(system=[text(SYSTEM, "5m")], messages=turns(1, "1h")))
    assert response.status_code == 400
    assert "1h" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("patch", "needle"),
    [
        ({"system": [{"type": "text", "text": SYSTEM, "cache_control": {"type": "persistent"}}]}, "ephemeral"),
        ({"system": [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral", "ttl": "2h"}}]}, "ttl"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]}, "non-empty"),
        ({"tools": [tool("a"), tool("a")]}, "unique"),
        ({"temperatur": 0.2}, "temperatur"),
        (
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {
                        "role": "assistant",
                        "content": [{"type": "thinking", "thinking": "x", "signature": "s", "cache_control": {}}],
                    },
                ]
            },
            "thinking",
        ),
    ],
)
def test_invalid_requests_are_400_invalid_request_error(
    fake: FakeAnthropic, patch: dict[str, Any], needle: str
) -> None:
    response = raw_post(fake, body(**patch))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert needle in error["message"]


async def test_max_tokens_zero_prewarms(fake: FakeAnthropic, client: anthropic.AsyncAnthropic) -> None:
    warm = await create(client, **body(max_tokens=0))
    assert warm.content == [] and warm.stop_reason == "max_tokens"
    assert warm.usage.cache_creation_input_tokens > 0 and warm.usage.output_tokens == 0
    assert (await create(client, **body())).usage.cache_read_input_tokens > 0


# -- replies, streaming and scripted failures ------------------------------------------


async def test_default_reply_is_deterministic_and_follows_the_last_user_message(
    fake: FakeAnthropic, client: anthropic.AsyncAnthropic
) -> None:
    a1 = await create(client, **body())
    a2 = await create(client, **body())
    b = await create(client, **body(messages=[{"role": "user", "content": "The scanner is offline."}]))
    assert a1.content[0].text == a2.content[0].text == default_reply(body())
    assert "printer is offline" in a1.content[0].text
    assert b.content[0].text != a1.content[0].text
    fake.queue_reply("Scripted answer.")
    assert (await create(client, **body())).content[0].text == "Scripted answer."
    fake.reply = lambda request: f"{len(request['messages'])} message(s)"
    assert (await create(client, **body())).content[0].text == "1 message(s)"


def test_stream_events_follow_the_documented_sequence(fake: FakeAnthropic) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    headers = {"authorization": "Bearer k", "anthropic-version": "2026-10-21"}
    with httpx.stream("POST", fake.url + "/v1/messages", json=body(stream=True), headers=headers) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        name = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
                assert data["type"] == name
                events.append((name, data))
    names = [n for n, _ in events]
    assert names[0] == "message_start" and "ping" in names
    assert names[-2:] == ["message_delta", "message_stop"]
    assert names.count("content_block_start") == names.count("content_block_stop") == 1
    assert names.count("content_block_delta") > 1
    start = events[0][1]["message"]
    assert start["content"] == [] and start["stop_reason"] is None
    assert start["usage"]["output_tokens"] == 1
    assert start["usage"]["cache_creation_input_tokens"] > 0
    deltas = "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta")
    assert deltas == default_reply(body())
    final = events[-2][1]
    assert final["delta"]["stop_reason"] == "end_turn"
    assert final["usage"]["output_tokens"] == fake.message_requests[-1].usage["output_tokens"]  # type: ignore[index]
    assert final["usage"]["cache_creation_input_tokens"] == start["usage"]["cache_creation_input_tokens"]


async def test_sdk_stream_helper_sees_cache_usage(fake: FakeAnthropic, client: anthropic.AsyncAnthropic) -> None:
    await create(client, **body())
    any_client: Any = client
    async with any_client.messages.stream(**body()) as stream:
        streamed = "".join([t async for t in stream.text_stream])
        final = await stream.get_final_message()
    assert streamed == final.content[0].text
    assert final.usage.cache_read_input_tokens > 0


async def test_scripted_rate_limit_and_overload(fake: FakeAnthropic, client: anthropic.AsyncAnthropic) -> None:
    fake.queue_error(429, "rate_limit_error", "Number of request tokens has exceeded your rate limit", retry_after=7)
    fake.queue_error(529, "overloaded_error", "Overloaded")
    with pytest.raises(anthropic.RateLimitError) as limited:
        await create(client, **body())
    assert limited.value.response.headers["retry-after"] == "7"
    assert limited.value.body == {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": "Number of request tokens has exceeded your rate limit"},
        "request_id": limited.value.request_id,
    }
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        await create(client, **body())
    assert overloaded.value.status_code == 529 and overloaded.value.type == "overloaded_error"
    assert (await create(client, **body())).content  # the queue is used up


async def test_scripted_mid_stream_error(fake: FakeAnthropic, client: anthropic.AsyncAnthropic) -> None:
    fake.queue_stream_error(after_deltas=2)
    got: list[str] = []
    any_client: Any = client
    with pytest.raises(anthropic.APIStatusError) as info:
        stream = await any_client.messages.create(**body(), stream=True)
        async for event in stream:
            if event.type == "content_block_delta":
                got.append(event.delta.text)
    assert len(got) == 2
    assert info.value.type == "overloaded_error"


# -- MCP ------------------------------------------------------------------------------------


async def test_mcp_servers_need_the_beta_and_are_recorded(
    fake: FakeAnthropic, client: anthropic.AsyncAnthropic
) -> None:
    servers = [{"type": "url", "url": "https://rmm.example/mcp", "name": "rmm"}]
    tools = [{"type": "mcp_toolset", "mcp_server_name": "rmm"}]
    any_client: Any = client
    await any_client.beta.messages.create(**body(tools=tools), mcp_servers=servers, betas=["mcp-client-2025-11-20"])
    assert fake.mcp_requests == [{"mcp_servers": servers, "toolsets": tools, "betas": ["mcp-client-2025-11-20"]}]

    no_beta = raw_post(fake, body(tools=tools, mcp_servers=servers))
    assert no_beta.status_code == 400 and "anthropic-beta" in no_beta.json()["error"]["message"]
    orphan = raw_post(
        fake,
        body(tools=[{"type": "mcp_toolset", "mcp_server_name": "other"}], mcp_servers=servers),
        {"authorization": "Bearer k", "anthropic-version": "v", "anthropic-beta": "mcp-client-2025-11-20"},
    )
    assert orphan.status_code == 400 and "mcp_server_name" in orphan.json()["error"]["message"]


def test_unknown_paths_are_404(fake: FakeAnthropic) -> None:
    response = raw_post(fake, {}, path="/v1/complete")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"
