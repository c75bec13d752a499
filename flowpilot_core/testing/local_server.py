"""The plumbing every faithful fake shares: a threaded HTTP server on a local port, and scripted hangs."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


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
