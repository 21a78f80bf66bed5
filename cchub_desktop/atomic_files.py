"""Small files of the user's data written whole or not at all, and the temporary files a killed write left.

`write_private` writes a temporary `.<name>.part` (0600 from the start) in the same folder, fsyncs it, renames
it over the target and fsyncs the folder: a full disk or a kill leaves the old file or the new one, never an
empty or half-written one. `clean_stale_parts` removes `.part` files that a killed backup, upgrade or write left
behind (old enough that no running job still writes them). No Qt here.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

STALE_AFTER_S = 3600.0   # a job still writing touches its .part file far more often than this


def write_private(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically and durably, private to the user (0600). Raises OSError; on
    failure the temporary file is gone and `path` is as it was."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    if sys.platform == "win32":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def clean_stale_parts(folder: Path, *, older_than_s: float = STALE_AFTER_S, pattern: str = ".*.part"
                      ) -> list[Path]:
    """Delete the `.*.part` files (or `pattern`) in `folder` not written to for `older_than_s`; returns what
    was removed."""
    removed: list[Path] = []
    now = time.time()
    with contextlib.suppress(OSError):
        for part in Path(folder).glob(pattern):
            with contextlib.suppress(OSError):
                if part.is_file() and not part.is_symlink() and now - part.stat().st_mtime > older_than_s:
                    part.unlink()
                    removed.append(part)
    return removed
