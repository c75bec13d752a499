"""Property-based sweep of every documented operation against a live server (real HTTP, real PostgreSQL,
the offline model): no input may produce a 500, and every response must match the OpenAPI document
(status code, content type, headers, body schema).

Bounded: :data:`MAX_EXAMPLES` cases per operation and generation mode, derandomized so a failure is
reproducible. Driven through schemathesis' Python API rather than its pytest plugin, whose lazy
fixtures do not work with pytest 9.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from flowpilot_core.db.engine import DatabaseUrls
from tests.conftest import LiveServer, make_tenant

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = 10


def _real_ids(base_url: str, headers: dict[str, str]) -> dict[str, str]:
    """A session with a turn (task-lane items), a note and an MCP server, so positive cases reach real rows."""
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as http:
        session = http.post("/api/v1/ai-sessions", json={"problem_statement": "Outlook keeps asking for password"})
        session_id = session.raise_for_status().json()["id"]
        turn = http.post(f"/api/v1/ai-sessions/{session_id}/messages", json={"content": "Users can't print"})
        lane = turn.raise_for_status().json()["task_lane"]
        item = next(i for kind in ("questions", "checks", "actions") for i in lane[kind])
        fact = http.post(f"/api/v1/ai-sessions/{session_id}/facts", json={"text": "Printer is online"})
        ids = {"session_id": session_id, "item_id": item["id"], "fact_id": fact.raise_for_status().json()["id"]}
        server = http.post("/api/v1/account/mcp-servers", json={"name": "docs", "url": "https://mcp.example.com"})
        if server.status_code == 201:  # API keys only
            ids["server_id"] = server.json()["id"]
    return ids


def _sweep(operation: Any, mode: GenerationMode, headers: dict[str, str], ids: dict[str, str]) -> str | None:
    """Run the bounded cases of one operation; the first failure as text, or None."""

    def with_real_ids(case: Any) -> Any:
        if mode is GenerationMode.POSITIVE and case.path_parameters:
            case.path_parameters = {k: ids.get(k, v) for k, v in case.path_parameters.items()}
        return case

    @given(case=operation.as_strategy(generation_mode=mode).map(with_real_ids))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # schemathesis raises a group with the reproducing curl command
        return f"{operation.method.upper()} {operation.path} ({mode.value}): {exc}"
    return None


@pytest.mark.slow
@pytest.mark.parametrize("credential", ["api_key", "embed_token"])
def test_every_operation_answers_without_a_server_error_and_as_documented(
    live_server: LiveServer, db_urls: DatabaseUrls, credential: str
) -> None:
    tenant = make_tenant(db_urls, f"Schemathesis MSP ({credential})")
    headers = tenant.api_headers if credential == "api_key" else tenant.headers(user_id="sweeper")
    ids = _real_ids(live_server.url, headers)
    schema = schemathesis.openapi.from_url(f"{live_server.url}/schema/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20, "the sweep must cover the whole API"
    failures = [
        failure
        for operation in operations
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        if (failure := _sweep(operation, mode, headers, ids)) is not None
    ]
    assert failures == [], "\n\n".join(failures)
