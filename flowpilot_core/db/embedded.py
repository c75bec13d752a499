"""The embedded PostgreSQL (``pgserver``): one command runs FlowPilot on a fresh machine.

The cluster lives in ``<data_dir>/pgdata`` and is reused on the next start. A process that
*starts* the cluster stops it again with :func:`stop_started` (the CLI does when it exits,
Ctrl+C included); one that finds it already running leaves it running for its owner.
"""

from __future__ import annotations

import atexit
import logging
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger("flowpilot.db")

DATABASE_NAME = "flowpilot"
_servers: dict[Path, Any] = {}
_started: set[Path] = set()


class EmbeddedDatabaseError(RuntimeError):
    """The embedded PostgreSQL could not start."""


def _pgdata(data_dir: Path) -> Path:
    return (data_dir / "pgdata").resolve()


def embedded_running(data_dir: Path) -> bool:
    """Whether a PostgreSQL is already running on ``data_dir/pgdata`` (started by any process)."""
    pgdata = _pgdata(data_dir)
    if pgdata in _servers:
        return True
    if not (pgdata / "postmaster.pid").exists():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver.utils import PostmasterInfo
    info = PostmasterInfo.read_from_pgdata(pgdata)
    return info is not None and info.is_running()


def start_embedded(data_dir: Path, database: str = DATABASE_NAME) -> str:
    """Start (or attach to) the embedded cluster in ``data_dir/pgdata``; return a postgresql:// owner URL."""
    pgdata = _pgdata(data_dir)
    server = _servers.get(pgdata)
    if server is None:
        was_running = embedded_running(data_dir)
        try:
            with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on headless hosts
                warnings.simplefilter("ignore")
                import pgserver
        except ImportError as exc:  # pragma: no cover - pgserver is a hard dependency
            raise EmbeddedDatabaseError("the pgserver package is not installed: pip install pgserver") from exc
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        try:
            # cleanup_mode=None: keep the cluster running for the next process instead of stopping it on exit.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                server = pgserver.get_server(str(pgdata), cleanup_mode=None)
        except Exception as exc:
            raise EmbeddedDatabaseError(f"embedded PostgreSQL in {pgdata} did not start: {exc}") from exc
        _servers[pgdata] = server
        if not was_running:
            _started.add(pgdata)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    uri: str = server.get_uri()
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}/{database}?{parts.query}"


def stop_started(data_dir: Path | None = None) -> list[Path]:
    """Stop the embedded clusters this process started (all, or the one in ``data_dir``), not those it
    found running; return the pgdata directories stopped."""
    stopped = []
    for pgdata in sorted(_started):
        if data_dir is not None and pgdata != _pgdata(data_dir):
            continue
        server = _servers.pop(pgdata, None)
        _started.discard(pgdata)
        if server is None:
            continue
        from pgserver import _commands  # pg_ctl is generated at import, one function per PostgreSQL binary

        # pgserver keeps a per-process handle (and a pid list in pgdata); drop both so a later start is real.
        server._cleanup()
        atexit.unregister(server._cleanup)  # done: nothing left for pgserver to clean up (or log) at exit
        type(server)._instances.pop(pgdata, None)
        try:
            getattr(_commands, "pg_ctl")(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=server.system_user)  # noqa: B009
        except Exception as exc:  # already stopped, or pg_ctl failed: say so, keep stopping the others
            log.warning("could not stop the embedded PostgreSQL in %s: %s", pgdata, exc)
            continue
        stopped.append(pgdata)
    return stopped
