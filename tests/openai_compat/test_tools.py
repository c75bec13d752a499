"""Custom tools travel as Chat Completions ``function`` tools; tool calls come back in the Messages API's shape."""

from __future__ import annotations

import pytest
from flowpilot_openai_compat.provider import OpenAICompatProvider
from flowpilot_openai_compat.testing import FakeOpenAICompat

from flowpilot_core.ai.provider import MemoryUsageSink, chat_call_cached, chat_call_cached_stream
from flowpilot_core.ai.types import CallSpec, Completion

from .conftest import local_policy

LOOKUP = {
    "name": "lookup_device",
    "description": "Find a device in the RMM by name.",
    "input_schema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
}
TOOLSET = {"type": "mcp_toolset", "mcp_server_name": "rmm"}


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
async def test_tools_and_tool_calls_are_mapped(
    fake: FakeOpenAICompat, provider: OpenAICompatProvider, sink: MemoryUsageSink, streamed: bool
) -> None:
    spec = CallSpec(service="chat", system=("You are FlowPilot.",), tools=(LOOKUP, TOOLSET), request="Check PRINT01")
    fake.queue_reply(
        "", finish_reason="tool_calls", tool_calls=[{"name": "lookup_device", "arguments": {"name": "PRINT01"}}]
    )
    servers = [{"type": "url", "url": "https://rmm.example/mcp", "name": "rmm"}]
    if streamed:
        final = None
        async for item in chat_call_cached_stream(
            spec, provider=provider, policy=local_policy(), usage_sink=sink, mcp_servers=servers
        ):
            if isinstance(item, Completion):
                final = item
        assert final is not None
        completion = final
    else:
        completion = await chat_call_cached(
            spec, provider=provider, policy=local_policy(), usage_sink=sink, mcp_servers=servers
        )

    sent = fake.completion_requests[-1].json
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "lookup_device",
                "description": LOOKUP["description"],
                "parameters": LOOKUP["input_schema"],
            },
        }
    ], "custom tools as functions; the MCP toolset is not sent (no MCP connector on this API)"
    assert completion.stop_reason == "tool_use"
    assert completion.tool_calls == (
        {"type": "tool_use", "id": "call_0", "name": "lookup_device", "input": {"name": "PRINT01"}},
    )
