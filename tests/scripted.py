"""A scripted model provider for API tests that need exact assistant output (malformed markers, failures)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from flowpilot_core.ai.errors import AIError
from flowpilot_core.ai.layout import LaidOutCall
from flowpilot_core.ai.provider import StreamEvent, TextDelta, UsageUpdate
from flowpilot_core.ai.types import Completion, TokenUsage


@dataclass
class ScriptedProvider:
    """Answers each call with the next scripted reply (text, or an AIError to raise)."""

    replies: list[str | AIError] = field(default_factory=list)
    calls: list[LaidOutCall] = field(default_factory=list)
    name: str = "scripted"

    def _next(self, request: LaidOutCall) -> str:
        self.calls.append(request)
        if not self.replies:
            raise AssertionError(f"no scripted reply left for a {request.spec.service} call")
        reply = self.replies.pop(0)
        if isinstance(reply, AIError):
            raise reply
        return reply

    async def complete(self, request: LaidOutCall) -> Completion:
        text = self._next(request)
        return Completion(text=text, model="scripted-model", usage=TokenUsage(input_tokens=10, output_tokens=5))

    async def stream(self, request: LaidOutCall) -> AsyncIterator[StreamEvent]:
        text = self._next(request)
        yield UsageUpdate(TokenUsage(input_tokens=10))
        for i in range(0, len(text), 7):
            yield TextDelta(text[i : i + 7])
        yield Completion(text=text, model="scripted-model", usage=TokenUsage(input_tokens=10, output_tokens=5))
