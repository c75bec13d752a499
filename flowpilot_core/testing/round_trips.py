"""Count the round trips a client makes to PostgreSQL, on the wire.

:class:`RoundTripCounter` is a TCP proxy on 127.0.0.1 in front of a PostgreSQL server that reads
the frontend side of the protocol and counts the messages that make the client wait for the
server: a simple ``Query`` (``Q``) and a ``Sync`` (``S``, which closes every extended-protocol
exchange: asyncpg's prepare, bind and execute, and its ``BEGIN``/``COMMIT``). Each is answered
by exactly one ``ReadyForQuery``, so their number is the number of round trips, whatever the
driver or ORM above does (a prepared statement's ``Parse`` that misses the driver's cache counts
as one more, as it costs one more).

Used by tests that keep the round trips of a request from creeping up, and by ``bench/``.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104
_WAITING = {ord("Q"), ord("S")}


class RoundTripCounter:
    def __init__(self, url: str) -> None:
        """A proxy to the PostgreSQL server of ``url`` (``host=/dir`` query: its unix socket)."""
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        port = parts.port or int(query.get("port", 5432))
        socket_dir = query.get("host", "")
        self._upstream: tuple[str, int] | str = (
            f"{socket_dir}/.s.PGSQL.{port}" if socket_dir.startswith("/") else (parts.hostname or "127.0.0.1", port)
        )
        self._lock = threading.Lock()
        self._count = 0
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = int(self._listener.getsockname()[1])
        self._sockets: set[socket.socket] = set()
        threading.Thread(target=self._accept, name="pg-round-trips", daemon=True).start()

    def url_for(self, url: str) -> str:
        """``url`` (same user, password and database) pointing through this proxy."""
        parts = urlsplit(url)
        query = {k: v for k, v in parse_qsl(parts.query) if k not in ("host", "port")}
        user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{self.port}", query=urlencode(query)))

    @property
    def count(self) -> int:
        """Round trips since the start or the last :meth:`reset`, over every connection."""
        with self._lock:
            return self._count

    def reset(self) -> None:
        with self._lock:
            self._count = 0

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def __enter__(self) -> RoundTripCounter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                if isinstance(self._upstream, str):
                    server = socket.socket(socket.AF_UNIX)
                    server.connect(self._upstream)
                else:
                    server = socket.create_connection(self._upstream, timeout=5)
                    server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update((client, server))
            threading.Thread(target=self._frontend, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client), daemon=True).start()

    def _frontend(self, client: socket.socket, server: socket.socket) -> None:
        """Forward the client's bytes, counting the messages that wait for an answer."""
        buffer = b""
        started = False  # untyped messages (SSL/GSS request, startup) come first, then typed ones
        try:
            while data := client.recv(65536):
                server.sendall(data)
                buffer += data
                while True:
                    if not started:
                        if len(buffer) < 8:
                            break
                        length, code = struct.unpack("!II", buffer[:8])
                        if len(buffer) < length:
                            break
                        buffer = buffer[length:]
                        started = code not in (_SSL_REQUEST, _GSSENC_REQUEST)
                        continue
                    if len(buffer) < 5:
                        break
                    kind = buffer[0]
                    (length,) = struct.unpack("!I", buffer[1:5])
                    if len(buffer) < 1 + length:
                        break
                    buffer = buffer[1 + length :]
                    if kind in _WAITING:
                        with self._lock:
                            self._count += 1
        except OSError:
            pass
        finally:
            self._close_pair(client, server)

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            self._close_pair(source, target)

    @staticmethod
    def _close_pair(*sockets: socket.socket) -> None:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
