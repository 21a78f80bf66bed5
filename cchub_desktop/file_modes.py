"""Files and folders only their owner can read: the project database, logs and settings 0600, their folders
0700. A wider mode found on an existing file or folder is tightened when the app or `cchub` next uses it.

On Windows file modes do not restrict other users; there these functions do nothing.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700
CHECK_MODES = sys.platform != "win32"


def _tighten(path: Path, wanted: int) -> None:
    if not CHECK_MODES:
        return
    try:
        current = stat.S_IMODE(path.stat().st_mode)
        if current & 0o077:
            os.chmod(path, current & ~0o077 | wanted)
    except FileNotFoundError:
        return
    except OSError as exc:   # another user's file, a read-only mount: the app still works, the log says why
        import logging  # only here: a second launch imports this module before anything else

        logging.getLogger(__name__).warning("could not make %s private to you: %s", path, exc.strerror or exc)


def private_file(path: Path) -> None:
    """Make an existing file readable and writable by its owner only (0600); a missing file is left alone."""
    _tighten(Path(path), PRIVATE_FILE)


def private_folder(path: Path) -> None:
    """Make an existing folder usable by its owner only (0700); a missing folder is left alone."""
    _tighten(Path(path), PRIVATE_FOLDER)


def make_private_folder(path: Path) -> None:
    """Create the folder (and its parents) if needed, then make it 0700."""
    Path(path).mkdir(parents=True, exist_ok=True, mode=PRIVATE_FOLDER)
    private_folder(path)


def open_private(path: str, flags: int) -> int:
    """An `opener` for open(): a file it creates is 0600 from the start, not for a moment 0644."""
    return os.open(path, flags, PRIVATE_FILE)
