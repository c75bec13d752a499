"""The plumbing every faithful fake shares: a threaded HTTP server on a local port, a handler serving a fake's JSON
answers, a fake's start/close lifecycle, and scripted hangs."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Protocol, Self


class LocalServer:
    """Serves ``handler`` on ``host:port`` (``0``: a free port) until :meth:`close`."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], *, host: str, port: int, name: str) -> None:
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        # A short poll interval keeps close() (and so each test's teardown) fast.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name=name, daemon=True
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class JSONFake(Protocol):
    """A fake that answers one HTTP request at a time (the PSA fakes)."""

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes, /
    ) -> tuple[int, dict[str, str], Any]:
        """The answer to one request (``headers``' names lower-cased): its status, extra headers and JSON body."""


class JSONHandler(BaseHTTPRequestHandler):
    """Serves every request as ``fake.handle(method, path, headers, body)`` answers it: JSON, plus its headers.

    A fake subclasses it with ``fake`` bound (``type("_BoundHandler", (_Handler,), {"fake": self})``) and
    may add the headers every answer of its PSA carries (:attr:`extra_headers`).
    """

    fake: JSONFake
    extra_headers: ClassVar[Mapping[str, str]] = {}
    """Headers sent on every answer, before the fake's own (e.g. ConnectWise's ``api-current-version``)."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, answer = self.fake.handle(self.command, self.path, headers, body)
        data = json.dumps(answer).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (*self.extra_headers.items(), *extra.items()):
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a held-back answer)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        return None  # requests are recorded on the fake, not printed


class ServedFake:
    """Start (or ``with``), :attr:`url` and close for a fake served through its :class:`JSONHandler` subclass.

    The fake sets :attr:`handler` and :attr:`thread_name`, and in ``__init__`` ``_host``, ``_port``,
    ``_http = None`` and ``_release`` (the event its held-back answers wait on: closing sets it, so no
    answer outlives the server).
    """

    handler: ClassVar[type[JSONHandler]]
    thread_name: ClassVar[str]
    _host: str
    _port: int
    _http: LocalServer | None
    _release: threading.Event

    def start(self) -> Self:
        if self._http is None:
            bound = type("_BoundHandler", (self.handler,), {"fake": self})
            self._http = LocalServer(bound, host=self._host, port=self._port, name=self.thread_name)
        return self

    def close(self) -> None:
        self._release.set()
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        assert self._http is not None, "start the fake first"
        return self._http.base_url


class Hang:
    """A scripted hang: :attr:`reached` is set when the fake starts waiting, :meth:`release` ends the wait."""

    def __init__(self, after_deltas: int | None, seconds: float | None) -> None:
        self.after_deltas = after_deltas
        self.seconds = seconds
        self.reached = threading.Event()
        self._released = threading.Event()

    def release(self) -> None:
        """Let the response continue (it is sent normally, if the client is still there)."""
        self._released.set()

    def wait(self) -> None:
        self.reached.set()
        self._released.wait(self.seconds)
