"""``examples/psa-plugin``, the distribution a PSA vendor copies, built and installed the way a vendor
installs it (``pip install``), then tested with the conformance kit and loaded by FlowPilot."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.plugins.support import run_flowpilot, subprocess_env

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "psa-plugin"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example distribution, built from its own pyproject.toml and installed (FlowPilot itself is already)."""
    target = tmp_path_factory.mktemp("tinydesk-site")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(EXAMPLE)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    return target


def test_the_example_plugin_passes_the_conformance_kit(site: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=EXAMPLE, env=subprocess_env(site), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    passed = re.search(r"(\d+) passed", run.stdout)
    assert passed and int(passed.group(1)) >= 18, run.stdout  # the kit's 17 contracts and the config test
    assert "skipped" not in run.stdout and "failed" not in run.stdout


def test_flowpilot_loads_the_installed_example_as_a_psa_provider(site: Path, tmp_path: Path) -> None:
    env = subprocess_env(site, FLOWPILOT_LOAD_PLUGINS="tinydesk")
    listing = run_flowpilot("plugins", "list", "--json", env=env, cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    plugins = {p["name"]: p for p in json.loads(listing.stdout)["plugins"]}
    assert "tinydesk" in plugins, plugins.keys()
    assert "tinydesk" in json.dumps(plugins["tinydesk"]["contributes"]), plugins["tinydesk"]
