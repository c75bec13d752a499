"""A local fake of an OpenAI-compatible server (Chat Completions), with fault injection.

A real HTTP server (stdlib ``ThreadingHTTPServer`` on a background thread), so tests
drive the real ``openai`` SDK through :class:`~flowpilot_openai_compat.provider.OpenAICompatProvider`::

    from flowpilot_openai_compat.testing import FakeOpenAICompat

    with FakeOpenAICompat(models=("llama3.1:8b",)) as fake:
        provider = OpenAICompatProvider(base_url=fake.url, max_retries=0)
        fake.queue_reply("[QUESTION]Is the spooler running?[/QUESTION]")
        fake.queue_error(429, retry_after=7)
        fake.requests[-1].json, fake.requests[-1].usage

What it implements, after the public API reference (``POST /v1/chat/completions``,
``GET /v1/models``):

- ``fake.url`` ends in ``/v1``, as a client's ``base_url`` does.
- Authentication: with ``api_key`` set, ``Authorization: Bearer <key>`` is required
  (401 ``invalid_api_key`` otherwise); without it no header is needed (a local server).
- Requests are validated like OpenAI does: unknown top-level arguments are a 400
  ("Unrecognized request argument supplied: ..."), so are unknown message keys (a
  ``cache_control`` anywhere is refused), roles other than system/developer/user/
  assistant/tool, empty ``messages``, ``stream_options`` without ``stream``; a model not
  in ``models`` is a 404 ``model_not_found``.
- Responses: ``chat.completion`` objects with ``choices[0].message`` and
  ``finish_reason`` (``stop``, or ``length`` when ``max_tokens`` cut the reply); streams
  as ``data: {chat.completion.chunk}`` events (first delta ``role``, then content, then
  an empty delta with ``finish_reason``), with ``usage: null`` on every chunk and a last
  ``choices: []`` chunk carrying usage when ``stream_options.include_usage`` is set, then
  ``data: [DONE]``; chunked transfer encoding, as real servers stream.
- Usage: ``prompt_tokens`` (estimated with :mod:`flowpilot_core.ai.tokens`),
  ``completion_tokens``, ``total_tokens`` and ``prompt_tokens_details.cached_tokens``.
  ``report_usage=False`` omits ``usage`` entirely (servers that send none);
  ``report_cached=False`` omits ``prompt_tokens_details`` (servers without caching).
- Automatic prefix caching (OpenAI, vLLM, llama.cpp): the prompt is tools, then each
  message; ``cached_tokens`` is the size of the longest prefix of whole items an earlier
  request sent byte for byte (keyed by model and the hash of the canonical prefix), if it
  reaches ``min_cached_tokens`` (OpenAI's 1,024 by default). Its simplification: whole
  messages, not 128-token increments.
- Errors in the documented shape ``{"error": {"message", "type", "param", "code"}}``
  with an ``x-request-id`` header; faults, one request each:
  :meth:`queue_error` (any status, ``retry-after``), :meth:`queue_stream_error` (an error
  event after some deltas), :meth:`queue_hang` (before the headers or mid-stream),
  :meth:`queue_disconnect` (the connection closes mid-stream, or the stream ends cleanly
  without a ``finish_reason``), :meth:`queue_malformed` (a JSON body cut in half, or an
  event cut mid-JSON).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from flowpilot_core.ai.tokens import canonical_json, estimate_text_tokens
from flowpilot_core.testing.local_server import Hang, LocalServer

DEFAULT_MODELS = ("llama3.1:8b", "qwen2.5:32b", "qwen2.5:72b")
ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
MESSAGE_KEYS = frozenset({"role", "content", "name", "tool_calls", "tool_call_id", "refusal"})
REQUEST_KEYS = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "max_completion_tokens",
        "stream",
        "stream_options",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "temperature",
        "top_p",
        "n",
        "stop",
        "seed",
        "user",
        "response_format",
        "presence_penalty",
        "frequency_penalty",
        "logprobs",
        "top_logprobs",
        "metadata",
        "store",
    }
)


@dataclass
class RecordedRequest:
    """One HTTP request the fake received, and what it answered."""

    method: str
    path: str
    headers: dict[str, str]
    """Header names in lower case."""
    body: bytes
    json: Any
    request_id: str
    status: int = 0
    streamed: bool = False
    usage: dict[str, Any] | None = None
    """The usage the fake computed (also when it did not report it)."""
    reply_text: str = ""
    fault: str | None = None
    """The scripted fault this request met (``"hang before headers"``, ``"disconnect after 2 deltas"`` ...)."""


@dataclass
class _Disconnect:
    after_deltas: int
    clean: bool


@dataclass
class _Malformed:
    kind: str  # "truncated_json" | "broken_sse"
    after_deltas: int


@dataclass
class _ScriptedStreamError:
    after_deltas: int
    error: dict[str, Any]


@dataclass
class _Reply:
    text: str
    finish_reason: str
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


class _ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": error_type, "param": param, "code": code}}
        self.headers = dict(headers or {})


_DEFAULT_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("Invalid request.", "invalid_request_error", None),
    401: ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
    403: ("You are not allowed to use this model.", "invalid_request_error", None),
    404: ("The model does not exist or you do not have access to it.", "invalid_request_error", "model_not_found"),
    429: ("Rate limit reached for requests.", "requests", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request.", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
}


def default_reply(body: Mapping[str, Any]) -> str:
    """The fake's deterministic reply: derived from the last user message only."""
    text = ""
    for message in reversed(body.get("messages") or ()):
        if message.get("role") == "user":
            content = message.get("content")
            text = content if isinstance(content, str) else " ".join(p.get("text", "") for p in content or ())
            break
    words = text.split()
    tag = hashlib.sha256(" ".join(words).encode()).hexdigest()[:8]
    return f"[fake {tag}] Understood: {' '.join(words[:24])}. Next step: check the related service and its event log."


