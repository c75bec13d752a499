"""A local fake of the Anthropic Messages API that follows the documented caching rules.

It is a real HTTP server (stdlib ``ThreadingHTTPServer`` on a background thread), so
tests exercise the real ``anthropic`` SDK, its headers, retries, JSON and SSE parsing::

    from flowpilot_core.testing import FakeAnthropic

    with FakeAnthropic() as fake:
        client = anthropic.AsyncAnthropic(api_key="test", base_url=fake.url, max_retries=0)
        ...
        fake.advance(301)                  # the default clock is manual: move time forward
        assert fake.requests[-1].usage["cache_read_input_tokens"] > 0

What it implements (Claude API docs; see docs/ai-layer.md):

- ``POST /v1/messages`` (JSON and SSE streaming) and ``POST /v1/messages/count_tokens``.
- Authentication: ``Authorization: Bearer <key>`` (what SDK 2.x sends); anything else,
  ``x-api-key`` included, is a 401 ``authentication_error``. ``anthropic-version`` is required.
- Prompt caching: prefix order tools → system → messages; entries are written only at
  breakpoints, keyed by a hash of the model and the cumulative canonical prefix; a read
  looks back at most 20 block positions from each breakpoint (the breakpoint itself is
  #1) for an entry an *earlier* request wrote; the highest hit wins. Below the model's
  minimum cacheable prefix nothing is written (no error). TTL is 5 minutes or 1 hour,
  measured from the start of the request that wrote or read the entry, refreshed on a
  hit (every valid entry on the prefix read is refreshed). An entry becomes usable only
  when the writing response begins, so concurrent identical requests all miss.
- Breakpoints: more than 4 is a 400 ``invalid_request_error`` "A maximum of 4 blocks with
  cache_control may be provided. Found N."; top-level ``cache_control`` (automatic caching)
  takes one slot and marks the last cacheable block; 1-hour breakpoints must precede
  5-minute ones; ``cache_control`` on thinking blocks or with a bad type/TTL is a 400.
- Usage: ``input_tokens`` counts only what follows the last cached or written prefix,
  ``cache_creation_input_tokens`` with its ``cache_creation`` 5m/1h split, and
  ``cache_read_input_tokens``; tokens are estimated with :mod:`flowpilot_core.ai.tokens`.
  ``tool_choice`` changes invalidate system and messages, ``thinking`` changes messages.
- Streaming: ``message_start`` (input and cache usage, ``output_tokens`` 1), a ``ping``,
  ``content_block_start``/``content_block_delta``/``content_block_stop`` per block,
  ``message_delta`` with cumulative usage, ``message_stop``.
- Errors in the documented shape ``{"type":"error","error":{"type","message"},"request_id"}``
  with a ``request-id`` header. Scriptable: :meth:`FakeAnthropic.queue_error` (e.g. 429
  with ``retry-after``, 529 ``overloaded_error``) and :meth:`FakeAnthropic.queue_stream_error`
  (an ``event: error`` after some deltas).
- Faults, for the AI call path's fault tests (:meth:`FakeAnthropic.queue_hang`,
  :meth:`FakeAnthropic.queue_malformed`): a response that hangs before its headers or
  in the middle of a stream (until released, a number of seconds, or the fake closes),
  a JSON body cut short, and an event stream whose event is cut mid-JSON before the
  connection closes. Together with ``queue_error`` (500 ``api_error``, 529
  ``overloaded_error``, 429 ``rate_limit_error`` with ``retry-after``) they cover what a
  technician can meet.
- MCP connector (beta): ``mcp_servers`` and ``mcp_toolset`` tools are validated (the
  ``anthropic-beta`` header must name an ``mcp-client-*`` beta; toolsets must name a
  server) and recorded; no MCP server is contacted.
- ``max_tokens: 0`` pre-warms the cache (empty content, ``stop_reason`` ``max_tokens``).

Replies are :meth:`FakeAnthropic.queue_reply` items, else :attr:`FakeAnthropic.reply`
(a string or a function of the request body), else a deterministic text derived from
the last user message. Every request is logged in :attr:`FakeAnthropic.requests`.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from flowpilot_core.ai.policy import DEFAULT_MIN_CACHEABLE_TOKENS, DEFAULT_MIN_FALLBACK, model_aliases
from flowpilot_core.ai.tokens import canonical_json, estimate_block_tokens, estimate_text_tokens, strip_cache_control
from flowpilot_core.testing.local_server import Hang, LocalServer

MAX_BREAKPOINTS = 4
LOOKBACK_BLOCKS = 20
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}

_TOP_LEVEL_KEYS = frozenset(
    {
        "model", "max_tokens", "messages", "system", "tools", "tool_choice", "stream", "metadata",
        "stop_sequences", "thinking", "cache_control", "container", "diagnostics", "inference_geo",
        "output_config", "service_tier", "speed", "user_profile_id", "workspace_id", "temperature",
        "top_p", "top_k", "mcp_servers", "context_management",
    }
)  # fmt: skip
_COUNT_TOKENS_KEYS = frozenset(
    {"model", "messages", "system", "tools", "tool_choice", "thinking", "cache_control", "output_config", "speed",
     "mcp_servers", "context_management"}
)  # fmt: skip
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
_UNCACHEABLE = ("thinking", "redacted_thinking")


class ManualClock:
    """A clock that moves only when told to (the fake's default)."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        with self._lock:
            self._now += seconds


@dataclass
class RecordedRequest:
    """One HTTP request the fake received, and what it answered."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    """Header names in lower case."""
    body: bytes
    json: Any
    request_id: str
    status: int = 0
    streamed: bool = False
    usage: dict[str, Any] | None = None
    breakpoints: list[int] = field(default_factory=list)
    """Block positions (prefix order) that carried a breakpoint."""
    reply_text: str = ""
    fault: str | None = None
    """The scripted fault this request met (``"hang before headers"``, ``"truncated json"``...)."""


@dataclass
class CacheEntry:
    """One prompt-cache entry."""

    tokens: int
    ttl: str
    expires_at: float


@dataclass
class _ScriptedError:
    status: int
    error_type: str
    message: str
    retry_after: float | None


@dataclass
class _ScriptedStreamError:
    after_deltas: int
    error_type: str
    message: str


@dataclass
class _Malformed:
    kind: str  # "truncated_json" | "broken_sse"
    after_deltas: int


@dataclass
class _ScriptedReply:
    content: list[dict[str, Any]]
    stop_reason: str


class _ApiError(Exception):
    def __init__(self, status: int, error_type: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.headers = dict(headers or {})


def _bad(message: str) -> _ApiError:
    return _ApiError(400, "invalid_request_error", message)


@dataclass
class _Block:
    level: str  # "tools", "system" or the message role
    block: dict[str, Any]
    message_start: bool


@dataclass
class _Plan:
    """Caching outcome of one request, computed when it arrives."""

    total: int
    usage: dict[str, Any]
    writes: list[tuple[str, int, str]]
    breakpoints: list[int]
    started: float


class FakeAnthropic:
    """The fake server. Use as a context manager, or call :meth:`start` and :meth:`close`."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        clock: Callable[[], float] | None = None,
        min_cacheable_tokens: Mapping[str, int] | None = None,
        default_min_cacheable_tokens: int = DEFAULT_MIN_FALLBACK,
        reply: str | Callable[[dict[str, Any]], str] | None = None,
        response_delay: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """Configure the fake.

        ``api_key``: when set, only this bearer token is accepted (else any non-empty one).
        ``clock``: seconds, for TTLs; default :class:`ManualClock` (advance with :meth:`advance`).
        ``min_cacheable_tokens``: per-model minimum prefix, default the documented table.
        ``response_delay``: real seconds to wait before a response begins (to test that
        concurrent requests miss the entry a running one will write).
        """
        self.api_key = api_key
        self.clock: Callable[[], float] = clock or ManualClock()
        self.min_cacheable_tokens = dict(
            DEFAULT_MIN_CACHEABLE_TOKENS if min_cacheable_tokens is None else min_cacheable_tokens
        )
        self.default_min_cacheable_tokens = default_min_cacheable_tokens
        self.reply = reply
        self.response_delay = response_delay
        self.requests: list[RecordedRequest] = []
        self.mcp_requests: list[dict[str, Any]] = []
        """Per request with MCP: ``{"mcp_servers": [...], "toolsets": [...], "betas": [...]}``."""
        self._host = host
        self._port = port
        self._lock = threading.RLock()
        self._cache: dict[str, CacheEntry] = {}
        self._errors: deque[_ScriptedError] = deque()
        self._stream_errors: deque[_ScriptedStreamError] = deque()
        self._replies: deque[_ScriptedReply] = deque()
        self._faults: deque[Hang | _Malformed] = deque()
        self._hangs: list[Hang] = []
        self._counter = 0
        self._http: LocalServer | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> FakeAnthropic:
        """Start serving on a free local port."""
        if self._http is None:
            handler = type("_BoundHandler", (_Handler,), {"fake": self})
            self._http = LocalServer(handler, host=self._host, port=self._port, name="fake-anthropic")
        return self

    def close(self) -> None:
        """Stop serving (ending every scripted hang first)."""
        for hang in self._hangs:
            hang.release()
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        """Base URL to give the SDK (``base_url=fake.url``)."""
        if self._http is None:
            raise RuntimeError("FakeAnthropic is not started")
        return f"{self._http.base_url}"

    # -- scripting ----------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move the manual clock forward (only with the default or a :class:`ManualClock`)."""
        if not isinstance(self.clock, ManualClock):
            raise TypeError("advance() needs the default ManualClock; move your own clock instead")
        self.clock.advance(seconds)

    def queue_error(
        self,
        status: int = 429,
        error_type: str = "rate_limit_error",
        message: str | None = None,
        *,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next ``POST /v1/messages`` with this error (FIFO, one request each)."""
        self._errors.append(_ScriptedError(status, error_type, message or f"Scripted {error_type}", retry_after))

    def queue_stream_error(
        self, after_deltas: int = 1, error_type: str = "overloaded_error", message: str = "Overloaded"
    ) -> None:
        """Break the next streaming response with ``event: error`` after ``after_deltas`` text deltas."""
        self._stream_errors.append(_ScriptedStreamError(after_deltas, error_type, message))

    def queue_hang(self, *, after_deltas: int | None = None, seconds: float | None = None) -> Hang:
        """Make the next ``POST /v1/messages`` hang.

        ``after_deltas=None``: before any byte of the response (no status line, no headers).
        ``after_deltas=N``: a streamed response hangs after its ``N``-th text delta (a
        non-streamed one hangs before its headers). The hang lasts until
        :meth:`Hang.release`, ``seconds``, or :meth:`close`; then the response continues.
        """
        hang = Hang(after_deltas, seconds)
        with self._lock:
            self._hangs.append(hang)
            self._faults.append(hang)
        return hang

    def queue_malformed(self, kind: str = "truncated_json", *, after_deltas: int = 1) -> None:
        """Answer the next ``POST /v1/messages`` with a response that cannot be read.

        ``truncated_json``: a 200 ``application/json`` body cut in the middle (its
        ``content-length`` matches what is sent, as after a truncating proxy).
        ``broken_sse``: a streamed reply whose event after ``after_deltas`` text deltas is
        cut mid-JSON, then the connection closes.
        """
        if kind not in ("truncated_json", "broken_sse"):
            raise ValueError(f"kind: {kind!r} is not 'truncated_json' or 'broken_sse'")
        with self._lock:
            self._faults.append(_Malformed(kind, after_deltas))

    def queue_reply(
        self, text: str | None = None, *, content: list[dict[str, Any]] | None = None, stop_reason: str | None = None
    ) -> None:
        """Answer the next message request with ``text`` or explicit content blocks."""
        blocks = content if content is not None else [{"type": "text", "text": text or ""}]
        default_stop = "tool_use" if any(b.get("type") == "tool_use" for b in blocks) else "end_turn"
        self._replies.append(_ScriptedReply(blocks, stop_reason or default_stop))

    def clear_cache(self) -> None:
        """Forget every cache entry."""
        with self._lock:
            self._cache.clear()

    def cache_entries(self) -> dict[str, CacheEntry]:
        """A snapshot of the cache (prefix hash → entry), expired entries included."""
        with self._lock:
            return dict(self._cache)

    @property
    def message_requests(self) -> list[RecordedRequest]:
        """Logged ``POST /v1/messages`` requests, oldest first."""
        return [r for r in self.requests if r.path == "/v1/messages"]

    def min_cacheable_for(self, model: str) -> int:
        """The minimum cacheable prefix the fake applies to ``model``."""
        for name in model_aliases(model):
            if name in self.min_cacheable_tokens:
                return self.min_cacheable_tokens[name]
        return self.default_min_cacheable_tokens

    # -- request handling (called from server threads) ---------------------------------

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            self._counter += 1
            return f"{prefix}_fake{self._counter:06d}"

    def _authenticate(self, headers: Mapping[str, str]) -> None:
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _ApiError(401, "authentication_error", "Authorization: Bearer <API key> header is required")
        if self.api_key is not None and token.strip() != self.api_key:
            raise _ApiError(401, "authentication_error", "invalid bearer token")
        if not headers.get("anthropic-version"):
            raise _bad("anthropic-version: header is required")

    def _flatten(self, body: Mapping[str, Any]) -> list[_Block]:
        blocks: list[_Block] = [_Block("tools", t, False) for t in body.get("tools") or ()]
        system = body.get("system")
        if isinstance(system, str):
            if system:
                blocks.append(_Block("system", {"type": "text", "text": system}, False))
        else:
            blocks.extend(_Block("system", b, False) for b in system or ())
        for message in body.get("messages") or ():
            content = message.get("content")
            items = [{"type": "text", "text": content}] if isinstance(content, str) else list(content or ())
            for index, block in enumerate(items):
                blocks.append(_Block(str(message.get("role")), block, index == 0))
        return blocks

    def _validate(self, body: Any, headers: Mapping[str, str], *, count_tokens: bool) -> None:
        if not isinstance(body, dict):
            raise _bad("request body must be a JSON object")
        allowed = _COUNT_TOKENS_KEYS if count_tokens else _TOP_LEVEL_KEYS
        for key in body:
            if key not in allowed:
                raise _bad(f"{key}: Extra inputs are not permitted")
        if not isinstance(body.get("model"), str) or not body["model"]:
            raise _bad("model: Field required")
        if not count_tokens:
            max_tokens = body.get("max_tokens")
            if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 0:
                raise _bad("max_tokens: Field required (a non-negative integer)")
            if max_tokens == 0 and body.get("stream"):
                raise _bad("max_tokens: 0 (cache pre-warming) cannot be used with stream")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _bad("messages: at least one message is required")
        for i, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in ("user", "assistant", "system"):
                raise _bad(f"messages.{i}.role: must be 'user', 'assistant' or 'system'")
            content = message.get("content")
            if isinstance(content, str):
                if not content:
                    raise _bad(f"messages.{i}: text content blocks must be non-empty")
            elif not isinstance(content, list) or not content:
                raise _bad(f"messages.{i}.content: must be a non-empty string or list of blocks")
        system = body.get("system")
        if system is not None and not isinstance(system, str | list):
            raise _bad("system: must be a string or a list of text blocks")
        if isinstance(system, list):
            for i, block in enumerate(system):
                if not isinstance(block, dict) or block.get("type") != "text":
                    raise _bad(f"system.{i}: system blocks must be text blocks")
        self._validate_tools(body, headers)
        for item in self._flatten(body):
            block = item.block
            if not isinstance(block, dict) or (item.level != "tools" and "type" not in block):
                raise _bad(f"{item.level}: every content block must be an object with a 'type'")
            if block.get("type") == "text" and not block.get("text"):
                raise _bad(f"{item.level}: text content blocks must be non-empty")
            if block.get("cache_control") is not None:
                if block.get("type") in _UNCACHEABLE:
                    raise _bad(f"{block.get('type')} blocks cannot be marked with cache_control")
                _check_cache_control(block["cache_control"])
        if body.get("cache_control") is not None:
            _check_cache_control(body["cache_control"])

    def _validate_tools(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> None:
        servers = body.get("mcp_servers")
        server_names: list[str] = []
        if servers is not None:
            betas = headers.get("anthropic-beta", "")
            if "mcp-client-" not in betas:
                raise _bad("mcp_servers: requires the anthropic-beta header 'mcp-client-2025-11-20'")
            if not isinstance(servers, list):
                raise _bad("mcp_servers: must be a list")
            for i, server in enumerate(servers):
                if not isinstance(server, dict) or server.get("type") != "url":
                    raise _bad(f"mcp_servers.{i}.type: must be 'url'")
                if not str(server.get("url", "")).startswith("https://"):
                    raise _bad(f"mcp_servers.{i}.url: MCP servers must be reached over https")
                name = server.get("name")
                if not isinstance(name, str) or not name or name in server_names:
                    raise _bad(f"mcp_servers.{i}.name: a unique, non-empty name is required")
                server_names.append(name)
        tools = body.get("tools")
        if tools is None:
            return
        if not isinstance(tools, list):
            raise _bad("tools: must be a list")
        names: list[str] = []
        used_servers: list[str] = []
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict):
                raise _bad(f"tools.{i}: must be an object")
            kind = tool.get("type", "custom")
            if kind == "mcp_toolset":
                server = tool.get("mcp_server_name")
                if server not in server_names:
                    raise _bad(f"tools.{i}.mcp_server_name: {server!r} is not one of the request's mcp_servers")
                used_servers.append(str(server))
                continue
            if kind == "custom":
                name = tool.get("name")
                if not isinstance(name, str) or not _TOOL_NAME.match(name):
                    raise _bad(f"tools.{i}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'")
                if not isinstance(tool.get("input_schema"), dict):
                    raise _bad(f"tools.{i}.input_schema: Field required")
                if name in names:
                    raise _bad("tools: Tool names must be unique.")
                names.append(name)
        for name in server_names:
            if name not in used_servers:
                raise _bad(f"mcp_servers: server {name!r} has no mcp_toolset entry in tools")

    def _breakpoints(self, body: Mapping[str, Any], blocks: list[_Block]) -> list[tuple[int, str]]:
        explicit = [
            (i, str(b.block["cache_control"].get("ttl", "5m")))
            for i, b in enumerate(blocks)
            if isinstance(b.block, dict) and b.block.get("cache_control") is not None
        ]
        found = len(explicit)
        auto = body.get("cache_control")
        marks = list(explicit)
        if auto is not None:
            found += 1  # automatic caching always takes one of the four slots
        if found > MAX_BREAKPOINTS:
            raise _bad(f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {found}.")
        if auto is not None:
            ttl = str(auto.get("ttl", "5m"))
            last = _last_cacheable(blocks)
            if last is not None:
                existing = dict(explicit).get(last)
                if existing is None:
                    marks.append((last, ttl))
                elif existing != ttl:
                    raise _bad("cache_control: the last block already has cache_control with a different ttl")
        marks.sort()
        seen_5m = False
        for _, ttl in marks:
            if ttl == "5m":
                seen_5m = True
            elif seen_5m:
                raise _bad("cache_control: a breakpoint with ttl '1h' must not come after one with ttl '5m'")
        return marks

    def _plan(self, body: Mapping[str, Any]) -> _Plan:
        """Hashes, reads (applied now) and writes (applied when the response begins)."""
        started = self.clock()
        model = str(body["model"])
        blocks = self._flatten(body)
        marks = self._breakpoints(body, blocks)

        # Cumulative prefix hashes and token counts, in prefix order.
        digest = hashlib.sha256(b"model\0" + model.encode())
        if body.get("mcp_servers"):
            digest.update(b"mcp\0" + canonical_json(body["mcp_servers"]).encode())
        hashes: list[str] = []
        totals: list[int] = []
        running = 0
        folded_choice = folded_thinking = False
        for item in blocks:
            if item.level != "tools" and not folded_choice:
                # tool_choice sits at the system level: it invalidates system and messages.
                digest.update(b"tool_choice\0" + canonical_json(body.get("tool_choice")).encode())
                folded_choice = True
            if item.level not in ("tools", "system") and not folded_thinking:
                digest.update(b"thinking\0" + canonical_json(body.get("thinking")).encode())
                folded_thinking = True
            marker = b"\1" if item.message_start else b"\0"
            digest.update(item.level.encode() + marker + canonical_json(strip_cache_control(item.block)).encode())
            hashes.append(digest.copy().hexdigest())
            running += estimate_block_tokens(item.block)
            totals.append(running)

        minimum = self.min_cacheable_for(model)
        with self._lock:
            hit: int | None = None
            for position, _ in marks:
                for j in range(position, max(position - LOOKBACK_BLOCKS, -1), -1):
                    entry = self._cache.get(hashes[j])
                    if entry is not None and entry.expires_at > started:
                        hit = j if hit is None else max(hit, j)
                        break
            read = 0
            if hit is not None:
                read = totals[hit]
                # Reading a prefix refreshes it, and every valid entry inside it.
                for j in range(hit + 1):
                    entry = self._cache.get(hashes[j])
                    if entry is not None and entry.expires_at > started:
                        entry.expires_at = started + TTL_SECONDS[entry.ttl]

        writes = [(hashes[p], totals[p], ttl) for p, ttl in marks if (hit is None or p > hit) and totals[p] >= minimum]
        covered = read
        five = hour = 0
        if writes:
            last_hour = max((tokens for _, tokens, ttl in writes if ttl == "1h"), default=None)
            last = writes[-1][1]
            if last_hour is not None:
                hour = last_hour - read
                five = last - last_hour
            else:
                five = last - read
            covered = last
        total = totals[-1] if totals else 0
        usage = {
            "input_tokens": total - covered,
            "cache_creation_input_tokens": five + hour,
            "cache_read_input_tokens": read,
            "cache_creation": {"ephemeral_5m_input_tokens": five, "ephemeral_1h_input_tokens": hour},
            "output_tokens": 0,
            "service_tier": "standard",
        }
        return _Plan(total=total, usage=usage, writes=writes, breakpoints=[p for p, _ in marks], started=started)

    def _commit(self, plan: _Plan) -> None:
        # Called when the response begins: only now can other requests read these entries.
        with self._lock:
            for key, tokens, ttl in plan.writes:
                self._cache[key] = CacheEntry(tokens=tokens, ttl=ttl, expires_at=plan.started + TTL_SECONDS[ttl])

    def _reply_content(self, body: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str]:
        with self._lock:
            scripted = self._replies.popleft() if self._replies else None
        if scripted is not None:
            return [dict(b) for b in scripted.content], scripted.stop_reason
        if callable(self.reply):
            text = self.reply(dict(body))
        elif isinstance(self.reply, str):
            text = self.reply
        else:
            text = default_reply(body)
        return [{"type": "text", "text": text}], "end_turn"


def _check_cache_control(value: Any) -> None:
    if not isinstance(value, dict) or value.get("type") != "ephemeral":
        raise _bad("cache_control.type: Input should be 'ephemeral'")
    if "ttl" in value and value["ttl"] not in TTL_SECONDS:
        raise _bad("cache_control.ttl: Input should be '5m' or '1h'")
    extra = [k for k in value if k not in ("type", "ttl")]
    if extra:
        raise _bad(f"cache_control.{extra[0]}: Extra inputs are not permitted")


def _last_cacheable(blocks: list[_Block]) -> int | None:
    for i in range(len(blocks) - 1, -1, -1):
        block = blocks[i].block
        if block.get("type") in _UNCACHEABLE or (block.get("type") == "text" and not block.get("text")):
            continue
        return i
    return None


def last_user_text(body: Mapping[str, Any]) -> str:
    """The last text block of the last user message of a request body (``""`` if none)."""
    for message in reversed(body.get("messages") or ()):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        texts = [b.get("text", "") for b in content or () if isinstance(b, dict) and b.get("type") == "text"]
        return texts[-1] if texts else ""
    return ""


def default_reply(body: Mapping[str, Any]) -> str:
    """The fake's deterministic reply: derived from the last user message only."""
    words = last_user_text(body).split()
    tag = hashlib.sha256(" ".join(words).encode()).hexdigest()[:8]
    return f"[fake {tag}] Understood: {' '.join(words[:24])}. Next step: check the related service and its event log."


def _output_tokens(content: list[dict[str, Any]]) -> int:
    return sum(
        estimate_text_tokens(b.get("text", "")) if b.get("type") == "text" else estimate_block_tokens(b)
        for b in content
    )


def _truncate(content: list[dict[str, Any]], stop: str, max_tokens: int) -> tuple[list[dict[str, Any]], str]:
    if _output_tokens(content) <= max_tokens:
        return content, stop
    if max_tokens == 0:
        return [], "max_tokens"
    text = "".join(b.get("text", "") for b in content if b.get("type") == "text")
    words = text.split(" ")
    while words and estimate_text_tokens(" ".join(words)) > max_tokens:
        words.pop()
    cut = " ".join(words)
    return ([{"type": "text", "text": cut}] if cut else []), "max_tokens"


def _chunks(text: str) -> list[str]:
    return re.findall(r"\s*\S+\s*|\s+", text) or ([text] if text else [])


class _Handler(BaseHTTPRequestHandler):
    fake: FakeAnthropic
    protocol_version = "HTTP/1.1"
    server_version = "FakeAnthropic/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def handle(self) -> None:
        """Serve the connection; a client that went away (a timeout in a fault test) is not an error."""
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _send_json(
        self, status: int, payload: Any, record: RecordedRequest, headers: Mapping[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        record.status = status
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("request-id", record.request_id)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_raw(self, status: int, data: bytes, record: RecordedRequest) -> None:
        record.status = status
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("request-id", record.request_id)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, error: _ApiError, record: RecordedRequest) -> None:
        payload = {
            "type": "error",
            "error": {"type": error.error_type, "message": error.message},
            "request_id": record.request_id,
        }
        self._send_json(error.status, payload, record, error.headers)

    def do_GET(self) -> None:
        """Only POST endpoints exist."""
        self._dispatch()

    def do_POST(self) -> None:
        """Route ``/v1/messages`` and ``/v1/messages/count_tokens``."""
        self._dispatch()

    def _dispatch(self) -> None:
        fake = self.fake
        raw = self._read_body()
        path, _, query = self.path.partition("?")
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            parsed: Any = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        record = RecordedRequest(
            method=self.command,
            path=path,
            query=query,
            headers=headers,
            body=raw,
            json=parsed,
            request_id=fake._next_id("req"),
        )
        with fake._lock:
            fake.requests.append(record)
        try:
            if path not in ("/v1/messages", "/v1/messages/count_tokens"):
                raise _ApiError(404, "not_found_error", f"Not found: {self.command} {path}")
            if self.command != "POST":
                raise _ApiError(405, "invalid_request_error", f"Method {self.command} not allowed")
            fake._authenticate(headers)
            if raw and parsed is None:
                raise _bad("request body is not valid JSON")
            if path == "/v1/messages/count_tokens":
                self._count_tokens(parsed, headers, record)
            else:
                self._messages(parsed, headers, record)
        except _ApiError as error:
            self._send_error(error, record)

    def _count_tokens(self, body: Any, headers: Mapping[str, str], record: RecordedRequest) -> None:
        fake = self.fake
        fake._validate(body, headers, count_tokens=True)
        fake._breakpoints(body, fake._flatten(body))  # same breakpoint rules as a real request
        total = sum(estimate_block_tokens(b.block) for b in fake._flatten(body))
        self._send_json(200, {"input_tokens": total}, record)

    def _messages(self, body: Any, headers: Mapping[str, str], record: RecordedRequest) -> None:
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
            extra = {} if scripted.retry_after is None else {"retry-after": f"{scripted.retry_after:g}"}
            raise _ApiError(scripted.status, scripted.error_type, scripted.message, extra)
        fake._validate(body, headers, count_tokens=False)
        plan = fake._plan(body)
        record.breakpoints = plan.breakpoints
        if body.get("mcp_servers"):
            with fake._lock:
                fake.mcp_requests.append(
                    {
                        "mcp_servers": body["mcp_servers"],
                        "toolsets": [t for t in body.get("tools") or () if t.get("type") == "mcp_toolset"],
                        "betas": [b.strip() for b in headers.get("anthropic-beta", "").split(",") if b.strip()],
                    }
                )
        content, stop = fake._reply_content(body)
        content, stop = _truncate(content, stop, int(body["max_tokens"]))
        usage = dict(plan.usage)
        usage["output_tokens"] = _output_tokens(content)
        record.usage = usage
        record.reply_text = "".join(b.get("text", "") for b in content if b.get("type") == "text")
        message = {
            "id": fake._next_id("msg"),
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage,
        }
        if fake.response_delay:
            time.sleep(fake.response_delay)
        fake._commit(plan)
        if body.get("stream"):
            record.streamed = True
            self._stream(message, record, fault)
        elif isinstance(fault, _Malformed):
            record.fault = "truncated json"
            data = json.dumps(message).encode()
            self._send_raw(200, data[: len(data) // 2], record)
        else:
            self._send_json(200, message, record)

    def _event(self, name: str, data: Mapping[str, Any]) -> None:
        self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()

    def _stream(self, message: dict[str, Any], record: RecordedRequest, fault: Hang | _Malformed | None) -> None:
        fake = self.fake
        with fake._lock:
            failure = fake._stream_errors.popleft() if fake._stream_errors else None
        record.status = 200
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("request-id", record.request_id)
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True
        usage = message["usage"]
        start_usage = {**usage, "output_tokens": 1}
        start = {**message, "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage}
        self._event("message_start", {"type": "message_start", "message": start})
        self._event("ping", {"type": "ping"})
        deltas = 0
        for index, block in enumerate(message["content"]):
            if block.get("type") == "text":
                self._event(
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
                )
                for chunk in _chunks(block.get("text", "")):
                    if failure is not None and deltas >= failure.after_deltas:
                        self._fail(failure, record)
                        return
                    if fault is not None and deltas >= (fault.after_deltas or 0):
                        if isinstance(fault, Hang):
                            record.fault = f"hang after {deltas} deltas"
                            fault.wait()
                            fault = None
                        else:
                            record.fault = f"broken sse after {deltas} deltas"
                            self._broken_event(index)
                            return
                    self._event(
                        "content_block_delta",
                        {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": chunk}},
                    )
                    deltas += 1
            else:
                opening = {**block, "input": {}} if block.get("type") == "tool_use" else block
                self._event(
                    "content_block_start", {"type": "content_block_start", "index": index, "content_block": opening}
                )
                if block.get("type") == "tool_use":
                    partial = json.dumps(block.get("input", {}))
                    self._event(
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": partial},
                        },
                    )
            self._event("content_block_stop", {"type": "content_block_stop", "index": index})
        if failure is not None:
            self._fail(failure, record)
            return
        delta_usage = {k: usage[k] for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")}
        delta_usage["output_tokens"] = usage["output_tokens"]
        self._event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": delta_usage,
            },
        )
        self._event("message_stop", {"type": "message_stop"})

    def _broken_event(self, index: int) -> None:
        event = {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": "cut"}}
        data = json.dumps(event)
        self.wfile.write(f"event: content_block_delta\ndata: {data[: len(data) // 2]}\n\n".encode())
        self.wfile.flush()
        self.close_connection = True

    def _fail(self, failure: _ScriptedStreamError, record: RecordedRequest) -> None:
        self._event(
            "error",
            {
                "type": "error",
                "error": {"type": failure.error_type, "message": failure.message},
                "request_id": record.request_id,
            },
        )


__all__ = ["CacheEntry", "FakeAnthropic", "Hang", "ManualClock", "RecordedRequest", "default_reply", "last_user_text"]
