"""Only ``plugins/flowpilot_openai_compat`` imports the ``openai`` SDK, and only when a provider is built."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "plugins" / "flowpilot_openai_compat"


def _imports_openai(tree: ast.AST) -> list[int]:
    def imported(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Import):
            return [a.name for a in node.names]
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            return [node.module or ""]
        return []

    return [getattr(n, "lineno", 0) for n in ast.walk(tree) if any(m.split(".")[0] == "openai" for m in imported(n))]


def test_only_the_openai_compat_plugin_imports_the_sdk() -> None:
    offenders = []
    for top in ("flowpilot_core", "server", "plugins"):
        for path in sorted((REPO / top).rglob("*.py")):
            if PLUGIN in path.parents:
                continue
            for line in _imports_openai(ast.parse(path.read_text(encoding="utf-8"))):
                offenders.append(f"{path.relative_to(REPO)}:{line}")
    assert offenders == []
    assert _imports_openai(ast.parse((PLUGIN / "provider.py").read_text()))  # the detector does detect


def test_loading_the_plugin_does_not_import_the_sdk() -> None:
    code = "import sys, flowpilot_openai_compat; print('openai' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
