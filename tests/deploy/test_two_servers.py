"""Two real `flowpilot serve` processes (one of them with two workers) on one database and one Redis, as two
replicas behind a load balancer would be: whatever one writes, the other reads, streams and invalidates."""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest

from flowpilot_core.db.engine import DatabaseUrls
from tests.conftest import TEST_SECRET_KEY, Tenant
from tests.deploy.support import flowpilot_env, flowpilot_serve, sse_events

pytestmark = pytest.mark.slow

# A Redis database of its own (the preview tests flush 15); keys name a session's state, so runs never collide.
REDIS_URL = os.environ.get("FLOWPILOT_TEST_REPLICAS_REDIS_URL", "redis://127.0.0.1:6379/14")


def _hits(metrics: str) -> float:
    found = re.search(r'flowpilot_preview_cache_total\{kind="resolution_note",result="hit"\} ([0-9.]+)', metrics)
    return float(found.group(1)) if found else 0.0


def test_a_session_written_through_one_replica_is_read_streamed_and_invalidated_through_the_other(
    db_urls: DatabaseUrls, tenant: Tenant, tmp_path: Path
) -> None:
    env = flowpilot_env(
        FLOWPILOT_DATABASE_URL=db_urls.owner,
        FLOWPILOT_SECRET_KEY=TEST_SECRET_KEY,
        FLOWPILOT_REDIS_URL=REDIS_URL,
        FLOWPILOT_DATA_DIR=str(tmp_path),
    )
    headers = tenant.headers()
    with (
        flowpilot_serve(env, "--workers", "2") as (one_url, _),
        flowpilot_serve(env, "--no-migrate") as (two_url, _),
        httpx.Client(base_url=one_url, timeout=30) as one,
        httpx.Client(base_url=two_url, timeout=30) as two,
    ):
        created = one.post(
            "/api/v1/ai-sessions",
            json={"problem_statement": "The shared drive S: is gone after the update"},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        sid = created.json()["id"]
        base = f"/api/v1/ai-sessions/{sid}"

        read = two.get(base, headers=headers)
        assert read.status_code == 200
        assert read.json()["problem_statement"] == "The shared drive S: is gone after the update"

        # A chat turn streamed through the other replica (the offline model), then read back through the first.
        with two.stream(
            "POST",
            f"{base}/messages",
            json={"content": "It started this morning"},
            headers={**headers, "accept": "text/event-stream"},
        ) as streamed:
            assert streamed.status_code == 200
            assert streamed.headers["content-type"].startswith("text/event-stream")
            events = sse_events(streamed.read().decode())
        names = [name for name, _ in events]
        assert names[0] == "user_message" and names[-1] == "done" and "delta" in names, names
        streamed_text = "".join(data["text"] for name, data in events if name == "delta")
        done = events[-1][1]
        assert streamed_text.startswith("I'm FlowPilot's offline demo model")
        transcript = one.get(f"{base}/messages", headers=headers).json()["items"]
        assert transcript[-2:] == [done["user_message"], done["assistant_message"]]
        assert one.get(f"{base}/task-lane", headers=headers).json() == done["task_lane"]

        # The resolution-note preview: rendered by one, found in Redis by the other.
        preview = f"{base}/resolution-note/preview"
        first = one.get(preview, headers=headers)
        assert first.status_code == 200
        hits_before = _hits(two.get("/metrics").text)
        same = two.get(preview, headers=headers)
        assert (same.json(), same.headers["etag"]) == (first.json(), first.headers["etag"])
        assert _hits(two.get("/metrics").text) == hits_before + 1, "the second replica read it from Redis"

        # A fact added through one and edited through the other: both replicas' ETags move on.
        fact = one.post(f"{base}/facts", json={"text": "Drive S: maps to \\\\FS01\\shared"}, headers=headers).json()
        etag = one.get(preview, headers=headers).headers["etag"]
        assert etag != first.headers["etag"]
        edited = two.patch(
            f"{base}/facts/{fact['id']}", json={"text": "Drive S: maps to \\\\FS02\\shared"}, headers=headers
        )
        assert edited.status_code == 200, edited.text
        after = one.get(preview, headers={**headers, "If-None-Match": etag})
        assert after.status_code == 200 and after.headers["etag"] != etag
        lines = after.json()["markdown"].splitlines()
        assert any("FS02" in line for line in lines) and not any("FS01" in line for line in lines)
        unchanged = two.get(preview, headers={**headers, "If-None-Match": after.headers["etag"]})
        assert unchanged.status_code == 304
