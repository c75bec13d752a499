"""A first run without trip-ups (issue 10): real `flowpilot serve` / `flowpilot demo` processes, a real
embedded PostgreSQL, and Ctrl+C as a real SIGINT."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
from flowpilot_server.cli import build_parser

from flowpilot_core.db.embedded import start_embedded, stop_started
from flowpilot_core.db.engine import DatabaseUrls
from tests.conftest import LiveServer

FLOWPILOT = [sys.executable, "-m", "flowpilot_server.cli"]
SECRET = "flowpilot-test-secret-key-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWPILOT_") and k != "ANTHROPIC_API_KEY"}
    env.update(FLOWPILOT_DATA_DIR=str(data_dir), FLOWPILOT_PORT=str(port), FLOWPILOT_SECRET_KEY=SECRET, **extra)
    return env


def _alive(pid: int) -> bool:
    """Running, not a zombie (in a container nobody may reap the stopped postmaster)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _postmaster_pid(data_dir: Path) -> int | None:
    pid_file = data_dir / "pgdata" / "postmaster.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text().splitlines()[0])
    return pid if _alive(pid) else None


def _wait_healthy(proc: subprocess.Popen[str], url: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"flowpilot exited early: {proc.communicate()[1]}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    proc.kill()
    raise AssertionError("flowpilot did not become healthy")


def _ctrl_c(proc: subprocess.Popen[str]) -> tuple[str, str]:
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode in (0, 130), err
    assert "Traceback" not in err, err
    return out, err


def test_every_option_has_help_text() -> None:
    parser = build_parser()
    missing = []

    def walk(p: object, name: str) -> None:
        for action in p._actions:  # type: ignore[attr-defined]
            if action.__class__.__name__ == "_SubParsersAction":
                for sub_name, sub in action.choices.items():
                    walk(sub, f"{name} {sub_name}")
            elif not action.help:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")

    walk(parser, "flowpilot")
    assert missing == []


@pytest.mark.slow
def test_ctrl_c_on_serve_stops_the_embedded_postgresql_it_started(tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [*FLOWPILOT, "serve"], env=_env(tmp_path, port), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_healthy(proc, f"http://127.0.0.1:{port}")
        pid = _postmaster_pid(tmp_path)
        assert pid is not None, "serve should have started the embedded PostgreSQL"
    finally:
        _, err = _ctrl_c(proc)
    assert "Starting embedded PostgreSQL" in err
    assert "Stopped the embedded PostgreSQL" in err
    assert not _alive(pid), "the embedded PostgreSQL this process started must be stopped"
    assert not (tmp_path / "pgdata" / "postmaster.pid").exists()


@pytest.mark.slow
def test_serve_is_quiet_about_and_leaves_running_an_embedded_postgresql_it_found(tmp_path: Path) -> None:
    start_embedded(tmp_path)  # someone else's (this test's) PostgreSQL, already running
    try:
        pid = _postmaster_pid(tmp_path)
        assert pid is not None
        port = _free_port()
        proc = subprocess.Popen(
            [*FLOWPILOT, "serve"], env=_env(tmp_path, port), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            _wait_healthy(proc, f"http://127.0.0.1:{port}")
        finally:
            _, err = _ctrl_c(proc)
        assert "Starting embedded PostgreSQL" not in err
        assert "already running" in err and "Stopped" not in err
        assert _alive(pid), "a PostgreSQL this process did not start must keep running"
    finally:
        stop_started(tmp_path)
    assert not _alive(pid)


@pytest.mark.slow
def test_demo_prints_the_account_id_and_a_working_api_key_command(
    tmp_path: Path, db_urls: DatabaseUrls, live_server: LiveServer
) -> None:
    port = _free_port()
    env = _env(tmp_path, port, FLOWPILOT_DATABASE_URL=db_urls.owner)
    proc = subprocess.Popen(
        [*FLOWPILOT, "demo", "--portal-port", "0"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(proc, url)
    finally:
        out, _ = _ctrl_c(proc)
    account_id = re.search(r"Demo account id: ([0-9a-f-]{36})", out)
    assert account_id, out
    command = re.search(r"API key for it: +flowpilot (api-keys create --account [0-9a-f-]{36})", out)
    assert command and account_id.group(1) in command.group(1), out

    created = subprocess.run(
        [*FLOWPILOT, *command.group(1).split(), "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)["key"]
    me = httpx.get(f"{live_server.url}/api/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200 and me.json()["account"] == {
        "id": account_id.group(1),
        "name": "Demo MSP",
        "allowed_origins": [],
    }


@pytest.mark.slow
@pytest.mark.parametrize("signum", (signal.SIGINT, signal.SIGTERM), ids=("ctrl-c", "timeout"))
def test_an_interrupted_test_run_stops_the_embedded_postgresql_it_started(tmp_path: Path, signum: int) -> None:
    (tmp_path / "test_waits.py").write_text(
        "import time\n\n"
        "def test_waits(pg_admin_url):\n"
        "    print('URL', pg_admin_url, flush=True)\n"
        "    time.sleep(600)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "FLOWPILOT_TEST_DATABASE_URL"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-p", "tests.conftest",
         "--rootdir", str(tmp_path), str(tmp_path / "test_waits.py")],
        cwd=Path(__file__).resolve().parents[2], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    home = None
    for line in proc.stdout:
        if line.startswith("URL "):
            home = Path(re.search(r"host=([^&\s]+)", line).group(1)).parent  # type: ignore[union-attr]
            break
    assert home is not None, "the run never reached its test"
    pid = _postmaster_pid(home)
    assert pid is not None
    proc.send_signal(signum)
    proc.communicate(timeout=60)
    assert not _alive(pid), "the interrupted run left its embedded PostgreSQL running"
    assert not home.exists()


@pytest.mark.parametrize(
    "origin",
    ("https://portal.example *", "https://portal.example.com;sandbox", "https://portal.example.com:99999", "*"),
)
def test_accounts_create_refuses_an_origin_outside_the_grammar_in_one_line(
    tmp_path: Path, db_urls: DatabaseUrls, origin: str
) -> None:
    env = _env(tmp_path, _free_port(), FLOWPILOT_DATABASE_URL=db_urls.owner)
    result = subprocess.run(
        [*FLOWPILOT, "accounts", "create", "--name", "Bad Origin MSP", "--allowed-origin", origin],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("flowpilot: error:") and repr(origin) in lines[-1], result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
