"""The core must import no Qt: it runs in `cchub` and in tests without a display."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

CORE_MODULES = [
    "cchub_desktop.paths", "cchub_desktop.store", "cchub_desktop.ports", "cchub_desktop.cli",
    "cchub_desktop.settings", "cchub_desktop.stack", "cchub_desktop.orchestrator",
]


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_does_not_import_pyside6(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not written yet")
    code = f"import sys, {module}; bad = sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken6'))); " \
           f"print(bad); sys.exit(1 if bad else 0)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, f"{module} imports Qt: {result.stdout} {result.stderr}"
