"""Runners seen from their clients (the window, the tray, `cchub stop`): start one, ask it to stop, end it.

A runner is `cchub up --runner NAME` in a process of its own (cli_stack.py): it holds the project's
lease for its life, opens the Dagger session, writes the project's log file and publishes its state, phase
and health in its lease (lease.py), where any client reads them, late or not. It runs in a session of its
own, so it outlives the window that started it, and its process group holds everything it started (the
Dagger CLI session included): ending the group ends the stack. No Qt and no Dagger here.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from cchub_desktop.paths import AppPaths

LAST_LINES = 3


def frozen_cchub() -> Path | None:
    """The frozen app's `cchub` beside it; None when this runs from source."""
    if getattr(sys, "frozen", False):
        return Path(sys.executable).with_name("cchub.exe" if os.name == "nt" else "cchub")
    return None


def runner_command(name: str) -> list[str]:
    """The command that runs project `name`'s stack as a runner: the frozen app's `cchub` beside it, else
    this interpreter's `cchub_desktop.runner` (both lower their priority first)."""
    exe = frozen_cchub()
    if exe is not None:
        return [str(exe), "up", "--runner", name]
    return [sys.executable, "-m", "cchub_desktop.runner", name]


def start_detached(command: list[str], stdout: int | IO[bytes], stderr: IO[bytes]) -> subprocess.Popen[bytes]:
    """Start `command` in a session (Windows: a process group) of its own, so it outlives this process and
    ending its group ends everything it started; OSError when it cannot be started."""
    group: int = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)   # Windows; 0 elsewhere
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, close_fds=True,
                            start_new_session=os.name != "nt", creationflags=group)


def launch(paths: AppPaths, name: str, data_key: str) -> subprocess.Popen[bytes]:
    """Start project `name`'s runner, detached from this process (its own session); OSError when it cannot
    be started. What it prints before its log is open (an interpreter that cannot start) goes to a file
    beside its lease: `early_output`."""
    paths.runtime_dir.mkdir(parents=True, exist_ok=True)
    err_file = early_output_file(paths, data_key)
    with open(err_file, "wb") as err:
        return start_detached(runner_command(name), subprocess.DEVNULL, err)


def early_output_file(paths: AppPaths, data_key: str) -> Path:
    return paths.runtime_dir / f"runner-{data_key}.err"


def ask_to_stop(pid: int) -> bool:
    """SIGTERM: the runner stops its stack cleanly (as on Ctrl-C). False when it had already ended."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    return True


def end(pid: int) -> list[int]:
    """SIGKILL the runner and everything it started (its process group, when it leads one: a runner does),
    else the runner alone. The pids signalled (the group's leader stands for the group)."""
    if os.name == "nt":
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)   # TerminateProcess
        return [pid]
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return []
    except PermissionError:
        return []
    return [pid]


def exit_words(code: int) -> str:
    """How a runner ended, as a user reads it: "exit code 3", "killed by SIGKILL"."""
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit code {code}"


def last_lines(files: Sequence[Path], count: int = LAST_LINES) -> list[str]:
    """The last `count` non-empty lines of the first file that has any (the log, then the early output)."""
    for file in files:
        try:
            with open(file, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 16384))
                tail = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        lines = [line.strip() for line in tail.splitlines() if line.strip()]
        if lines:
            return [line[:300] for line in lines[-count:]]
    return []
