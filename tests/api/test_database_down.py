"""The database going away: every call answers 503 problem details the client may retry, and FlowPilot
recovers by itself when the database is back. The outage is real: the app reaches PostgreSQL through a
socket proxy that the test closes (dropping every connection) and opens again."""

from __future__ import annotations

import contextlib
import glob
import os
import socket
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from flowpilot_server.app import create_app
from litestar import Litestar
from litestar.testing import AsyncTestClient

from flowpilot_core.config import Settings
from flowpilot_core.db.engine import DatabaseUrls
from tests.conftest import Tenant

Client = AsyncTestClient[Litestar]


class DatabaseProxy:
    """A Unix-socket proxy in front of PostgreSQL that can be switched off (all connections dropped) and on."""

    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        query = parse_qs(parts.query)
        if "host" in query:  # a Unix socket directory, as the embedded PostgreSQL uses
            sockets = [p for p in glob.glob(os.path.join(query["host"][0], ".s.PGSQL.*")) if not p.endswith(".lock")]
            self._upstream: str | tuple[str, int] = sockets[0]
            self.port = int(sockets[0].rsplit(".", 1)[1])
        else:
            self._upstream = (parts.hostname or "127.0.0.1", parts.port or 5432)
            self.port = parts.port or 5432
        self.directory = tempfile.mkdtemp(prefix="fp-proxy-")
        self.path = os.path.join(self.directory, f".s.PGSQL.{self.port}")
        self._listener: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()

    def url_for(self, url: str) -> str:
        """``url`` with its host replaced by this proxy's socket directory."""
        parts = urlsplit(url)
        user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        query = {k: v[0] for k, v in parse_qs(parts.query).items() if k not in {"host", "port"}}
        query.update(host=self.directory, port=str(self.port))
        return urlunsplit(parts._replace(netloc=user, query=urlencode(query)))

    def start(self) -> None:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.path)
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        """The outage: stop listening, remove the socket and drop every open connection."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        Path(self.path).unlink(missing_ok=True)
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._connections.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            family = socket.AF_UNIX if isinstance(self._upstream, str) else socket.AF_INET
            upstream = socket.socket(family, socket.SOCK_STREAM)
            upstream.connect(self._upstream)
            with self._lock:
                self._connections += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def proxy(db_urls: DatabaseUrls) -> Iterator[DatabaseProxy]:
    proxy = DatabaseProxy(db_urls.app)
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture
async def proxied_client(settings: Settings, db_urls: DatabaseUrls, proxy: DatabaseProxy) -> AsyncIterator[Client]:
    urls = DatabaseUrls(owner=proxy.url_for(db_urls.owner), app=proxy.url_for(db_urls.app), embedded=False)
    async with AsyncTestClient(app=create_app(settings, urls=urls)) as client:
        yield client


async def test_database_down_is_503_retryable_and_recovers_by_itself(
    proxied_client: Client, proxy: DatabaseProxy, tenant: Tenant
) -> None:
    pilot = ("/pilot", {"account": str(tenant.account_id)})
    assert (await proxied_client.get("/api/v1/me", headers=tenant.api_headers)).status_code == 200
    assert (await proxied_client.get("/api/v1/ai-sessions", headers=tenant.headers())).status_code == 200

    proxy.stop()
    for response in (
        await proxied_client.get("/api/v1/me", headers=tenant.api_headers),
        await proxied_client.post("/api/v1/ai-sessions", json={"problem_statement": "x"}, headers=tenant.headers()),
        await proxied_client.get(pilot[0], params=pilot[1]),
    ):
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.headers["retry-after"] == "5"
        problem = response.json()
        assert problem["retryable"] is True and "database" in problem["detail"]
        assert "Traceback" not in response.text
    assert (await proxied_client.get("/healthz")).status_code == 503

    proxy.start()
    assert (await proxied_client.get("/api/v1/me", headers=tenant.api_headers)).status_code == 200
    created = await proxied_client.post(
        "/api/v1/ai-sessions", json={"problem_statement": "x"}, headers=tenant.headers()
    )
    assert created.status_code == 201, created.text
    page = await proxied_client.get(pilot[0], params=pilot[1])
    assert page.status_code == 200 and "frame-ancestors" in page.headers["content-security-policy"]
