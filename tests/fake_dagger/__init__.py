"""A fake Dagger engine for tests: a `dagger` CLI that the real dagger-io SDK runs.

Point `_EXPERIMENTAL_DAGGER_CLI_BIN` at `cli_path()`; each `dagger.Connection` then starts its own
fake `dagger session` process, exactly as with the real CLI. See README.md in this folder.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def cli_path() -> Path:
    """The fake `dagger` executable (a small sh launcher committed next to this file).

    The launcher runs this package with $FAKE_DAGGER_PYTHON (the fixtures set it to the test's own
    interpreter), else the repository's .venv Python, else python3 from PATH.
    """
    path = Path(__file__).resolve().parent / "dagger"
    mode = path.stat().st_mode
    if not mode & stat.S_IXUSR:  # e.g. a checkout that lost the executable bit
        os.chmod(path, mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path
