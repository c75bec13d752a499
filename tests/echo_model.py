"""A model provider for API tests: scripted chat replies, and fact synthesis that states the answer it got."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from flowpilot_core.ai.errors import AIError
from flowpilot_core.ai.layout import LaidOutCall
from flowpilot_core.ai.provider import StreamEvent, TextDelta
from flowpilot_core.ai.types import Completion, TokenUsage


@dataclass
class EchoProvider:
    """Chat calls get the next scripted reply (or error); fact synthesis states the answer it was given.

    Synthesis waits a random moment first, so that concurrent answers finish in any order.
    """

    replies: list[str | AIError] = field(default_factory=list)
    calls: list[LaidOutCall] = field(default_factory=list)
    jitter: float = 0.0
    name: str = "echo"

    async def _text(self, request: LaidOutCall) -> str:
        self.calls.append(request)
        if request.spec.service == "fact_synthesis":
            if self.jitter:
                await asyncio.sleep(random.uniform(0, self.jitter))
            given = json.loads(request.spec.request)
            said = given.get("answer") or given.get("output") or ""
            return json.dumps({"fact": f"The technician said: {said.strip()}", "reason": "echo"})
        if not self.replies:
            raise AssertionError(f"no scripted reply left for a {request.spec.service} call")
        reply = self.replies.pop(0)
        if isinstance(reply, AIError):
            raise reply
        return reply

    async def complete(self, request: LaidOutCall) -> Completion:
        text = await self._text(request)
        return Completion(text=text, model="echo-model", usage=TokenUsage(input_tokens=10, output_tokens=5))

    async def stream(self, request: LaidOutCall) -> AsyncIterator[StreamEvent]:
        text = await self._text(request)
        yield TextDelta(text)
        yield Completion(text=text, model="echo-model", usage=TokenUsage(input_tokens=10, output_tokens=5))

    def chat_calls(self) -> list[LaidOutCall]:
        return [c for c in self.calls if c.spec.service == "chat"]
