"""Server-sent events for long operations: heartbeats while nothing happens, and an ``error`` event at the end.

A chat turn can take a minute. Proxies and load balancers close a response that has
been silent for a while (often 30-60 s), so while the producer has nothing to say a
comment line (``: keep-alive``) goes out every ``heartbeat`` seconds; EventSource and
the widget's parser ignore comments. Whatever fails once the stream has begun (the
model, the database, a bug) ends it with one ``error`` event carrying the same
problem-details object a plain HTTP request would get (:func:`problem_body`), so a
stream is never just cut.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
from litestar.response import ServerSentEventMessage

from flowpilot_server.problems import problem_body

HEARTBEAT_SECONDS = 10.0
"""At most this long (plus scheduling jitter) between two writes of a stream; issue 9 asks for at most 15 s."""

_END = object()


def sse_message(event: str, payload: Any) -> ServerSentEventMessage:
    """One event with a JSON payload."""
    return ServerSentEventMessage(event=event, data=msgspec.json.encode(payload).decode())


async def event_stream(
    events: AsyncIterator[tuple[str, Any]],
    *,
    heartbeat: float | None = None,
    translate: Callable[[Exception], Exception] = lambda exc: exc,
) -> AsyncIterator[ServerSentEventMessage]:
    """Relay ``(name, payload)`` events as SSE, with heartbeats, ending with ``error`` on any failure.

    ``events`` runs in its own task, so a heartbeat can be written while it waits (on the
    model, or the database); the stream's consumer going away cancels that task.
    ``translate`` may turn an exception into a more precise one before it is mapped.
    """
    interval = HEARTBEAT_SECONDS if heartbeat is None else heartbeat
    queue: asyncio.Queue[Any] = asyncio.Queue()

    async def produce() -> None:
        try:
            async for item in events:
                await queue.put(item)
        except Exception as exc:  # ends the stream with an error event, never a cut connection
            await queue.put(exc)
        else:
            await queue.put(_END)

    producer = asyncio.create_task(produce(), name="sse-producer")
    try:
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), timeout=interval)
            except TimeoutError:
                if producer.done() and queue.empty():
                    # It ended without a last word (killed by a BaseException): still say so.
                    yield sse_message("error", problem_body(RuntimeError("the event producer stopped")))
                    return
                yield ServerSentEventMessage(comment="keep-alive")
                continue
            if item is _END:
                return
            if isinstance(item, Exception):
                yield sse_message("error", problem_body(translate(item)))
                return
            name, payload = item
            yield sse_message(name, payload)
    finally:
        if not producer.done():
            producer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await producer
