"""How long a technician waits for each AI fault, and what the timeout guard costs per stream event.

    .venv/bin/python bench/ai_faults.py

Part 1 plays each fault of the fake Messages API once through ``chat_call_cached`` (the
real SDK, its default 2 retries) with timeouts scaled down 100x from the defaults
(connect 0.1, first_byte 0.6, stream_idle 0.3, deadline 1.2 s), and prints the wait until
the error and the error's code. Multiply by 100 for the default policy.

The SDK's backoff between retries (about 0.5-8 s) is not scaled, so a fault answered
on every attempt (500s) can reach the scaled deadline while the SDK waits to retry and
is then reported as ``timed_out`` (with the default 120 s deadline it is reported as
``server_error`` after the retries).

Part 2 streams 20,000 deltas from an in-process provider through
``chat_call_cached_stream`` and prints the time per event, with the default timeouts
(each wait for an event runs under ``asyncio.timeout``) and without a provider at all
(the bare iteration), so the difference is the guard's cost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from flowpilot_anthropic.provider import AnthropicProvider

from flowpilot_core.ai.errors import AIError
from flowpilot_core.ai.layout import LaidOutCall
from flowpilot_core.ai.policy import AIPolicy
from flowpilot_core.ai.provider import (
    MemoryUsageSink,
    StreamEvent,
    TextDelta,
    UsageUpdate,
    chat_call_cached,
    chat_call_cached_stream,
)
from flowpilot_core.ai.types import CallSpec, Completion, TokenUsage
from flowpilot_core.testing import FakeAnthropic

SCALED = AIPolicy.from_config({"timeouts": {"connect": 0.1, "first_byte": 0.6, "stream_idle": 0.3, "deadline": 1.2}})
SPEC = CallSpec(service="chat", system=("You are FlowPilot.",), request="The spooler keeps stopping.")
DELTAS = 20_000


async def _fault_waits() -> None:
    faults = {
        "hang before headers (every attempt)": lambda f: [f.queue_hang(seconds=30) for _ in range(3)],
        "hang mid-stream": lambda f: f.queue_hang(after_deltas=2, seconds=30),
        "truncated JSON": lambda f: f.queue_malformed("truncated_json"),
        "broken SSE": lambda f: f.queue_malformed("broken_sse", after_deltas=2),
        "500 api_error (every attempt)": lambda f: [f.queue_error(500, "api_error") for _ in range(3)],
        "529 overloaded (every attempt)": lambda f: [
            f.queue_error(529, "overloaded_error", retry_after=0.01) for _ in range(3)
        ],
        "429 retry-after 7 (no retries)": lambda f: f.queue_error(429, "rate_limit_error", retry_after=7),
    }
    print(f"{'fault':40} {'wait_s':>7} {'attempts':>8}  code")
    for name, script in faults.items():
        with FakeAnthropic() as fake:
            retries = 0 if "no retries" in name else 2
            provider = AnthropicProvider(api_key="bench", base_url=fake.url, max_retries=retries)
            script(fake)
            streamed = "stream" in name or "SSE" in name
            started = time.perf_counter()
            code = "ok"
            try:
                if streamed:
                    async for _ in chat_call_cached_stream(
                        SPEC, provider=provider, policy=SCALED, usage_sink=MemoryUsageSink()
                    ):
                        pass
                else:
                    await chat_call_cached(SPEC, provider=provider, policy=SCALED, usage_sink=MemoryUsageSink())
            except AIError as exc:
                code = f"{exc.code} (retryable={exc.retryable})"
            waited = time.perf_counter() - started
            print(f"{name:40} {waited:7.2f} {len(fake.message_requests):8}  {code}")
            await provider.aclose()


class _Firehose:
    name = "firehose"

    async def complete(self, request: LaidOutCall) -> Completion:
        raise NotImplementedError

    async def stream(self, request: LaidOutCall) -> AsyncIterator[StreamEvent]:
        yield UsageUpdate(TokenUsage(input_tokens=10))
        for _ in range(DELTAS):
            yield TextDelta("x")
        yield Completion(text="x" * DELTAS, model="m", usage=TokenUsage(input_tokens=10, output_tokens=DELTAS))


async def _bare() -> float:
    started = time.perf_counter()
    async for _ in _Firehose().stream(None):  # type: ignore[arg-type]
        pass
    return time.perf_counter() - started


async def _guarded() -> float:
    started = time.perf_counter()
    async for _ in chat_call_cached_stream(SPEC, provider=_Firehose(), policy=AIPolicy(), usage_sink=MemoryUsageSink()):
        pass
    return time.perf_counter() - started


async def main() -> None:
    await _fault_waits()
    bare = min([await _bare() for _ in range(3)])
    guarded = min([await _guarded() for _ in range(3)])
    per_bare, per_guarded = bare / DELTAS * 1e6, guarded / DELTAS * 1e6
    print(
        f"stream_event_us bare={per_bare:.2f} chat_call_cached_stream={per_guarded:.2f} "
        f"overhead={per_guarded - per_bare:.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
