"""Every engine package imports on its own, first, in a fresh interpreter (no circular-import trap)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PACKAGES = (
    "flowpilot_core",
    "flowpilot_core.accounts",
    "flowpilot_core.ai",
    "flowpilot_core.ai.gateway",
    "flowpilot_core.db",
    "flowpilot_core.events",
    "flowpilot_core.facts",
    "flowpilot_core.fixes",
    "flowpilot_core.library",
    "flowpilot_core.markers",
    "flowpilot_core.markers.effects",
    "flowpilot_core.plugins",
    "flowpilot_core.previews",
    "flowpilot_core.psa",
    "flowpilot_core.psa.local",
    "flowpilot_core.sessions",
    "flowpilot_core.sessions.chat",
    "flowpilot_core.testing.fake_psa",
    "flowpilot_core.tickets",
    "flowpilot_core.writeback",
    "flowpilot_server.app",
    "flowpilot_offline",
    "flowpilot_anthropic",
)


@pytest.mark.parametrize("package", PACKAGES)
def test_the_package_imports_first(package: str) -> None:
    done = subprocess.run([sys.executable, "-c", f"import {package}"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr.strip().splitlines()[-1:]


def test_the_library_api_is_re_exported_from_the_root() -> None:
    code = "import flowpilot_core as f; print(f.FlowPilot.__name__, f.ChatRequest.__name__, f.Ticket.__name__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["FlowPilot", "ChatRequest", "Ticket"], done.stderr
