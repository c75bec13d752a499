"""kill -9 between posting the note and storing the result, with real processes: the next server's start-up
reconciler ends with exactly one note on the ticket, and a retry of the confirmation posts nothing.

The server is `flowpilot serve` in a subprocess on its own database, posting to the ConnectWise fake (a real
HTTP server in this process). The fake tells the test the moment it has applied the note's POST and holds
the answer back; the test then SIGKILLs the server, so the writeback row is left ``pending`` with the note
already on the ticket: exactly the crash the marker exists for.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flowpilot_connectwise.testing import FakeConnectWise
from sqlalchemy import text
from sqlalchemy.pool import NullPool

from flowpilot_core.db import migrate
from flowpilot_core.db.engine import DatabaseUrls, create_engine, derive_app_url
from tests.conftest import TEST_SECRET_KEY, Tenant, _free_port, make_tenant
from tests.pg import create_database, drop_database, run_sync

pytestmark = pytest.mark.slow
BOOT_SECONDS = 60


@pytest.fixture
def own_db(pg_admin_url: str) -> Iterator[DatabaseUrls]:
    """A database of this test's own: a start-up reconciler sees every account's abandoned writebacks."""
    owner = run_sync(lambda: create_database(pg_admin_url, "fp_crash"))
    run_sync(lambda: migrate.upgrade(owner))
    yield DatabaseUrls(owner=owner, app=derive_app_url(owner, "flowpilot_app", None), embedded=False)
    run_sync(lambda: drop_database(pg_admin_url, owner))


class Server:
    """`flowpilot serve` in a process of its own, on an ephemeral port of 127.0.0.1."""

    def __init__(self, urls: DatabaseUrls, data_dir: Path, log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWPILOT_", "ANTHROPIC_"))}
        env |= {
            "FLOWPILOT_DATABASE_URL": urls.owner,
            "FLOWPILOT_APP_DATABASE_URL": urls.app,
            "FLOWPILOT_SECRET_KEY": TEST_SECRET_KEY,
            "FLOWPILOT_DATA_DIR": str(data_dir),
            "FLOWPILOT_MODEL_PROVIDER": "offline",
            "FLOWPILOT_LOAD_PLUGINS": "",
            "FLOWPILOT_WRITEBACK_RECONCILE_AFTER": "0",  # one server: every unfinished writeback is abandoned
        }
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flowpilot_server.cli", "serve", "--no-migrate", "--port", str(self.port)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + BOOT_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the server exited with {self.process.returncode}: see {log}"
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(f"the server did not become healthy in {BOOT_SECONDS}s: see {log}")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()


def _writebacks(urls: DatabaseUrls) -> list[Any]:
    async def read() -> list[Any]:
        engine = create_engine(urls.owner, poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                query = text("SELECT id, state, external_note_id, attempts FROM writebacks ORDER BY created_at")
                return list((await conn.execute(query)).all())
        finally:
            await engine.dispose()

    return run_sync(read)


def _post_notes(cw: FakeConnectWise) -> int:
    return sum(1 for r in cw.requests if r.route == "post_note")


def test_kill_9_between_posting_and_storing_ends_with_exactly_one_note_after_restart(
    own_db: DatabaseUrls, tmp_path: Path
) -> None:
    tenant: Tenant = make_tenant(own_db, "Crash MSP")
    log = tmp_path / "servers.log"
    with FakeConnectWise(hang_seconds=120) as cw:
        ticket = cw.add_ticket("Printer offline")
        first = Server(own_db, tmp_path / "data", log)
        servers = [first]
        try:
            with httpx.Client(base_url=first.url, timeout=30) as api:
                made = api.post(
                    "/api/v1/psa-connections",
                    json={"provider": "connectwise", "name": "ConnectWise", "config": cw.config(timeout=60),
                          "statuses": {"resolved": "Closed"}},
                    headers=tenant.api_headers,
                )  # fmt: skip
                assert made.status_code == 201, made.text
                session = api.post(
                    "/api/v1/ai-sessions",
                    json={"problem_statement": "Printing is down", "ticket_ref": str(ticket.id),
                          "psa_provider": "connectwise"},
                    headers=tenant.headers(),
                ).json()  # fmt: skip
            confirm = {"markdown": "## Resolution\nRestarted the spooler.\n",
                       "state_version": session["state_version"], "idempotency_key": "confirm-kill-9"}  # fmt: skip
            post_path = f"/api/v1/ai-sessions/{session['id']}/resolution-note/post"

            applied = cw.signal_when_applied("post_note")
            cw.timeout_after_write("post_note")  # the answer is held back: the server is mid-request when killed
            outcome: dict[str, Any] = {}

            def technician_confirms() -> None:
                try:
                    outcome["response"] = httpx.post(
                        first.url + post_path, json=confirm, headers=tenant.headers(), timeout=60
                    )
                except httpx.HTTPError as exc:
                    outcome["error"] = exc

            confirming = threading.Thread(target=technician_confirms)
            confirming.start()
            assert applied.wait(30), "the server never posted the note"
            first.kill()
            confirming.join(30)
            assert "error" in outcome, "the killed server answered the confirmation"
            cw.release()

            (row,) = _writebacks(own_db)
            assert (row.state, row.external_note_id) == ("pending", None)  # killed before it stored anything
            assert len(cw.tickets[ticket.id].notes) == 1 and _post_notes(cw) == 1

            second = Server(own_db, tmp_path / "data", log)  # its start-up reconciler finishes the writeback
            servers.append(second)
            with httpx.Client(base_url=second.url, timeout=30) as api:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    status = api.get(f"/api/v1/ai-sessions/{session['id']}", headers=tenant.headers()).json()
                    if status["status"] != "open":
                        break
                    time.sleep(0.2)
                assert status["status"] == "resolved", status

                (note,) = cw.tickets[ticket.id].notes
                (row,) = _writebacks(own_db)
                assert (row.state, row.external_note_id, row.attempts) == ("done", str(note.id), 2)
                assert f"[FlowPilot resolution {row.id}]" in note.text
                assert _post_notes(cw) == 1  # the restarted server found the marker and did not post again
                assert cw.status_name(ticket.id) == "Closed"

                seen = len(cw.requests)
                retried = api.post(post_path, json=confirm, headers=tenant.headers())
                assert retried.status_code == 200, retried.text
                result = retried.json()
                assert (result["id"], result["state"], result["external_note_id"]) == (
                    str(row.id),
                    "done",
                    str(note.id),
                )
                assert len(cw.requests) == seen  # the finished result, answered without a word to the PSA
                assert len(cw.tickets[ticket.id].notes) == 1
        finally:
            for server in servers:
                server.stop()
