"""The one AI provider module: the provider protocol, usage recording and ``chat_call_cached``.

Every FlowPilot service makes its AI calls through :func:`chat_call_cached` (or
:func:`chat_call_cached_stream`). The wrapper

1. picks the model from the service's tier (:class:`~flowpilot_core.ai.policy.AIPolicy`),
2. passes MCP servers only when the service's MCP flag is on (off: the request carries
   no MCP server and no ``mcp_toolset`` tool at all),
3. lays the call out with cache breakpoints (:func:`~flowpilot_core.ai.layout.lay_out`),
4. calls the provider, measuring latency (and time to first token when streaming),
   within the service's timeouts (:class:`~flowpilot_core.ai.policy.Timeouts`): the
   deadline over the whole call and, once a stream has begun, the stream-idle limit;
   reaching either is a retryable :class:`~flowpilot_core.ai.errors.AITimedOut`,
5. records a :class:`UsageRecord` for every response, also for failures and for
   streams that break or are abandoned after they started (with what was known).

A model provider is contributed by a plugin (hook ``register_model_providers``) and
implements :class:`ModelProvider`. Providers raise only
:class:`~flowpilot_core.ai.errors.AIError` subclasses.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from typing import Any, Protocol, TypeAlias, runtime_checkable

import msgspec

from flowpilot_core.ai.errors import AIBadResponse, AIError, AIStreamCancelled, AITimedOut
from flowpilot_core.ai.layout import LaidOutCall, lay_out
from flowpilot_core.ai.policy import AIPolicy
from flowpilot_core.ai.pricing import cost_usd, uncached_cost_usd
from flowpilot_core.ai.types import CallSpec, Completion, TokenUsage

log = logging.getLogger("flowpilot.ai")


# -- stream events ----------------------------------------------------------------------


class TextDelta(msgspec.Struct, frozen=True):
    """A piece of assistant text, in order."""

    text: str


class UsageUpdate(msgspec.Struct, frozen=True):
    """Usage known so far while streaming (input and cache counts arrive first, output grows).

    Providers should send one as soon as the response starts, so that a stream that fails
    later can still be recorded with its input and cache tokens.
    """

    usage: TokenUsage


StreamEvent: TypeAlias = TextDelta | UsageUpdate | Completion
"""What :meth:`ModelProvider.stream` yields: deltas and usage updates, then one Completion."""


@runtime_checkable
class ModelProvider(Protocol):
    """A model backend. Built by the factory a plugin registers under ``name``."""

    name: str

    async def complete(self, request: LaidOutCall) -> Completion:
        """Run the call and return the finished response. Raise only ``AIError`` subclasses."""
        ...

    def stream(self, request: LaidOutCall) -> AsyncIterator[StreamEvent]:
        """Run the call streaming: ``TextDelta``/``UsageUpdate`` events, then one ``Completion``.

        A failure after the stream started is raised as an ``AIError`` subclass, ideally
        with ``partial_usage`` set.
        """
        ...


# -- usage ------------------------------------------------------------------------------


class UsageRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One provider response (or failed attempt), as a usage/cost report stores it."""

    account_id: str | None
    session_id: str | None
    service: str
    provider: str
    model: str
    usage: TokenUsage
    latency_ms: float
    """From the call until the response finished (or failed)."""
    cost_usd: float | None
    """What the response cost; ``None`` when the model has no configured price."""
    uncached_cost_usd: float | None
    """What the same tokens would have cost without prompt caching."""
    error: str | None = None
    """``None`` on success, else the error code (``rate_limited``, ``overloaded``, ``cancelled`` ...)."""
    error_message: str | None = None
    streamed: bool = False
    first_token_ms: float | None = None
    """Streams only: time until the first text delta."""


class UsageSink(Protocol):
    """Where usage records go (PostgreSQL in the server, memory in tests)."""

    async def record(self, record: UsageRecord) -> None:
        """Store one record. Failures are logged by the caller, never shown to the technician."""
        ...


class NullUsageSink:
    """Discards records."""

    async def record(self, record: UsageRecord) -> None:
        """Do nothing."""


class MemoryUsageSink:
    """Keeps records in a list (tests, benchmarks)."""

    def __init__(self) -> None:
        self.records: list[UsageRecord] = []

    async def record(self, record: UsageRecord) -> None:
        """Append ``record`` to :attr:`records`."""
        self.records.append(record)


