"""A TCP proxy on 127.0.0.1 that a fault test can cut: the database "killed" from the app's point of view.

``kill()`` closes every proxied connection (the app sees its connections reset) and stops
listening (new connections are refused), as when the PostgreSQL server dies; ``restore()``
listens on the same port again. The real server is never touched, so other tests sharing
it are not disturbed.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


class TcpProxy:
    def __init__(self, upstream: tuple[str, int] | str) -> None:
        """``upstream``: ``(host, port)``, or the path of a unix socket (the embedded PostgreSQL's)."""
        self.upstream = upstream
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.connections = 0
        """Connections accepted so far."""

    @staticmethod
    def upstream_of(url: str) -> tuple[str, int] | str:
        """Where the PostgreSQL server of ``url`` listens: ``(host, port)`` or its unix socket."""
        parts = urlsplit(url)
        socket_dir = dict(parse_qsl(parts.query)).get("host", "")
        port = parts.port or int(dict(parse_qsl(parts.query)).get("port", 5432))
        if socket_dir.startswith("/"):  # host=/dir: a unix socket, named as libpq names it
            return f"{socket_dir}/.s.PGSQL.{port}"
        return (parts.hostname or "127.0.0.1", port)

    @classmethod
    def for_url(cls, url: str) -> tuple[TcpProxy, str]:
        """A started proxy to the PostgreSQL server of ``url``, and ``url`` pointing through it."""
        proxy = cls(cls.upstream_of(url)).start()
        return proxy, proxy.url_for(url)

    def url_for(self, url: str) -> str:
        """``url`` (any user, any database on the same server) pointing through this proxy."""
        parts = urlsplit(url)
        query = {k: v for k, v in parse_qsl(parts.query) if k not in ("host", "port")}
        user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{self.port}", query=urlencode(query)))

    def start(self) -> TcpProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), name="tcp-proxy", daemon=True).start()
        return self

    def kill(self) -> None:
        """Refuse new connections and reset every open one."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def restore(self) -> None:
        """Accept connections again, on the same port."""
        if self._listener is None:
            self.start()

    def close(self) -> None:
        self.kill()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # killed
            try:
                if isinstance(self.upstream, str):
                    server = socket.socket(socket.AF_UNIX)
                    server.settimeout(5)
                    server.connect(self.upstream)
                else:
                    server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # killed meanwhile
                    client.close()
                    server.close()
                    return
                self._sockets.update((client, server))
                self.connections += 1
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
