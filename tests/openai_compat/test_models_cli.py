"""``flowpilot models test`` against the fake server: what an administrator sees for a working and a broken setup.

The command runs as a real process (as an administrator runs it): in-process, ``main()``
would stop the embedded PostgreSQL clusters this process started, the test run's own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from flowpilot_openai_compat.testing import FakeOpenAICompat

from .conftest import LOCAL_KEY


def _flowpilot(tmp_path: Path, *args: str, url: str | None, key: str | None = None) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "flowpilot.toml"
    table = f'[ai.openai_compat]\nbase_url = "{url}"\nmax_retries = 0\n' if url else ""
    tiers = '[ai.openai_compat.tiers]\nfast = "llama3.1:8b"\nbalanced = "qwen2.5:32b"\ndeep = "qwen2.5:72b"\n'
    config.write_text(table + (tiers if url else ""))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWPILOT_", "ANTHROPIC_", "OPENAI_"))}
    env.update(
        FLOWPILOT_CONFIG=str(config), FLOWPILOT_MODEL_PROVIDER="openai_compat", FLOWPILOT_DATA_DIR=str(tmp_path / "d")
    )
    if key is not None:
        env["FLOWPILOT_OPENAI_COMPAT_API_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "flowpilot_server.cli", "models", "test", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )


def test_a_working_server_passes_every_step(tmp_path: Path) -> None:
    with FakeOpenAICompat(api_key=LOCAL_KEY, reply="OK") as fake:
        done = _flowpilot(tmp_path, url=fake.url, key=LOCAL_KEY)
        paths = [(r.method, r.path, bool(r.json and r.json.get("stream"))) for r in fake.requests]
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert out[0] == "provider openai_compat, service chat (tier balanced), model qwen2.5:32b"
    assert out[1] == "ok    reachable and authenticated (3 models listed)"
    assert out[2] == "ok    model exists: qwen2.5:32b"
    assert out[3].startswith("ok    completion: 'OK' in ") and "usage reported: " in out[3]
    assert out[4].startswith("ok    streamed completion: 1 deltas") and "usage reported: " in out[4]
    assert paths == [
        ("GET", "/v1/models", False),
        ("POST", "/v1/chat/completions", False),
        ("POST", "/v1/chat/completions", True),
    ]


def test_a_server_without_usage_says_so(tmp_path: Path) -> None:
    with FakeOpenAICompat(report_usage=False) as fake:
        done = _flowpilot(tmp_path, "--service", "ai_parse", url=fake.url)
    assert done.returncode == 0, done.stderr
    assert "model llama3.1:8b" in done.stdout, "the service's tier picks the model"
    assert done.stdout.count("usage not reported by the server") == 2


def test_a_wrong_key_fails_at_authentication(tmp_path: Path) -> None:
    with FakeOpenAICompat(api_key=LOCAL_KEY) as fake:
        done = _flowpilot(tmp_path, url=fake.url, key="sk-wrong")
    assert done.returncode == 1
    assert "FAIL  reachable and authenticated: FlowPilot's AI credentials were rejected." in done.stdout
    assert "invalid_api_key" in done.stdout
    assert done.stderr.strip() == "flowpilot: error: models test failed: reachable and authenticated"


def test_a_model_the_server_lacks_is_named_with_what_it_serves(tmp_path: Path) -> None:
    with FakeOpenAICompat(models=("llama3.1:8b", "mistral:7b")) as fake:
        done = _flowpilot(tmp_path, url=fake.url)
        assert not fake.completion_requests, "no completion is tried for a model that is not there"
    assert done.returncode == 1
    assert "FAIL  model exists: 'qwen2.5:32b' is not served here (served: llama3.1:8b, mistral:7b)" in done.stdout


def test_a_server_that_is_down_fails_at_reachability(tmp_path: Path) -> None:
    with FakeOpenAICompat() as fake:
        url = fake.url  # nobody listens there once the fake has stopped
    done = _flowpilot(tmp_path, url=url)
    assert done.returncode == 1
    assert "FAIL  reachable and authenticated: FlowPilot could not reach the AI service." in done.stdout


def test_a_missing_base_url_is_a_configuration_error(tmp_path: Path) -> None:
    done = _flowpilot(tmp_path, "--provider", "openai_compat", url=None)
    assert done.returncode == 2
    assert "configuration error: ai.openai_compat.base_url: required" in done.stderr
