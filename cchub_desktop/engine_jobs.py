"""Engine jobs the window asks for, each in a process of its own: back up a stopped project, upgrade its
database, update its source, remove it with its data. The job is `cchub VERB … --json` (cli_stack.py, cli.py):
it takes the project's lease, opens its Dagger session and ends it, so the window never imports the SDK and an
engine that hangs hangs that process, not the window.

It writes the project's log file, which the window follows meanwhile (`on_poll`), as it follows a runner; its
result is the JSON object it prints on stdout, and so is why it failed ({"error", "logged"}); anything else
it says goes to stderr. Both go to files, not pipes: a window that quits while a job runs leaves it to finish
(it holds the lease, as a runner does). No Qt and no Dagger here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cchub_desktop.paths import AppPaths
from cchub_desktop.runner_control import end, exit_words, frozen_cchub, start_detached
from cchub_desktop.stack.errors import StackError

POLL_S = 0.2   # how often the window follows a job's log lines and asks whether it has ended
# the longest each job may take before the window ends it (and its engine session): a large database's dump
# and restore take many minutes, finding a commit only seconds
JOB_BOUNDS = {"backup": 60 * 60.0, "upgrade-db": 3 * 60 * 60.0, "update": 10 * 60.0, "remove": 30 * 60.0,
              "kept-data": 30 * 60.0}
WHAT = {"backup": "backup", "upgrade-db": "database upgrade", "update": "update", "remove": "removal",
        "kept-data": "deletion of kept data"}
ERROR_PREFIX = "cchub: "


@dataclass(frozen=True)
class JobReport:
    """How a job went, as the window says it: a short line (status bar, notification) and the whole text."""
    headline: str
    text: str


def job_command(verb: str, args: Sequence[str]) -> list[str]:
    """`cchub VERB ARGS --json`: the frozen app's `cchub` beside it, else this interpreter's CLI module."""
    exe = frozen_cchub()
    return [*([str(exe)] if exe is not None else [sys.executable, "-m", "cchub_desktop.cli"]), verb, *args, "--json"]


async def run_job(paths: AppPaths, verb: str, args: Sequence[str], on_poll: Callable[[], None], *,
                  bound: float | None = None) -> dict[str, Any]:
    """Run `cchub VERB ARGS --json` in a process of its own and return the JSON object it printed;
    `on_poll` is called every POLL_S while it runs, and once after. StackError (step VERB; `logged` when the
    project's log has its details) when it fails, cannot start or outlives `bound` (then it and its engine
    session are ended). Cancelled (the window quitting): the job goes on on its own."""
    what = WHAT.get(verb, verb)
    bound = JOB_BOUNDS.get(verb, 30 * 60.0) if bound is None else bound
    paths.runtime_dir.mkdir(parents=True, exist_ok=True)
    stem = paths.runtime_dir / f"job-{verb}-{secrets.token_hex(6)}"
    out_file, err_file = stem.with_suffix(".out"), stem.with_suffix(".err")
    try:
        proc = await asyncio.to_thread(_launch, job_command(verb, args), out_file, err_file)
    except OSError as exc:
        raise StackError(f"The {what} could not be started: {exc.strerror or exc}. Reinstall the app if "
                         "this persists.", step=verb) from exc
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bound
    try:
        while proc.poll() is None:
            on_poll()
            if loop.time() > deadline:
                end(proc.pid)
                await asyncio.to_thread(proc.wait)
                on_poll()
                raise StackError(f"The {what} had not finished after {bound / 60:.0f} min; it was ended, with "
                                 "its engine session. Try again; if it hangs again, check the engine (cchub "
                                 "doctor).", step=verb)
            await asyncio.sleep(POLL_S)
        on_poll()
        return _result(proc.returncode, out_file, _lines_of(err_file), what, verb)
    finally:
        if proc.poll() is not None:   # else the window is quitting and the job goes on: its files too
            for file in (out_file, err_file):
                with contextlib.suppress(OSError):
                    file.unlink()


def _launch(command: list[str], out_file: Path, err_file: Path) -> subprocess.Popen[bytes]:
    with open(out_file, "wb") as out, open(err_file, "wb") as err:
        return start_detached(command, out, err)


def _lines_of(err_file: Path) -> list[str]:
    """The non-empty lines the job wrote on stderr."""
    try:
        text = err_file.read_bytes().decode("utf-8", "replace")
    except OSError:
        return []
    return [line.rstrip("\r") for line in text.split("\n") if line.strip()]


def _result(code: int, out_file: Path, err_lines: list[str], what: str, verb: str) -> dict[str, Any]:
    result = _json_of(out_file)
    if result is not None and "error" in result:
        error = StackError(str(result["error"]), step=verb)
        error.logged = bool(result.get("logged"))
        raise error
    if code != 0:
        starts = [i for i, line in enumerate(err_lines) if line.startswith(ERROR_PREFIX)]
        if starts:   # its message, with the lines that belong to it
            raise StackError("\n".join([err_lines[starts[-1]][len(ERROR_PREFIX):], *err_lines[starts[-1] + 1:]]),
                             step=verb)
        last = f": {err_lines[-1][:300]}" if err_lines else ""
        raise StackError(f"The {what} ended unexpectedly ({exit_words(code)}){last}. Try again; the log "
                         "pane has what it did.", step=verb)
    if result is None:
        raise StackError(f"The {what} ended without saying how it went. Check the project's state, and "
                         "try again.", step=verb)
    return result


def _json_of(out_file: Path) -> dict[str, Any] | None:
    """The JSON object a job printed last on stdout, or None."""
    try:
        text = out_file.read_text(encoding="utf-8").strip().splitlines()
        result = json.loads(text[-1]) if text else None
    except (OSError, ValueError):
        return None
    return result if isinstance(result, dict) else None
