"""Test databases: a server (embedded unless FLOWPILOT_TEST_DATABASE_URL is set) and fresh databases on it."""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import text
from sqlalchemy.pool import NullPool

from flowpilot_core.config import normalize_database_url
from flowpilot_core.db.embedded import start_embedded, stop_started
from flowpilot_core.db.engine import create_engine

T = TypeVar("T")


def server_url(tmp_dir: Path) -> str:
    """Owner URL of the server tests create their databases on."""
    configured = os.environ.get("FLOWPILOT_TEST_DATABASE_URL")
    if configured:
        return normalize_database_url(configured, "FLOWPILOT_TEST_DATABASE_URL")
    # Should the run end without its fixtures' teardown, stop the cluster at least when Python exits.
    atexit.register(stop_started, tmp_dir)
    return normalize_database_url(start_embedded(tmp_dir, database="postgres"))


def embedded_home() -> Path:
    """A directory for the test run's embedded cluster, outside pytest's temporary directories.

    pytest resets ``/tmp/pytest-of-<user>`` to mode 0700 whenever a session starts and prunes old
    session directories; the cluster runs as another user when tests run as root, so another
    test run starting on the same machine would cut a cluster living there off its own files.
    """
    return Path(tempfile.mkdtemp(prefix="flowpilot-test-pg-"))


def remove_embedded(tmp_dir: Path) -> None:
    """Stop the cluster this run started in ``tmp_dir`` and delete it."""
    stop_started(tmp_dir)
    shutil.rmtree(tmp_dir, ignore_errors=True)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def run_sync(fn: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from sync code, even when an event loop runs in this thread."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(fn())  # type: ignore[arg-type]
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


async def create_database(admin_url: str, prefix: str = "fp_test") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()
    return with_database(admin_url, name)


async def drop_database(admin_url: str, url: str) -> None:
    name = urlsplit(url).path.strip("/")
    engine = create_engine(admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()
