"""``flowpilot models test`` against the fake server: what an administrator sees for a working and a broken setup."""

from __future__ import annotations

from pathlib import Path

import pytest
from flowpilot_openai_compat.testing import FakeOpenAICompat
from flowpilot_server.cli import main

from .conftest import LOCAL_KEY


def _configure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str, *, key: str | None = None) -> None:
    config = tmp_path / "flowpilot.toml"
    config.write_text(
        "[ai.openai_compat]\n"
        f'base_url = "{url}"\n'
        "max_retries = 0\n"
        "[ai.openai_compat.tiers]\n"
        'fast = "llama3.1:8b"\nbalanced = "qwen2.5:32b"\ndeep = "qwen2.5:72b"\n'
    )
    monkeypatch.setenv("FLOWPILOT_CONFIG", str(config))
    monkeypatch.setenv("FLOWPILOT_MODEL_PROVIDER", "openai_compat")
    monkeypatch.setenv("FLOWPILOT_DATA_DIR", str(tmp_path / "data"))
    if key is None:
        monkeypatch.delenv("FLOWPILOT_OPENAI_COMPAT_API_KEY", raising=False)
    else:
        monkeypatch.setenv("FLOWPILOT_OPENAI_COMPAT_API_KEY", key)


def test_a_working_server_passes_every_step(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOpenAICompat(api_key=LOCAL_KEY, reply="OK") as fake:
        _configure(monkeypatch, tmp_path, fake.url, key=LOCAL_KEY)
        assert main(["models", "test"]) == 0
        paths = [(r.method, r.path, bool(r.json and r.json.get("stream"))) for r in fake.requests]
    out = capsys.readouterr().out.splitlines()
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


def test_a_server_without_usage_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOpenAICompat(report_usage=False) as fake:
        _configure(monkeypatch, tmp_path, fake.url)
        assert main(["models", "test", "--service", "ai_parse"]) == 0
    out = capsys.readouterr().out
    assert "model llama3.1:8b" in out, "the service's tier picks the model"
    assert out.count("usage not reported by the server") == 2


def test_a_wrong_key_fails_at_authentication(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOpenAICompat(api_key=LOCAL_KEY) as fake:
        _configure(monkeypatch, tmp_path, fake.url, key="sk-wrong")
        assert main(["models", "test"]) == 1
    captured = capsys.readouterr()
    assert "FAIL  reachable and authenticated: FlowPilot's AI credentials were rejected." in captured.out
    assert "invalid_api_key" in captured.out
    assert captured.err.strip() == "flowpilot: error: models test failed: reachable and authenticated"


def test_a_model_the_server_lacks_is_named_with_what_it_serves(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOpenAICompat(models=("llama3.1:8b", "mistral:7b")) as fake:
        _configure(monkeypatch, tmp_path, fake.url)
        assert main(["models", "test"]) == 1
        assert not fake.completion_requests, "no completion is tried for a model that is not there"
    out = capsys.readouterr().out
    assert "FAIL  model exists: 'qwen2.5:32b' is not served here (served: llama3.1:8b, mistral:7b)" in out


def test_a_server_that_is_down_fails_at_reachability(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOpenAICompat() as fake:
        url = fake.url  # the port is free again once the fake has stopped
    _configure(monkeypatch, tmp_path, url)
    assert main(["models", "test"]) == 1
    assert "FAIL  reachable and authenticated: FlowPilot could not reach the AI service." in capsys.readouterr().out


def test_a_missing_base_url_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "flowpilot.toml").write_text("")
    monkeypatch.setenv("FLOWPILOT_CONFIG", str(tmp_path / "flowpilot.toml"))
    monkeypatch.delenv("FLOWPILOT_OPENAI_COMPAT_BASE_URL", raising=False)
    assert main(["models", "test", "--provider", "openai_compat"]) == 2
    assert "configuration error: ai.openai_compat.base_url: required" in capsys.readouterr().err
