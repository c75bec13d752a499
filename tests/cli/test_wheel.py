"""The built wheel installs into a fresh venv outside the checkout and runs `flowpilot demo` there."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import venv
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work / "dist"), str(REPO_ROOT)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    wheel = next((work / "dist").glob("flowpilot-*.whl"))
    env_dir = work / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    subprocess.run(
        [str(env_dir / "bin" / "pip"), "install", "-q", str(wheel)],
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=work,
    )
    return env_dir


def test_wheel_contains_migrations_and_widget_assets(installed: Path) -> None:
    code = (
        "import flowpilot_migrations, flowpilot_embed, pathlib;"
        "m = pathlib.Path(flowpilot_migrations.__file__).parent;"
        "s = pathlib.Path(flowpilot_embed.STATIC_DIR);"
        "print((m / 'env.py').exists(), any((m / 'versions').glob('0001_*.py')), (s / 'pilot.html').exists(),"
        " (s / 'embed.js').exists(), 'site-packages' in str(m))"
    )
    out = subprocess.run(
        [str(installed / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        cwd=installed.parent,
        check=True,
    ).stdout
    assert out.split() == ["True"] * 5


def test_installed_flowpilot_help_and_demo_run_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    help_out = subprocess.run(
        [str(installed / "bin" / "flowpilot"), "--help"], capture_output=True, text=True, cwd=tmp_path, check=True
    ).stdout
    assert "demo" in help_out

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWPILOT_", "PYTHONPATH", "ANTHROPIC_"))}
    env["FLOWPILOT_DATA_DIR"] = str(tmp_path / "data")
    proc = subprocess.Popen(
        [str(installed / "bin" / "flowpilot"), "demo", "--port", str(port), "--portal-port", "0"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = ""
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline() if proc.stdout else ""
            output += line
            if "listening on" in line or proc.poll() is not None:
                break
        assert proc.poll() is None, output
        match = re.search(r"#token=(\S+)", output)
        assert match, output
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        sessions = httpx.get(base + "/api/v1/ai-sessions", headers={"Authorization": f"Bearer {match.group(1)}"})
        assert sessions.status_code == 200
        assert len(sessions.json()["items"]) >= 3
        # The offline model answers from the installed wheel (playbooks shipped inside it).
        first = sessions.json()["items"][0]["id"]
        turn = httpx.post(
            f"{base}/api/v1/ai-sessions/{first}/messages",
            json={"content": "Where do I start?"},
            headers={"Authorization": f"Bearer {match.group(1)}"},
            timeout=30,
        )
        assert turn.status_code == 200, turn.text
        lane = turn.json()["task_lane"]
        assert lane["questions"] or lane["checks"]
        assert "FlowPilot" in httpx.get(base + "/pilot").text
        assert httpx.get(base + "/embed.js").status_code == 200
        assert (tmp_path / "data" / "secret_key").stat().st_mode & 0o777 == 0o600
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
