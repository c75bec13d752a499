"""The examples a newcomer runs must work as written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from flowpilot_core.db.engine import DatabaseUrls
from tests.conftest import REPO_ROOT, TEST_SECRET_KEY


def test_library_example_runs_a_session_end_to_end(db_urls: DatabaseUrls, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWPILOT_", "ANTHROPIC_"))}
    env.update(
        FLOWPILOT_DATABASE_URL=db_urls.owner, FLOWPILOT_SECRET_KEY=TEST_SECRET_KEY, FLOWPILOT_DATA_DIR=str(tmp_path)
    )
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "examples" / "library_session.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "FlowPilot:" in out and "Answering:" in out
    assert "New fact: Other users cannot print to the same printer either." in out
    assert "What We Know:\n  - Other users cannot print to the same printer either.  [question]" in out
