"""Prefix reuse on an OpenAI-compatible server: the prompt-cache benchmark's session on ``openai_compat``.

Plays the 20-turn session of ``bench/prompt_cache.py`` (same system prompt, tools, ticket,
growing facts and conversation) through ``chat_call_cached`` with the real ``openai`` SDK
and :class:`~flowpilot_openai_compat.provider.OpenAICompatProvider`, pointed at
:class:`~flowpilot_openai_compat.testing.FakeOpenAICompat`, whose automatic prefix cache
counts a prefix as cached only if an earlier request sent it byte for byte (OpenAI's
1,024-token minimum). So the share printed is what the layout's byte-stable mapping lets
a server with automatic prefix caching (vLLM, llama.cpp, OpenAI) reuse.

Prints per turn the prompt tokens, the cached tokens and the call's wall time, then
``cache_read_share=<input read from cache, turns 2-20> mean_call_ms=<...>``.

Run from the repository root: ``.venv/bin/python bench/openai_compat_prefix.py``.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "plugins", ROOT / "bench"):  # runnable from a plain checkout
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from flowpilot_openai_compat.provider import OpenAICompatProvider  # noqa: E402
from flowpilot_openai_compat.testing import FakeOpenAICompat  # noqa: E402
from prompt_cache import REPLY, TECH, TURNS, spec_for  # noqa: E402

from flowpilot_core.ai.policy import AIPolicy  # noqa: E402
from flowpilot_core.ai.provider import MemoryUsageSink, chat_call_cached  # noqa: E402
from flowpilot_core.ai.types import ChatMessage  # noqa: E402

TIERS = {"fast": "qwen2.5:32b", "balanced": "qwen2.5:32b", "deep": "qwen2.5:32b"}


async def main() -> None:
    policy = AIPolicy.from_config({"openai_compat": {"tiers": TIERS}})
    sink = MemoryUsageSink()
    with FakeOpenAICompat(reply=REPLY, min_cached_tokens=1024) as fake:
        provider = OpenAICompatProvider(base_url=fake.url, max_retries=0)
        past: tuple[ChatMessage, ...] = ()
        for turn in range(TURNS):
            completion = await chat_call_cached(spec_for(turn, past), provider=provider, policy=policy, usage_sink=sink)
            past = (*past, ChatMessage("user", TECH[turn]), ChatMessage("assistant", completion.text))
        await provider.aclose()
    print(f"{'turn':>4} {'prompt':>7} {'cached':>7} {'ms':>6}")
    for turn, record in enumerate(sink.records, start=1):
        u = record.usage
        prompt = u.input_tokens + u.cache_read_input_tokens
        print(f"{turn:>4} {prompt:>7} {u.cache_read_input_tokens:>7} {record.latency_ms:>6.1f}")
    later = [r.usage for r in sink.records[1:]]
    share = sum(u.cache_read_input_tokens for u in later) / sum(
        u.input_tokens + u.cache_read_input_tokens for u in later
    )
    mean_ms = statistics.mean(r.latency_ms for r in sink.records)
    print(f"cache_read_share={share:.3f} mean_call_ms={mean_ms:.1f}")


if __name__ == "__main__":
    asyncio.run(main())