def _chunks(text: str) -> list[str]:
    return re.findall(r"\s*\S+\s*|\s+", text) or ([text] if text else [])


def _truncate(text: str, finish: str, max_tokens: int | None) -> tuple[str, str]:
    if max_tokens is None or estimate_text_tokens(text) <= max_tokens:
        return text, finish
    words = text.split(" ")
    while words and estimate_text_tokens(" ".join(words)) > max_tokens:
        words.pop()
    return " ".join(words), "length"


class FakeOpenAICompat:
    """The fake server. Use as a context manager, or call :meth:`start` and :meth:`close`."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        models: Sequence[str] = DEFAULT_MODELS,
        report_usage: bool = True,
        report_cached: bool = True,
        min_cached_tokens: int = 1024,
        reply: str | Callable[[dict[str, Any]], str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """Configure the fake; see the module docstring for what each switch changes."""
        self.api_key = api_key
        self.models = list(models)
        self.report_usage = report_usage
        self.report_cached = report_cached
        self.min_cached_tokens = min_cached_tokens
        self.reply = reply
        self.requests: list[RecordedRequest] = []
        self._host = host
        self._port = port
        self._lock = threading.RLock()
        self._prefixes: set[str] = set()
        self._errors: deque[_ApiError] = deque()
        self._stream_errors: deque[_ScriptedStreamError] = deque()
        self._replies: deque[_Reply] = deque()
        self._faults: deque[Hang | _Disconnect | _Malformed] = deque()
        self._hangs: list[Hang] = []
        self._counter = 0
        self._http: LocalServer | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> FakeOpenAICompat:
        """Start serving on a free local port."""
        if self._http is None:
            handler = type("_BoundHandler", (_Handler,), {"fake": self})
            self._http = LocalServer(handler, host=self._host, port=self._port, name="fake-openai")
        return self

    def close(self) -> None:
        """Stop serving (ending every scripted hang first)."""
        for hang in self._hangs:
            hang.release()
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> FakeOpenAICompat:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        """Base URL to give the client (``base_url=fake.url``), ending in ``/v1``."""
        if self._http is None:
            raise RuntimeError("FakeOpenAICompat is not started")
        return f"{self._http.base_url}/v1"

    # -- scripting ----------------------------------------------------------------------

    def queue_reply(
        self, text: str, *, finish_reason: str = "stop", tool_calls: Sequence[Mapping[str, Any]] = ()
    ) -> None:
        """The next completion's text (and optional ``tool_calls``: ``{"name", "arguments"}`` each)."""
        with self._lock:
            self._replies.append(_Reply(text, finish_reason, [dict(c) for c in tool_calls]))

    def queue_error(
        self,
        status: int,
        message: str | None = None,
        *,
        error_type: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """The next request fails with ``status`` and the documented error body (defaults per status)."""
        default_message, default_type, default_code = _DEFAULT_ERRORS.get(
            status, ("The server had an error while processing your request.", "server_error", None)
        )
        headers = {} if retry_after is None else {"retry-after": f"{retry_after:g}"}
        with self._lock:
            self._errors.append(
                _ApiError(
                    status,
                    message or default_message,
                    error_type=error_type or default_type,
                    code=code if code is not None else default_code,
                    headers=headers,
                )
            )

    def queue_stream_error(
        self,
        *,
        after_deltas: int,
        message: str = "The server had an error while processing your request.",
        error_type: str = "server_error",
        code: str | int | None = None,
    ) -> None:
        """The next stream sends ``data: {"error": {...}}`` after ``after_deltas`` content deltas, then ends."""
        error = {"message": message, "type": error_type, "param": None, "code": code}
        with self._lock:
            self._stream_errors.append(_ScriptedStreamError(after_deltas, error))

    def queue_hang(self, *, after_deltas: int | None = None, seconds: float | None = None) -> Hang:
        """The next request hangs before its headers (or a stream after ``after_deltas`` deltas)."""
        hang = Hang(after_deltas, seconds)
        with self._lock:
            self._faults.append(hang)
            self._hangs.append(hang)
        return hang

    def queue_disconnect(self, *, after_deltas: int, clean: bool = False) -> None:
        """The next stream stops after ``after_deltas`` deltas: the connection is cut mid-body, or
        (``clean``) the body ends properly but without a ``finish_reason`` or ``[DONE]``."""
        with self._lock:
            self._faults.append(_Disconnect(after_deltas, clean))

    def queue_malformed(self, kind: str = "truncated_json", *, after_deltas: int = 1) -> None:
        """``truncated_json``: a 200 whose JSON is cut in half; ``broken_sse``: an event cut mid-JSON, then the end."""
        if kind not in ("truncated_json", "broken_sse"):
            raise ValueError(f"unknown malformation {kind!r}")
        with self._lock:
            self._faults.append(_Malformed(kind, after_deltas))

    @property
    def completion_requests(self) -> list[RecordedRequest]:
        """The requests to ``/v1/chat/completions``, in order."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    # -- internals ----------------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            self._counter += 1
            return f"{prefix}-{self._counter:06d}"

    def _authenticate(self, headers: Mapping[str, str]) -> None:
        if self.api_key is None:
            return
        auth = headers.get("authorization", "")
        if auth != f"Bearer {self.api_key}":
            shown = auth.removeprefix("Bearer ")[-4:] if auth else ""
            message = f"Incorrect API key provided: ...{shown}." if auth else "You didn't provide an API key."
            raise _ApiError(401, message, code="invalid_api_key")

    def _validate(self, body: Any) -> None:
        if not isinstance(body, dict):
            raise _ApiError(400, "We could not parse the JSON body of your request.")
        for key in body:
            if key not in REQUEST_KEYS:
                raise _ApiError(400, f"Unrecognized request argument supplied: {key}", param=key)
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _ApiError(400, "you must provide a model parameter", param="model")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _ApiError(400, "'messages' must contain at least one message.", param="messages")
        for index, message in enumerate(messages):
            where = f"messages[{index}]"
            if not isinstance(message, dict) or message.get("role") not in ROLES:
                raise _ApiError(400, f"Invalid value for '{where}.role'.", param=f"{where}.role")
            for key in message:
                if key not in MESSAGE_KEYS:
                    raise _ApiError(400, f"Unrecognized request argument supplied: {where}.{key}", param=where)
            content = message.get("content")
            if isinstance(content, list):
                for part in content:
                    if not isinstance(part, dict) or set(part) - {"type", "text"} or part.get("type") != "text":
                        raise _ApiError(400, f"Invalid content part in '{where}.content'.", param=where)
            elif not isinstance(content, str) and not (message["role"] == "assistant" and content is None):
                raise _ApiError(400, f"Invalid type for '{where}.content'.", param=where)
        if "stream_options" in body and not body.get("stream"):
            raise _ApiError(400, "The 'stream_options' parameter is only allowed when 'stream' is enabled.")
        for key in ("max_tokens", "max_completion_tokens"):
            value = body.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise _ApiError(400, f"Invalid '{key}': expected an integer >= 1.", param=key)
        if model not in self.models:
            raise _ApiError(
                404, f"The model `{model}` does not exist or you do not have access to it.", code="model_not_found"
            )

    def _prompt(self, body: Mapping[str, Any]) -> tuple[int, int]:
        """(prompt tokens, tokens read from the prefix cache); stores this prompt's prefixes."""
        items = ([canonical_json(body["tools"])] if body.get("tools") else []) + [
            canonical_json(m) for m in body["messages"]
        ]
        digest = hashlib.sha256(str(body["model"]).encode())
        running, cached, keys = 0, 0, []
        with self._lock:
            for item in items:
                digest.update(b"\x00" + item.encode())
                running += estimate_text_tokens(item)
                key = digest.hexdigest()
                keys.append(key)
                if key in self._prefixes:
                    cached = running
            self._prefixes.update(keys)
        return running, (cached if cached >= self.min_cached_tokens else 0)

    def _reply(self, body: dict[str, Any]) -> _Reply:
        with self._lock:
            if self._replies:
                return self._replies.popleft()
        if callable(self.reply):
            return _Reply(self.reply(body), "stop")
        return _Reply(self.reply if isinstance(self.reply, str) else default_reply(body), "stop")


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAICompat
    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenAICompat/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def handle(self) -> None:
        """Serve the connection; a client that went away (a timeout in a fault test) is not an error."""
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _read_body(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _send_json(
        self, status: int, payload: Any, record: RecordedRequest, headers: Mapping[str, str] | None = None
    ) -> None:
        self._send_raw(status, json.dumps(payload).encode(), record, headers)

    def _send_raw(
        self, status: int, data: bytes, record: RecordedRequest, headers: Mapping[str, str] | None = None
    ) -> None:
        record.status = status
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("x-request-id", record.request_id)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        """``GET /v1/models``."""
        self._dispatch()

    def do_POST(self) -> None:
        """``POST /v1/chat/completions``."""
        self._dispatch()

    def _dispatch(self) -> None:
        fake = self.fake
        raw = self._read_body()
        path = self.path.partition("?")[0]
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            parsed: Any = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        record = RecordedRequest(
            method=self.command, path=path, headers=headers, body=raw, json=parsed, request_id=fake._next_id("req")
        )
        with fake._lock:
            fake.requests.append(record)
        try:
            fake._authenticate(headers)
            if path == "/v1/models" and self.command == "GET":
                created = 1_700_000_000
                models = [{"id": m, "object": "model", "created": created, "owned_by": "fake"} for m in fake.models]
                self._send_json(200, {"object": "list", "data": models}, record)
            elif path == "/v1/chat/completions" and self.command == "POST":
                if raw and parsed is None:
                    raise _ApiError(400, "We could not parse the JSON body of your request.")
                self._completions(parsed, record)
            else:
                raise _ApiError(404, f"Invalid URL ({self.command} {path})", code="unknown_url")
        except _ApiError as error:
            self._send_json(error.status, error.body, record, error.headers)

    def _completions(self, body: Any, record: RecordedRequest) -> None:
        fake = self.fake
        with fake._lock:
            fault = fake._faults.popleft() if fake._faults else None
        streamed = isinstance(body, dict) and bool(body.get("stream"))
        if isinstance(fault, Hang) and (fault.after_deltas is None or not streamed):
            record.fault = "hang before headers"
            fault.wait()
            fault = None
        with fake._lock:
            scripted = fake._errors.popleft() if fake._errors else None
        if scripted is not None:
            record.fault = f"error {scripted.status}"
            raise scripted
        fake._validate(body)
        prompt, cached = fake._prompt(body)
        reply = fake._reply(body)
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        text, finish = _truncate(reply.text, reply.finish_reason, limit)
        completion = estimate_text_tokens(text)
        usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion}
        usage["total_tokens"] = prompt + completion
        if fake.report_cached:
            usage["prompt_tokens_details"] = {"cached_tokens": cached}
        record.usage = {**usage, "prompt_tokens_details": {"cached_tokens": cached}}
        record.reply_text = text
        created = int(time.time())
        completion_id = fake._next_id("chatcmpl")
        if streamed:
            record.streamed = True
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self._stream(
                record, body, completion_id, created, text, finish, reply, usage if include_usage else None, fault
            )
            return
        message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
        if reply.tool_calls:
            message["tool_calls"] = [self._tool_call(i, c) for i, c in enumerate(reply.tool_calls)]
        payload: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        }
        if fake.report_usage:
            payload["usage"] = usage
        if isinstance(fault, _Malformed):
            record.fault = "truncated json"
            data = json.dumps(payload).encode()
            self._send_raw(200, data[: len(data) // 2], record)
        else:
            self._send_json(200, payload, record)

    @staticmethod
    def _tool_call(index: int, call: Mapping[str, Any]) -> dict[str, Any]:
        arguments = call.get("arguments", {})
        return {
            "id": f"call_{index}",
            "type": "function",
            "function": {
                "name": call["name"],
                "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
            },
        }

    # -- streaming ----------------------------------------------------------------------

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _event(self, payload: Mapping[str, Any] | str) -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        self._write_chunk(f"data: {data}\n\n".encode())

    def _end_body(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _stream(
        self,
        record: RecordedRequest,
        body: Mapping[str, Any],
        completion_id: str,
        created: int,
        text: str,
        finish: str,
        reply: _Reply,
        usage: dict[str, Any] | None,
        fault: Hang | _Disconnect | _Malformed | None,
    ) -> None:
        fake = self.fake
        with fake._lock:
            failure = fake._stream_errors.popleft() if fake._stream_errors else None
        record.status = 200
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True
        include_usage = usage is not None

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            out: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": body["model"],
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            }
            if include_usage:
                out["usage"] = None
            return out

        self._event(chunk({"role": "assistant", "content": ""}))
        deltas = 0
        for piece in _chunks(text):
            if failure is not None and deltas >= failure.after_deltas:
                record.fault = f"stream error after {deltas} deltas"
                self._event({"error": failure.error})
                self._end_body()
                return
            if fault is not None and deltas >= (fault.after_deltas or 0):
                if isinstance(fault, Hang):
                    record.fault = f"hang after {deltas} deltas"
                    fault.wait()
                    fault = None
                elif isinstance(fault, _Disconnect):
                    record.fault = f"{'clean end' if fault.clean else 'disconnect'} after {deltas} deltas"
                    if fault.clean:
                        self._end_body()
                    return  # not clean: the chunked body is never terminated; the socket closes
                else:
                    record.fault = f"broken sse after {deltas} deltas"
                    data = json.dumps(chunk({"content": "cut"}))
                    self._write_chunk(f"data: {data[: len(data) // 2]}\n\n".encode())
                    self._end_body()
                    return
            self._event(chunk({"content": piece}))
            deltas += 1
        if failure is not None:
            record.fault = f"stream error after {deltas} deltas"
            self._event({"error": failure.error})
            self._end_body()
            return
        for index, call in enumerate(reply.tool_calls):
            tool_call = self._tool_call(index, call)
            self._event(chunk({"tool_calls": [{"index": index, **tool_call}]}))
        self._event(chunk({}, finish))
        if include_usage and fake.report_usage:
            self._event(
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": body["model"],
                    "choices": [],
                    "usage": usage,
                }
            )
        self._event("[DONE]")
        self._end_body()


__all__ = ["DEFAULT_MODELS", "FakeOpenAICompat", "Hang", "RecordedRequest", "default_reply"]