# -- the cached call path ---------------------------------------------------------------


def prepare_call(
    spec: CallSpec, *, policy: AIPolicy, mcp_servers: Sequence[Mapping[str, Any]] = (), provider: str | None = None
) -> LaidOutCall:
    """Pick the model and MCP servers for ``spec.service`` and lay the call out.

    ``provider`` names the provider that will serve the call: its own tiers
    (``[ai.<provider>.tiers]``) pick the model when it has them. Exposed for diagnostics
    and tests; services call :func:`chat_call_cached`.
    """
    model = policy.model_for(spec.service, provider)
    servers = tuple(mcp_servers) if policy.mcp_allowed(spec.service) else ()
    return lay_out(spec, model=model, policy=policy, mcp_servers=servers)


class _Recorder:
    """Builds and stores the usage record of one call, exactly once."""

    def __init__(
        self, request: LaidOutCall, provider: ModelProvider, policy: AIPolicy, sink: UsageSink, *, streamed: bool
    ) -> None:
        self.request = request
        self.provider_name = str(getattr(provider, "name", type(provider).__name__))
        self.policy = policy
        self.sink = sink
        self.streamed = streamed
        self.started = time.perf_counter()
        self.first_token_ms: float | None = None
        self.done = False

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0

    def first_token(self) -> None:
        if self.first_token_ms is None:
            self.first_token_ms = self.elapsed_ms()

    async def __call__(self, usage: TokenUsage, *, model: str | None = None, error: AIError | None = None) -> None:
        if self.done:
            return
        self.done = True
        spec = self.request.spec
        model = model or self.request.model
        record = UsageRecord(
            account_id=spec.account_id,
            session_id=spec.session_id,
            service=spec.service,
            provider=self.provider_name,
            model=model,
            usage=usage,
            latency_ms=self.elapsed_ms(),
            cost_usd=cost_usd(model, usage, self.policy),
            uncached_cost_usd=uncached_cost_usd(model, usage, self.policy),
            error=None if error is None else error.code,
            error_message=None if error is None else (error.provider_detail or error.message),
            streamed=self.streamed,
            first_token_ms=self.first_token_ms,
        )
        try:
            await self.sink.record(record)
        except Exception:  # a broken usage store must not take the technician's answer away
            log.exception("usage sink %r failed to record %s usage", type(self.sink).__name__, spec.service)


def _name(provider: ModelProvider) -> str | None:
    name = getattr(provider, "name", None)
    return name if isinstance(name, str) else None


def _unexpected(exc: BaseException) -> AIError:
    # A provider that raised something other than AIError has a bug; the technician still
    # gets a readable error and the original stays chained for the logs.
    return AIError(detail=f"{type(exc).__name__}: {exc}")


def _deadline_passed(seconds: float) -> AITimedOut:
    return AITimedOut(
        f"The AI service did not answer within {seconds:g} seconds.",
        detail=f"the call's deadline of {seconds:g} s passed (all attempts and retries)",
    )


def _stream_stalled(seconds: float) -> AITimedOut:
    return AITimedOut(
        f"The AI service stopped sending its answer (nothing for {seconds:g} seconds).",
        detail=f"no stream event for {seconds:g} s",
    )


async def chat_call_cached(
    spec: CallSpec,
    *,
    provider: ModelProvider,
    policy: AIPolicy,
    usage_sink: UsageSink,
    mcp_servers: Sequence[Mapping[str, Any]] = (),
) -> Completion:
    """Make one AI call the FlowPilot way and return the finished completion.

    ``mcp_servers`` are MCP connector definitions (``{"type": "url", "url": ..., "name":
    ..., "authorization_token": ...}``); they are used only if the service's MCP flag is
    on. Raises an :class:`~flowpilot_core.ai.errors.AIError` subclass on failure, after
    recording usage.
    """
    request = prepare_call(spec, policy=policy, mcp_servers=mcp_servers, provider=_name(provider))
    record = _Recorder(request, provider, policy, usage_sink, streamed=False)
    deadline = request.timeouts.deadline
    limit = asyncio.timeout(deadline)
    try:
        async with limit:
            completion = await provider.complete(request)
    except AIError as exc:
        await record(exc.partial_usage or TokenUsage(), error=exc)
        raise
    except asyncio.CancelledError:
        await record(TokenUsage(), error=AIStreamCancelled())
        raise
    except TimeoutError as exc:
        error = _deadline_passed(deadline) if limit.expired() else _unexpected(exc)
        await record(TokenUsage(), error=error)
        raise error from None
    except Exception as exc:
        error = _unexpected(exc)
        await record(TokenUsage(), error=error)
        raise error from exc
    await record(completion.usage, model=completion.model)
    return completion


