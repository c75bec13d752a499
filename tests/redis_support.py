"""A real Redis for the tests that need one: CI and the development machine run one at 127.0.0.1:6379."""

from __future__ import annotations

from typing import Any

import pytest


async def redis_or_fail(url: str, variable: str) -> Any:
    """A client of the Redis at ``url``, answering; the test fails (never skips) when there is none."""
    from redis.asyncio import Redis

    redis = Redis.from_url(url)
    try:
        await redis.ping()
    except Exception as exc:  # redis-py's ConnectionError is not an OSError
        await redis.aclose()
        pytest.fail(f"this test needs Redis at {url} (set {variable}): {exc}")
    return redis
