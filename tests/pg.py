"""Test databases: a server (embedded unless FLOWPILOT_TEST_DATABASE_URL is set) and fresh databases on it."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import text
from sqlalchemy.pool import NullPool

from flowpilot_core.config import normalize_database_url
from flowpilot_core.db.embedded import start_embedded
from flowpilot_core.db.engine import create_engine

T = TypeVar("T")


def server_url(tmp_dir: Path) -> str:
    """Owner URL of the server tests create their databases on."""
    configured = os.environ.get("FLOWPILOT_TEST_DATABASE_URL")
    if configured:
        return normalize_database_url(configured, "FLOWPILOT_TEST_DATABASE_URL")
    return normalize_database_url(start_embedded(tmp_dir, database="postgres"))


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