async def chat_call_cached_stream(
    spec: CallSpec,
    *,
    provider: ModelProvider,
    policy: AIPolicy,
    usage_sink: UsageSink,
    mcp_servers: Sequence[Mapping[str, Any]] = (),
) -> AsyncGenerator[str | Completion, None]:
    """Stream one AI call: yields text deltas (``str``), then the final :class:`Completion`.

    Usage is recorded when the stream finishes, fails (the error is re-raised) or is
    abandoned by the consumer (recorded as ``cancelled`` with the usage known so far).
    Iterate it inside ``contextlib.aclosing(...)`` when you may stop early, so abandonment
    is recorded promptly rather than when the generator is collected.
    """
    request = prepare_call(spec, policy=policy, mcp_servers=mcp_servers, provider=_name(provider))
    record = _Recorder(request, provider, policy, usage_sink, streamed=True)
    usage = TokenUsage()
    parts: list[str] = []
    events: AsyncIterator[StreamEvent] | None = None
    timeouts = request.timeouts
    loop = asyncio.get_running_loop()
    deadline_at = loop.time() + timeouts.deadline
    began = False
    try:
        events = aiter(provider.stream(request))
        while True:
            # The limit covers only the wait for the provider's next event, never our
            # consumer's time between events.
            remaining = deadline_at - loop.time()
            idle = began and timeouts.stream_idle < remaining
            limit = asyncio.timeout(timeouts.stream_idle if idle else max(remaining, 0.0))
            try:
                async with limit:
                    event = await anext(events)
            except StopAsyncIteration:
                break
            except TimeoutError:
                if not limit.expired():
                    raise
                raise (_stream_stalled(timeouts.stream_idle) if idle else _deadline_passed(timeouts.deadline)) from None
            began = True
            if isinstance(event, UsageUpdate):
                usage = event.usage
            elif isinstance(event, TextDelta):
                if event.text:
                    record.first_token()
                    parts.append(event.text)
                    yield event.text
            elif isinstance(event, Completion):
                await record(event.usage, model=event.model)
                yield event
                return
        ended = AIBadResponse(detail="the provider's stream ended without a final message")
        await record(usage, error=ended)
        raise ended
    except AIError as exc:
        await record(exc.partial_usage or usage, error=exc)
        if not exc.partial_text:
            exc.partial_text = "".join(parts)
        raise
    except (GeneratorExit, asyncio.CancelledError):
        await record(usage, error=AIStreamCancelled(detail=f"stopped after {len(''.join(parts))} characters"))
        raise
    except Exception as exc:
        error = _unexpected(exc)
        await record(usage, error=error)
        raise error from exc
    finally:
        # Close the provider's stream (and its HTTP response) however we got here.
        closer: Callable[[], Any] | None = getattr(events, "aclose", None)
        if closer is not None:
            await closer()


def provider_from_registry(registry: Any, name: str, settings: Any = None) -> ModelProvider:
    """Build provider ``name`` from a :class:`~flowpilot_core.plugins.PluginRegistry`.

    Raises ``ValueError`` naming the available providers when ``name`` is not registered.
    """
    factories: Mapping[str, Callable[..., ModelProvider]] = registry.model_providers
    if name not in factories:
        available = ", ".join(sorted(factories)) or "none"
        raise ValueError(f"model provider {name!r} is not registered (available: {available})")
    return factories[name](settings)


__all__ = [
    "MemoryUsageSink",
    "ModelProvider",
    "NullUsageSink",
    "StreamEvent",
    "TextDelta",
    "UsageRecord",
    "UsageSink",
    "UsageUpdate",
    "chat_call_cached",
    "chat_call_cached_stream",
    "prepare_call",
    "provider_from_registry",
]
