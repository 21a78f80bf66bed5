"""`cchub` as a user runs it: the installed entry point in its own process, on the test's CCHUB_HOME."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


def cchub(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("cchub")
    return subprocess.run([str(exe), *argv], capture_output=True, text=True, env=dict(os.environ),
                          timeout=timeout, check=False)


def start_cchub(*argv: str) -> subprocess.Popen[str]:
    exe = Path(sys.executable).with_name("cchub")
    return subprocess.Popen([str(exe), *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ))


def cchub_module(*argv: str, env: Mapping[str, str] | None = None,
                 timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m cchub_desktop.cli` on the test's environment plus `env`, with no terminal on stdin."""
    return subprocess.run([sys.executable, "-m", "cchub_desktop.cli", *argv], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL, check=False)
