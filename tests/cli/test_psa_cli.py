"""`flowpilot psa`: add, list, test, update and remove a connection against the real database and the ConnectWise
fake over HTTP; one-line errors; no credential in any output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from flowpilot_connectwise.testing import FakeConnectWise
from flowpilot_server.cli import _run, build_parser

from flowpilot_core.db.engine import DatabaseUrls
from tests.conftest import TEST_SECRET_KEY, Tenant


@pytest.fixture
def cw() -> Iterator[FakeConnectWise]:
    with FakeConnectWise(hang_seconds=1.0) as fake:
        yield fake


@pytest.fixture
def env(db_urls: DatabaseUrls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in (("FLOWPILOT_DATA_DIR", str(tmp_path)), ("FLOWPILOT_DATABASE_URL", db_urls.owner),
                        ("FLOWPILOT_SECRET_KEY", TEST_SECRET_KEY)):  # fmt: skip
        monkeypatch.setenv(name, value)
    return tmp_path


def main(argv: list[str]) -> int:
    """The command as `flowpilot` runs it (one-line errors, exit codes), minus stopping an embedded PostgreSQL this
    process started: that is the test run's database (the real process tests are in test_cli.py)."""
    return _run(build_parser().parse_args(argv))


class Run:
    def __init__(self, capsys: pytest.CaptureFixture[str], account: str, secrets: list[str]) -> None:
        self.capsys, self.account, self.secrets = capsys, account, secrets

    def __call__(self, *args: str, code: int = 0) -> tuple[str, str]:
        capsys = self.capsys
        capsys.readouterr()
        assert main(["psa", *args, "--account", self.account]) == code
        out, err = capsys.readouterr()
        for secret in self.secrets:
            assert secret not in out and secret not in err, (args, out, err)
        assert "Traceback" not in err
        return out, err


@pytest.fixture
def run(env: Path, tenant: Tenant, cw: FakeConnectWise, capsys: pytest.CaptureFixture[str]) -> Run:
    return Run(capsys, str(tenant.account_id), cw.secrets)


def test_add_list_test_update_and_remove_a_connectwise_connection(run: Run, env: Path, cw: FakeConnectWise) -> None:
    config = env / "cw.json"
    config.write_text(json.dumps(cw.config(timeout=5.0, max_retries=0)))
    out, _ = run("add", "connectwise", "CW", "--config", f"@{config}", "--resolved", "Closed",
                 "--escalated", "Waiting on escalation", "--default")  # fmt: skip
    assert "added PSA connection 'CW' (connectwise" in out
    assert "resolved → Closed, escalated → Waiting on escalation" in out

    out, _ = run("list")
    assert out.splitlines()[0] == "CW  (default)"
    listed = json.loads(run("list", "--json")[0])
    assert [(c["name"], c["provider"], c["is_default"]) for c in listed] == [("CW", "connectwise", True)]
    assert "config" not in listed[0]

    ticket = cw.add_ticket("Printer offline")
    out, _ = run("test", "CW", "--ticket", str(ticket.id))
    lines = out.splitlines()
    assert lines[0] == "ok    authenticated: connectwise connection 'CW'"
    assert lines[1] == f"ok    ticket {ticket.id}: 'Printer offline', status In Progress, board Service Desk"
    assert "Closed (closes)" in lines[2]
    assert lines[3] == "ok    resolved  → Closed (id 4)"
    assert lines[4] == "ok    escalated → Waiting on escalation (id 3)"
    assert "--ticket REF" in run("test", "CW")[0]

    out, _ = run("update", "CW", "--name", "ConnectWise", "--no-escalated")
    assert "updated PSA connection 'ConnectWise'" in out and "escalated → (left as it is)" in out
    out, _ = run("update", "ConnectWise", "--resolved", "Waiting on escalation")
    assert "resolved → Waiting on escalation" in out

    out, _ = run("remove", "ConnectWise")
    assert out.strip() == "removed PSA connection 'ConnectWise'"
    assert "no PSA connections yet" in run("list")[0]


def test_bad_input_and_psa_failures_are_one_line_errors(run: Run, env: Path, cw: FakeConnectWise) -> None:
    def error(*args: str) -> str:
        _, err = run(*args, code=1)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("flowpilot: error: "), err
        return lines[0]

    good = json.dumps(cw.config(timeout=5.0, max_retries=0))
    assert "'nopsa' is not installed (installed: " in error("add", "nopsa", "X", "--config", "{}", "--resolved", "C")
    assert "connectwise" in error("add", "nopsa", "X", "--config", "{}", "--resolved", "C")
    assert "--config is not JSON (line 1" in error("add", "connectwise", "X", "--config", "{oops", "--resolved", "C")
    assert "cannot read" in error("add", "connectwise", "X", "--config", "@/nonexistent.json", "--resolved", "C")
    bad_id = json.dumps(cw.config(client_id="nope"))
    assert "client_id" in error("add", "connectwise", "X", "--config", bad_id, "--resolved", "C")
    assert "has no PSA connection named 'X'" in error("test", "X")
    assert "--resolved: Expected str of length >= 1" in error(
        "add", "connectwise", "CW", "--config", good, "--resolved", ""
    )

    run("add", "connectwise", "CW", "--config", good, "--resolved", "Closed")
    assert "exists already" in error("add", "connectwise", "CW", "--config", good, "--resolved", "Closed")
    assert "nothing to change" in error("update", "CW")
    ticket = cw.add_ticket("Project", board_id=2)
    run("update", "CW", "--escalated", "Escalated")
    assert "mapping names a status" in error("test", "CW", "--ticket", str(ticket.id))
    assert "Ticket ID 777 not found" in error("test", "CW", "--ticket", "777")
    cw.revoke()
    assert "rejected FlowPilot's credentials (HTTP 401)" in error("test", "CW")


def test_without_an_account_it_says_how_to_name_one(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["psa", "list"]) == 1
    assert capsys.readouterr().err.strip() == (
        "flowpilot: error: name the account: --account ID (flowpilot accounts create prints it)"
    )


def test_every_registered_provider_is_added_by_its_name_and_validates_its_own_config(
    run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    from flowpilot_core.plugins import collect, load_plugins

    load_plugins()
    names = sorted(collect().psa_providers)
    assert {"connectwise", "autotask", "halopsa"} <= set(names)
    for name in names:
        args = ["add", name, f"{name} main", "--config", '{"unknown_key": 1}', "--resolved", "Closed"]
        capsys.readouterr()
        if main(["psa", *args, "--account", run.account]) == 0:  # a provider that takes any config (none to check)
            assert f"{name} main" in run("list")[0]
            continue
        err = capsys.readouterr().err
        assert err.startswith(f"flowpilot: error: config for {name}: ") and err.count("\n") == 1, err
