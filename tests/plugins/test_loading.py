"""Which plugins load: built-ins always, third-party ones by the allowlist; the model provider is chosen by name."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from flowpilot_core.config import ConfigError, Settings, load_settings
from flowpilot_core.db.engine import DatabaseUrls
from flowpilot_core.library import FlowPilot
from flowpilot_core.plugins import PluginFailure, collect, load_plugins, new_manager, plugin_summaries
from tests.conftest import TEST_SECRET_KEY, Tenant

from .support import install_plugin, manager_with, run_flowpilot, subprocess_env
from .test_hooks import EchoModelPlugin

BUILTINS = [
    "anthropic",
    "autotask",
    "connectwise",
    "halopsa",
    "marker_effects",
    "markers",
    "offline",
    "openai_compat",
    "script_matchers",
]

MY_PSA = """
    import json, os
    from flowpilot_core import hookimpl

    @hookimpl
    def register_psa_providers(register):
        register("my_psa", lambda config: object())

    @hookimpl
    def track_event(event):
        with open(os.environ["MY_PSA_EVENTS"], "a") as out:
            out.write(json.dumps({"event": event.name, "session_id": str(event.session_id)}) + "\\n")
"""

# Not allowlisted: importing it at all would be the bug, so its import leaves a trace.
OTHER = """
    import os
    open(os.environ["OTHER_IMPORTED"], "w").close()
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_allowlist_filters_third_party_plugins_and_flowpilot_starts(
    tmp_path: Path, db_urls: DatabaseUrls, tenant: Tenant
) -> None:
    site = tmp_path / "site"
    install_plugin(site, "my-psa", "my_psa", "my_psa_plugin", MY_PSA)
    install_plugin(site, "other-plugin", "other", "other_plugin", OTHER)
    events, other_imported = tmp_path / "events.jsonl", tmp_path / "other-imported"
    port = _free_port()
    env = subprocess_env(
        site,
        FLOWPILOT_LOAD_PLUGINS="my_psa",
        FLOWPILOT_DATABASE_URL=db_urls.owner,
        FLOWPILOT_APP_DATABASE_URL=db_urls.app,
        FLOWPILOT_SECRET_KEY=TEST_SECRET_KEY,
        FLOWPILOT_DATA_DIR=str(tmp_path / "data"),
        FLOWPILOT_PORT=str(port),
        MY_PSA_EVENTS=str(events),
        OTHER_IMPORTED=str(other_imported),
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "flowpilot_server.cli", "serve", "--no-migrate"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.poll() is None:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert server.poll() is None, server.stdout.read() if server.stdout else ""
        health = httpx.get(base + "/healthz").json()
        assert (health["status"], health["plugin_failures"]) == ("ok", [])
        created = httpx.post(
            base + "/api/v1/ai-sessions", json={"problem_statement": "Printer offline"}, headers=tenant.api_headers
        )
        assert created.status_code == 201, created.text
        # the offline model (a built-in) answers, and the allowlisted plugin heard about the session
        turn = httpx.post(
            f"{base}/api/v1/ai-sessions/{created.json()['id']}/messages",
            json={"content": "Users can't print"},
            headers=tenant.api_headers,
            timeout=30,
        )
        assert turn.status_code == 200, turn.text
        assert turn.json()["assistant_message"]["content"]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    assert [json.loads(line) for line in events.read_text().splitlines()] == [
        {"event": "session_created", "session_id": created.json()["id"]}
    ]
    assert not other_imported.exists()

    listing = run_flowpilot("plugins", "list", "--json", env=env, cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    names = [p["name"] for p in json.loads(listing.stdout)["plugins"]]
    assert names == sorted([*BUILTINS, "my_psa"])


def test_an_allowlisted_name_that_is_not_installed_is_logged_not_fatal(tmp_path: Path) -> None:
    env = subprocess_env(tmp_path, FLOWPILOT_LOAD_PLUGINS="my_psa")
    listing = run_flowpilot("plugins", "list", "--json", env=env, cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert [p["name"] for p in json.loads(listing.stdout)["plugins"]] == BUILTINS
    assert "FLOWPILOT_LOAD_PLUGINS names 'my_psa', but no installed plugin has that entry-point name" in listing.stderr


def test_installed_third_party_plugins_do_not_load_under_test(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_plugin(tmp_path, "flowpilot-leaky", "leaky", "leaky_plugin", "from flowpilot_core import hookimpl\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    isolated = new_manager()
    assert load_plugins(isolated) == []
    assert [row["name"] for row in plugin_summaries(isolated)] == BUILTINS  # tests/conftest.py's empty allowlist

    monkeypatch.delenv("FLOWPILOT_LOAD_PLUGINS")  # as a deployment without the variable would
    everything = new_manager()
    assert load_plugins(everything) == []
    names = [row["name"] for row in plugin_summaries(everything)]
    assert names == sorted([*BUILTINS, "leaky"])


async def test_a_plugin_model_provider_is_selected_by_name(
    settings: Settings, db_urls: DatabaseUrls, tmp_path: Path
) -> None:
    # the settings accept any well-formed name; which names exist is the plugins' business
    configured = load_settings(env={"FLOWPILOT_MODEL_PROVIDER": "echo"}, config_file=tmp_path / "absent.toml")
    assert configured.model_provider == "echo"
    fp = FlowPilot.start(
        dataclasses.replace(settings, model_provider="echo"),
        db_urls,
        plugin_manager=manager_with(("echo-plugin", EchoModelPlugin())),
    )
    try:
        assert fp.ai.provider.name == "echo"
        assert fp.plugins.owners[("model provider", "echo")] == "echo-plugin"
    finally:
        await fp.close()


def test_an_unknown_model_provider_names_the_registered_ones(settings: Settings, db_urls: DatabaseUrls) -> None:
    with pytest.raises(ConfigError) as raised:
        FlowPilot.start(
            dataclasses.replace(settings, model_provider="gpt"),
            db_urls,
            plugin_manager=manager_with(("echo-plugin", EchoModelPlugin())),
        )
    assert str(raised.value) == (
        "FLOWPILOT_MODEL_PROVIDER: model provider 'gpt' is not registered "
        "(registered: anthropic, echo, offline, openai_compat)"
    )


def test_flowpilot_serve_with_an_unknown_model_provider_fails_in_one_line(
    tmp_path: Path, db_urls: DatabaseUrls
) -> None:
    env = subprocess_env(
        tmp_path,
        FLOWPILOT_MODEL_PROVIDER="gpt",
        FLOWPILOT_DATABASE_URL=db_urls.owner,
        FLOWPILOT_DATA_DIR=str(tmp_path / "data"),
    )
    result = run_flowpilot("serve", "--no-migrate", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "flowpilot: configuration error: FLOWPILOT_MODEL_PROVIDER: "
        "model provider 'gpt' is not registered (registered: anthropic, offline, openai_compat)"
    ]


def test_a_malformed_model_provider_name_is_refused_with_the_settings(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^FLOWPILOT_MODEL_PROVIDER: 'Claude 3!' is not a provider name"):
        load_settings(env={"FLOWPILOT_MODEL_PROVIDER": "Claude 3!"}, config_file=tmp_path / "absent.toml")


def test_a_third_party_plugin_cannot_take_a_builtin_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_plugin(tmp_path, "fake-offline", "offline", "fake_offline", "raise RuntimeError('must not be imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("FLOWPILOT_LOAD_PLUGINS")
    manager = new_manager()
    assert load_plugins(manager) == [PluginFailure("offline", "a built-in plugin is already named 'offline'")]
    assert manager.get_plugin("offline").__name__ == "flowpilot_offline"


def test_traced_plugins_log_every_hook_call(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("FLOWPILOT_TRACE_PLUGINS", "1")
    manager = new_manager()
    load_plugins(manager)
    with caplog.at_level(logging.INFO, logger="flowpilot.plugins"):
        collect(manager)
    traced = "\n".join(r.getMessage() for r in caplog.records if r.name == "flowpilot.plugins")
    assert "register_model_providers" in traced and "register_marker_parsers" in traced
