"""`flowpilot serve` keeps an idle HTTP connection open for FLOWPILOT_KEEP_ALIVE_TIMEOUT seconds, then closes it.

Behind a load balancer the server must outlast the balancer's idle timeout (uvicorn's own default, 5 s, is shorter
than every common balancer's): otherwise the server closes a connection just as the balancer sends the next request
on it, and that request fails. Checked on a raw socket, one request after another on the same connection."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

from flowpilot_core.config import Settings
from flowpilot_core.db.engine import DatabaseUrls
from tests.conftest import TEST_SECRET_KEY
from tests.deploy.support import flowpilot_env, flowpilot_serve

REQUEST = b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def _answered(sock: socket.socket) -> bool:
    """Send a request on ``sock``; whether a whole response came back (not a closed connection)."""
    try:
        sock.sendall(REQUEST)
        received = b""
        while b"\r\n\r\n" not in received or not received.rstrip().endswith(b"}"):
            chunk = sock.recv(4096)
            if not chunk:
                return False
            received += chunk
    except (BrokenPipeError, ConnectionResetError):
        return False
    return received.startswith(b"HTTP/1.1 200")


def test_an_idle_connection_lives_as_long_as_the_setting_says(db_urls: DatabaseUrls, tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).keep_alive_timeout == 75  # above a 60 s balancer's idle timeout
    env = flowpilot_env(
        FLOWPILOT_DATABASE_URL=db_urls.owner,
        FLOWPILOT_SECRET_KEY=TEST_SECRET_KEY,
        FLOWPILOT_DATA_DIR=str(tmp_path),
        FLOWPILOT_KEEP_ALIVE_TIMEOUT="2",
    )
    with flowpilot_serve(env, "--no-migrate") as (url, _):
        address = urlsplit(url)
        with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
            assert _answered(sock)
            time.sleep(1)
            assert _answered(sock)  # idle for 1 s: still open
            time.sleep(3)
            assert not _answered(sock)  # idle for 3 s: the server closed it
