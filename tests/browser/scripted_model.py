"""A scripted model provider for the browser tests' live server, contributed by a plugin like any other.

Browser tests that need a particular assistant reply (a question, a check, a fact) script it here rather
than rely on the offline model's playbooks, whose wording is free to change. It works like
``tests/scripted.py``'s ``ScriptedProvider`` (each call takes the next scripted reply, a call with none
left fails loudly), with one queue per service (``chat``, ``fact_synthesis``, ``script_generation``, ...)
because a browser test cannot control which of them the server asks first, and with timing: a pause before the reply and
between streamed chunks, as a real model has.

The server runs in another thread; the test thread only appends to the queues and reads ``calls``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from flowpilot_core import hookimpl
from flowpilot_core.ai.errors import AIError
from flowpilot_core.ai.layout import LaidOutCall
from flowpilot_core.ai.provider import StreamEvent, TextDelta, UsageUpdate
from flowpilot_core.ai.types import Completion, TokenUsage

PROVIDER_NAME = "scripted"
CHUNK = 6  # characters per streamed delta


@dataclass(frozen=True)
class Reply:
    """One scripted answer: `text` (streamed in chunks), then `error` raised if set."""

    text: str = ""
    error: AIError | None = None
    delay: float = 0.0  # seconds before the first chunk
    chunk_delay: float = 0.0  # seconds between chunks


@dataclass
class ScriptedModel:
    """The model provider: answers each call with the next reply scripted for its service."""

    name: str = PROVIDER_NAME
    queues: dict[str, list[Reply]] = field(default_factory=dict)
    calls: list[LaidOutCall] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ---- Scripting (test thread) ----------------------------------------------------------------

    def say(self, text: str, **timing: float) -> None:
        """Script the next chat reply (marker syntax and all)."""
        self._push("chat", Reply(text, **timing))

    def fail(self, error: AIError, partial: str = "", **timing: float) -> None:
        """Script the next chat reply to break with `error` after streaming `partial`."""
        self._push("chat", Reply(partial, error=error, **timing))

    def fact(self, fact: str | None, reason: str = "scripted", **timing: float) -> None:
        """Script the next fact-synthesis answer (`None`: nothing conclusive)."""
        self._push("fact_synthesis", Reply(json.dumps({"fact": fact, "reason": reason}), **timing))

    def script(self, name: str, script: str, **timing: float) -> None:
        """Script the next script-generation answer (the script a no-template choice has the model write)."""
        self._push("script_generation", Reply(json.dumps({"name": name, "script": script}), **timing))

    def extraction(self, *parameters: dict[str, str]) -> None:
        """Script the next template-extraction model pass: the literals it adds (none: the rules' result stands)."""
        self._push("template_extraction", Reply(json.dumps({"parameters": list(parameters)})))

    def prefill(self, **values: str) -> None:
        """Script the next prefill-suggestion answer: the values it says the facts or the ticket name."""
        self._push("script_prefill", Reply(json.dumps({"values": values})))

    def fail_synthesis(self, error: AIError) -> None:
        self._push("fact_synthesis", Reply(error=error))

    def reset(self) -> None:
        with self._lock:
            self.queues.clear()
            self.calls.clear()

    def pending(self) -> dict[str, int]:
        """Scripted replies no call has taken yet, per service (a test should leave none)."""
        with self._lock:
            return {service: len(queue) for service, queue in self.queues.items() if queue}

    def _push(self, service: str, reply: Reply) -> None:
        with self._lock:
            self.queues.setdefault(service, []).append(reply)

    # ---- The ModelProvider protocol (server thread) ------------------------------------------------

    def _next(self, request: LaidOutCall) -> Reply:
        service = request.spec.service
        with self._lock:
            self.calls.append(request)
            queue = self.queues.get(service) or []
            if not queue:
                raise AssertionError(f"no scripted reply left for a {service} call")
            return queue.pop(0)

    async def complete(self, request: LaidOutCall) -> Completion:
        reply = self._next(request)
        await asyncio.sleep(reply.delay)
        if reply.error is not None:
            raise reply.error
        return Completion(text=reply.text, model="scripted-model", usage=TokenUsage(input_tokens=10, output_tokens=5))

    async def stream(self, request: LaidOutCall) -> AsyncIterator[StreamEvent]:
        reply = self._next(request)
        yield UsageUpdate(TokenUsage(input_tokens=10))
        await asyncio.sleep(reply.delay)
        for start in range(0, len(reply.text), CHUNK):
            if start:
                await asyncio.sleep(reply.chunk_delay)
            yield TextDelta(reply.text[start : start + CHUNK])
        if reply.error is not None:
            raise reply.error
        yield Completion(text=reply.text, model="scripted-model", usage=TokenUsage(input_tokens=10, output_tokens=5))


class ScriptedModelPlugin:
    """The plugin that contributes `model` as the ``scripted`` model provider."""

    def __init__(self, model: ScriptedModel) -> None:
        self.model = model

    @hookimpl
    def register_model_providers(self, register: Callable[..., None]) -> None:
        register(PROVIDER_NAME, lambda settings: self.model)
