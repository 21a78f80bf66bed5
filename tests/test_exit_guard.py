"""Guard: a process that did socket I/O on the qasync loop must exit 0 (PySide6 6.12.0 aborts with 134)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parent / "scripts" / "qasync_socket_exit.py"


def test_qasync_loop_with_socket_io_exits_cleanly() -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60)
    assert "ok=50" in result.stdout
    assert result.returncode == 0, (
        f"exit code {result.returncode} at interpreter exit — a PySide6/qasync upgrade brought back the exit "
        f"crash:\n{result.stderr[-2000:]}")
