"""Real processes for the deployment tests: `flowpilot serve` subprocesses, a uvicorn server in a thread, PgBouncer."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
from litestar import Litestar

FLOWPILOT = [sys.executable, "-m", "flowpilot_server.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sse_events(raw: str) -> list[tuple[str, Any]]:
    events = []
    for block in raw.replace("\r\n", "\n").strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if "event" in lines:
            events.append((lines["event"], json.loads(lines["data"])))
    return events


def wait_healthy(url: str, *, timeout: float, proc: subprocess.Popen[str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"flowpilot exited early ({proc.returncode}): {proc.communicate()[1]}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not become healthy in {timeout:.0f}s")


def flowpilot_env(**values: str) -> dict[str, str]:
    """This environment without any FLOWPILOT_* or Anthropic setting, plus ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWPILOT_") and k != "ANTHROPIC_API_KEY"}
    env.update(values)
    return env


def stop(proc: subprocess.Popen[str], timeout: float = 30, signum: int = signal.SIGINT) -> tuple[str, str]:
    """Ctrl+C as a terminal sends it (or ``signum``: SIGTERM, as an orchestrator does); killed if it does not end
    in ``timeout`` seconds."""
    if proc.poll() is None:
        proc.send_signal(signum)
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"flowpilot did not stop on signal {signum} in {timeout:.0f}s: {err}") from None


@contextlib.contextmanager
def flowpilot_serve(
    env: dict[str, str], *args: str, timeout: float = 90
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """A real `flowpilot serve` on an ephemeral 127.0.0.1 port; yields its URL and process."""
    port = free_port()
    proc = subprocess.Popen(
        [*FLOWPILOT, "serve", "--port", str(port), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, timeout=timeout, proc=proc)
        yield url, proc
    finally:
        if proc.poll() is None:
            stop(proc)


@contextlib.contextmanager
def served(app: Litestar) -> Iterator[str]:
    """``app`` behind a real uvicorn on 127.0.0.1, in a thread of this process; yields its URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="deploy-test-server", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, timeout=30)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.access(p, os.X_OK)), None
    )


@contextlib.contextmanager
def pgbouncer(owner_url: str, users: list[str], *, pool_size: int = 2) -> Iterator[int]:
    """PgBouncer in transaction mode on an ephemeral 127.0.0.1 port in front of ``owner_url``'s server; yields
    its port. Every database of that server is reachable through it; ``users`` may log in (trust, like the
    test server itself), at most ``pool_size`` server connections per user and database."""
    binary = pgbouncer_binary()
    assert binary is not None
    parts = urlsplit(owner_url)
    socket_dir = parse_qs(parts.query).get("host", [None])[0]
    server = f"host={socket_dir}" if socket_dir else f"host={parts.hostname} port={parts.port or 5432}"
    port = free_port()
    home = Path(tempfile.mkdtemp(prefix="flowpilot-pgbouncer-"))
    home.chmod(0o755)
    (home / "users.txt").write_text("".join(f'"{user}" ""\n' for user in users))
    # Debian 12's 1.18 knows nothing of prepared statements; from 1.21 PgBouncer can track protocol-level ones,
    # which FlowPilot must not rely on (not every pooler or version does): off there, like 1.18.
    tracking = "max_prepared_statements = 0\n" if _version(binary) >= (1, 21) else ""
    (home / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = {server}\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        f"unix_socket_dir = {home}\n"
        "auth_type = trust\n"
        f"auth_file = {home / 'users.txt'}\n"
        "pool_mode = transaction\n"
        f"default_pool_size = {pool_size}\n"
        "max_client_conn = 200\n" + tracking
    )
    for path in home.iterdir():
        path.chmod(0o644)
    # PgBouncer refuses to run as root; the embedded test server runs as its own system user then.
    as_user = ["-u", "pgserver" if _user_exists("pgserver") else "postgres"] if os.geteuid() == 0 else []
    proc = subprocess.Popen(
        [binary, *as_user, str(home / "pgbouncer.ini")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"pgbouncer exited: {proc.communicate()[0]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
            if time.monotonic() > deadline:
                raise AssertionError("pgbouncer did not listen in 15s")
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(home, ignore_errors=True)


def _version(binary: str) -> tuple[int, ...]:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    number = out.split()[1] if len(out.split()) > 1 else "0"  # "PgBouncer 1.18.0"
    return tuple(int(part) for part in number.split(".") if part.isdigit())


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def through_pgbouncer(url: str, port: int) -> str:
    """``url`` (user, database) reached through the PgBouncer on ``port`` instead."""
    parts = urlsplit(url)
    user = parts.netloc.rsplit("@", 1)[0] if "@" in parts.netloc else ""
    netloc = f"{user}@127.0.0.1:{port}" if user else f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc, query=""))
