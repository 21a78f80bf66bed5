"""Importing the stack package (as the app does at start) must not import the Dagger SDK: that import
takes most of a second, so it happens in a worker thread when the first stack starts."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_stack_and_orchestrator_leaves_the_sdk_unloaded() -> None:
    code = ("import sys; import cchub_desktop.stack, cchub_desktop.orchestrator; "
            "from cchub_desktop.stack import run_doctor, build_plan, CommandCenterStack; "
            "print(sorted(m for m in sys.modules if m == 'dagger' or m.startswith('dagger.')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
