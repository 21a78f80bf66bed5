"""The Dagger CLI `session` processes this process started, to end one that never connected.

The real CLI (v0.21.8) whose runner accepts connections but never answers keeps connecting: it ignores its
stdin closing and SIGTERM, and the SDK waits for its first line in a thread that cannot be cancelled, so
only SIGKILL ends it. Found through /proc (Linux); elsewhere none are found and nothing is ended."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

SDK_LABEL = b"dagger.io/sdk.name:python"   # the SDK starts `dagger session --label dagger.io/sdk.name:python …`


def session_children(parent: int | None = None) -> list[int]:
    """The pids of the SDK-started `dagger session` processes whose parent is `parent` (this process)."""
    want = os.getpid() if parent is None else parent
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])   # the name in (…) may hold spaces
            if ppid != want:
                continue
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue   # ended meanwhile, or not ours to read
        if b"session" in args and SDK_LABEL in args:
            found.append(int(entry.name))
    return found


def kill_session_children() -> list[int]:
    """SIGKILL this process's `dagger session` children; the pids it signalled. Only for a process that runs
    one stack (`cchub up`): in the window, other projects' sessions are children too."""
    pids = session_children()
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return pids
