"""`flowpilot serve --workers N`: N processes on one port; the database is prepared once, before they start, and an
embedded PostgreSQL the command started is stopped once, when it ends."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import httpx
import psutil
import pytest

from flowpilot_core.accounts.embed_tokens import mint_embed_token
from tests.deploy.support import FLOWPILOT, flowpilot_env, flowpilot_serve, stop


def _workers_of(proc: subprocess.Popen[str]) -> list[psutil.Process]:
    """The uvicorn worker processes (multiprocessing spawns them; its resource tracker is no worker)."""
    children = psutil.Process(proc.pid).children()
    return [child for child in children if "spawn_main" in " ".join(child.cmdline())]


def _postmaster_alive(data_dir: Path) -> int | None:
    pid_file = data_dir / "pgdata" / "postmaster.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text().splitlines()[0])
    try:
        return pid if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE else None
    except psutil.NoSuchProcess:
        return None


@pytest.mark.slow
@pytest.mark.parametrize("signum", (signal.SIGINT, signal.SIGTERM), ids=("ctrl-c", "sigterm"))
def test_workers_share_one_embedded_database_migrated_once_and_stopped_once(tmp_path: Path, signum: int) -> None:
    env = flowpilot_env(FLOWPILOT_DATA_DIR=str(tmp_path))  # no database URL, no secret key: both generated
    with flowpilot_serve(env, "--workers", "2", timeout=180) as (url, proc):
        workers = _workers_of(proc)
        assert len(workers) == 2, [w.cmdline() for w in psutil.Process(proc.pid).children()]
        postmaster = _postmaster_alive(tmp_path)
        assert postmaster is not None

        # An account created by another command on the same data dir: its embed secret is stored encrypted with
        # the key the parent generated there, so a worker accepts the token only if it holds that same key.
        created = subprocess.run(
            [*FLOWPILOT, "accounts", "create", "--name", "Workers MSP", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert created.returncode == 0, created.stderr
        account = json.loads(created.stdout)
        token = mint_embed_token(account_id=account["id"], secret=account["embed_secret"], user_id="tech-7")
        with httpx.Client(base_url=url, timeout=30) as http:
            # A new connection each time: whichever worker accepts it answers.
            auth = {"Authorization": f"Bearer {token}", "Connection": "close"}
            statuses = {http.get("/api/v1/ai-sessions", headers=auth).status_code for _ in range(20)}
        assert statuses == {200}
        _, err = stop(proc, signum=signum)

    assert proc.returncode in (0, 130), err
    assert "Traceback" not in err, err
    assert err.count("Starting embedded PostgreSQL") == 1, err
    assert err.count("Applying migrations") == 1 and err.count("Migrations applied") == 1, err
    assert "with 2 workers" in err
    assert err.count("Stopped the embedded PostgreSQL") == 1, err
    assert _postmaster_alive(tmp_path) is None
    assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)


def test_a_bad_worker_count_is_one_clear_line() -> None:
    result = subprocess.run(
        [*FLOWPILOT, "serve", "--workers", "0"], env=flowpilot_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "argument --workers: 0 is outside 1-64" in result.stderr
    assert "Traceback" not in result.stderr
