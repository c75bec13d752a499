"""The flowpilot command: clear one-line errors, admin commands against a real database, plugins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
from flowpilot_server.cli import main

from flowpilot_core.db.engine import DatabaseUrls

FLOWPILOT = [sys.executable, "-m", "flowpilot_server.cli"]


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWPILOT_")}
    full_env.update(env or {})
    return subprocess.run([*FLOWPILOT, *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=120)


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("serve", "demo", "db", "accounts", "api-keys", "plugins"):
        assert command in out


@pytest.mark.parametrize(
    ("env", "needle"),
    (
        ({"FLOWPILOT_PORT": "eighty"}, "FLOWPILOT_PORT"),
        ({"FLOWPILOT_DATABASE_URL": "mysql://root@localhost/x"}, "FLOWPILOT_DATABASE_URL"),
        ({"FLOWPILOT_SECRET_KEY": "short"}, "FLOWPILOT_SECRET_KEY"),
        ({"FLOWPILOT_MODEL_PROVIDER": "Not a name!"}, "FLOWPILOT_MODEL_PROVIDER"),
    ),
)
def test_invalid_configuration_fails_with_one_line_naming_the_setting(
    tmp_path: Path, env: dict[str, str], needle: str
) -> None:
    result = run_cli("db", "current", env={"FLOWPILOT_DATA_DIR": str(tmp_path), **env})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert needle in lines[0] and "Traceback" not in result.stderr


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    result = run_cli(
        "db",
        "current",
        env={"FLOWPILOT_DATA_DIR": str(tmp_path), "FLOWPILOT_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"},
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("flowpilot: error:")


def test_accounts_and_api_keys_lifecycle(db_urls: DatabaseUrls, tmp_path: Path, live_server: object) -> None:
    env = {
        "FLOWPILOT_DATA_DIR": str(tmp_path),
        "FLOWPILOT_DATABASE_URL": db_urls.owner,
        "FLOWPILOT_SECRET_KEY": "flowpilot-test-secret-key-0123456789abcdef",
    }
    created = run_cli(
        "accounts", "create", "--name", "CLI MSP", "--allowed-origin", "https://psa.example.com", "--json", env=env
    )
    assert created.returncode == 0, created.stderr
    account = json.loads(created.stdout)
    key_result = run_cli("api-keys", "create", "--account", account["id"], "--name", "ci", "--json", env=env)
    assert key_result.returncode == 0, key_result.stderr
    key = json.loads(key_result.stdout)

    url = live_server.url  # type: ignore[attr-defined]
    me = httpx.get(f"{url}/api/v1/me", headers={"Authorization": f"Bearer {key['key']}"})
    assert me.status_code == 200 and me.json()["account"]["name"] == "CLI MSP"
    assert me.json()["account"]["allowed_origins"] == ["https://psa.example.com"]

    revoked = run_cli("api-keys", "revoke", "--account", account["id"], key["id"], env=env)
    assert revoked.returncode == 0, revoked.stderr
    assert httpx.get(f"{url}/api/v1/me", headers={"Authorization": f"Bearer {key['key']}"}).status_code == 401

    again = run_cli("api-keys", "revoke", "--account", account["id"], key["id"], env=env)
    assert again.returncode == 1 and "no active API key" in again.stderr
    bad = run_cli("api-keys", "create", "--account", "not-a-uuid", env=env)
    assert bad.returncode == 1 and "not a UUID" in bad.stderr


def test_plugins_list_shows_builtins_and_reports_a_broken_plugin_by_name(tmp_path: Path) -> None:
    site = tmp_path / "site"
    dist = site / "broken_fp_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-fp-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[flowpilot]\nbroken = broken_fp_plugin\n")
    (site / "broken_fp_plugin.py").write_text("raise RuntimeError('boom at import')\n")
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}

    result = run_cli("plugins", "list", "--json", env=env)
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    names = {p["name"]: p for p in listing["plugins"]}
    assert {"offline", "anthropic"} <= set(names)
    assert "register_model_providers" in names["offline"]["hooks"]
    assert listing["failed"] == [{"name": "broken", "error": "RuntimeError: boom at import"}]

    text_result = run_cli("plugins", "list", env=env)
    assert "broken" in text_result.stdout and "FAILED TO LOAD" in text_result.stdout


def test_load_plugins_allowlist(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        from flowpilot_core.plugins import load_plugins, plugin_summaries
        load_plugins()
        print(sorted(p["name"] for p in plugin_summaries()))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWPILOT_")}
    env["FLOWPILOT_LOAD_PLUGINS"] = ""  # no third-party plugins; the built-ins always load
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == (
        "['anthropic', 'autotask', 'connectwise', 'halopsa', 'marker_effects', 'markers', 'offline', 'openai_compat']"
    )
