"""The embedded PostgreSQL (``pgserver``): one command runs FlowPilot on a fresh machine.

The cluster lives in ``<data_dir>/pgdata`` and is reused on the next start.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger("flowpilot.db")

DATABASE_NAME = "flowpilot"
_servers: dict[Path, Any] = {}


class EmbeddedDatabaseError(RuntimeError):
    """The embedded PostgreSQL could not start."""


def start_embedded(data_dir: Path, database: str = DATABASE_NAME) -> str:
    """Start (or attach to) the embedded cluster in ``data_dir/pgdata``; return a postgresql:// owner URL."""
    pgdata = (data_dir / "pgdata").resolve()
    server = _servers.get(pgdata)
    if server is None:
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
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    uri: str = server.get_uri()
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}/{database}?{parts.query}"
