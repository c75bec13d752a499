"""The offline model provider: deterministic replies, estimated usage, no network.

The reply text is :func:`flowpilot_offline.brain.respond(spec)`; the brain is imported
when the first call is made, so this module loads even where the brain is replaced (tests
install a stand-in module under ``flowpilot_offline.brain``). Usage is counted with
:mod:`flowpilot_core.ai.tokens` over the laid-out request, with no caching simulated:
every input token is reported as ``input_tokens`` and ``estimated=True``.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import re
from collections.abc import AsyncIterator

from flowpilot_core.ai.errors import AIError
from flowpilot_core.ai.layout import LaidOutCall
from flowpilot_core.ai.provider import StreamEvent, TextDelta, UsageUpdate
from flowpilot_core.ai.tokens import estimate_request_tokens, estimate_text_tokens
from flowpilot_core.ai.types import Completion, TokenUsage

BRAIN_MODULE = "flowpilot_offline.brain"

# A word with the whitespace after it, or leading whitespace: joining the chunks gives
# back the exact reply.
_WORDS = re.compile(r"\s*\S+\s*|\s+")


def word_chunks(text: str) -> list[str]:
    """``text`` split into word-sized chunks whose concatenation is ``text``."""
    return _WORDS.findall(text)


class OfflineProvider:
    """:class:`~flowpilot_core.ai.provider.ModelProvider` answering from the offline brain."""

    name = "offline"

    def __init__(self, stream_delay_ms: float = 0.0) -> None:
        # A pause between streamed words, so a demo shows a reply being written; 0 in tests.
        self.stream_delay = max(0.0, stream_delay_ms) / 1000.0

    async def _reply(self, request: LaidOutCall) -> str:
        try:
            brain = importlib.import_module(BRAIN_MODULE)
            reply = brain.respond(request.spec)
            if inspect.isawaitable(reply):
                reply = await reply
        except AIError:
            raise
        except Exception as exc:  # the brain is local code: a failure is a bug, surfaced readably
            raise AIError(
                "The offline assistant could not answer this message.", detail=f"{type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(reply, str):
            raise AIError(
                "The offline assistant could not answer this message.",
                detail=f"brain.respond returned {type(reply).__name__}, not str",
            )
        return reply

    @staticmethod
    def _usage(request: LaidOutCall, text: str) -> TokenUsage:
        return TokenUsage(
            input_tokens=estimate_request_tokens(request.kwargs),
            output_tokens=estimate_text_tokens(text),
            estimated=True,
        )

    async def complete(self, request: LaidOutCall) -> Completion:
        """The brain's reply as one completion."""
        text = await self._reply(request)
        return Completion(text=text, model=request.model, usage=self._usage(request, text), stop_reason="end_turn")

    async def stream(self, request: LaidOutCall) -> AsyncIterator[StreamEvent]:
        """The brain's reply in word-sized chunks, then the completion."""
        text = await self._reply(request)
        usage = self._usage(request, text)
        yield UsageUpdate(TokenUsage(input_tokens=usage.input_tokens, estimated=True))
        for chunk in word_chunks(text):
            if self.stream_delay:
                await asyncio.sleep(self.stream_delay)
            yield TextDelta(chunk)
        yield Completion(text=text, model=request.model, usage=usage, stop_reason="end_turn")


__all__ = ["OfflineProvider", "word_chunks"]
