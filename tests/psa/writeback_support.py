"""What the per-PSA Confirm & post test modules share: the server with the built-in plugins only, a PSA connection
added through the API, and a fix confirmed and posted from a session.

A module uses the :func:`client` fixture by importing it (it then overrides the session-wide ``client`` of
``tests/conftest.py`` for that module only).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from flowpilot_core.config import Settings
from flowpilot_core.db.engine import DatabaseUrls
from tests.conftest import Tenant
from tests.plugins.support import client_for, manager_with

Client = AsyncTestClient[Litestar]


@pytest.fixture
async def client(settings: Settings, db_urls: DatabaseUrls) -> AsyncIterator[Client]:
    """The server with the built-in plugins only; the engine re-reads a status 10 ms after setting it (not 2 s)."""
    async with client_for(settings, db_urls, manager_with()) as test_client:
        test_client.app.state.runtime.writeback.verify_delay = 0.01
        yield test_client


async def connect(
    client: Client, tenant: Tenant, provider: str, name: str, config: dict[str, Any], *, resolved: str, escalated: str
) -> Any:
    """``POST /api/v1/psa-connections`` with the account's API key: the response, whatever its status."""
    body = {"provider": provider, "name": name, "config": config,
            "statuses": {"resolved": resolved, "escalated": escalated}}  # fmt: skip
    return await client.post("/api/v1/psa-connections", json=body, headers=tenant.api_headers)


async def post_fix(client: Client, tenant: Tenant, session: dict[str, Any], kind: str, key: str) -> Any:
    """Confirm & post ``kind`` (``resolution-note`` or ``escalation-package``) on ``session`` with ``key``."""
    return await client.post(
        f"/api/v1/ai-sessions/{session['id']}/{kind}/post",
        json={"markdown": "## Fix\nRestarted the spooler.\n", "state_version": session["state_version"],
              "idempotency_key": key},
        headers=tenant.headers(),
    )  # fmt: skip
