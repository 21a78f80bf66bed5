"""The window's engine check: `cchub doctor --json` in a process of its own, read back as a DoctorReport.

One verdict for the window and the command line: the same check on the same settings file and environment.
The check's own imports (the doctor, and httpx with OpenSSL for the download check when no Dagger CLI is found
yet) stay out of the window process, which only reads the verdict."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess

from cchub_desktop.engine_jobs import job_command
from cchub_desktop.stack.doctor_report import CliChoice, DoctorCheck, DoctorReport

TIMEOUT = 60.0   # seconds; every check inside has a timeout of a few seconds (stack/doctor.py)
CHECK_NAME = "Engine check"
TERMINAL_FIX = "Run 'cchub doctor' in a terminal to see its whole output."


def doctor_command() -> list[str]:
    """`cchub doctor --json`, started as the window's other engine jobs are (engine_jobs.job_command)."""
    return job_command("doctor", ())


def failed(message: str) -> DoctorReport:
    """A report that says the check itself did not give a verdict (a problem: Start waits for a verdict)."""
    return DoctorReport(checks=[DoctorCheck(CHECK_NAME, False, message, TERMINAL_FIX)],
                        cli=CliChoice("download", None, None))


async def check_engine(command: list[str] | None = None, timeout: float = TIMEOUT) -> DoctorReport:
    """Run the doctor (`command`, by default `doctor_command()`) and read its report. Never raises for what
    the doctor does: a doctor that cannot start, hangs or prints no report gives `failed(...)`. Cancelled,
    it ends the doctor's process."""
    command = command or doctor_command()
    try:
        proc = await asyncio.create_subprocess_exec(*command, stdin=subprocess.DEVNULL,
                                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        return failed(f"The engine check could not be started ({exc.strerror or exc}).")
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        _end(proc)
        await proc.wait()
        return failed(f"The engine check gave no verdict in {timeout:g} s.")
    except asyncio.CancelledError:
        _end(proc)
        raise
    try:
        return DoctorReport.from_dict(json.loads(out.decode("utf-8", "replace")))
    except ValueError:   # no JSON, or not a report (json.JSONDecodeError is a ValueError)
        lines = [line.strip() for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
        said = f": {lines[-1][:300]}" if lines else ""
        return failed(f"The engine check ended with exit code {proc.returncode} and no verdict{said}.")


def _end(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):   # it ended meanwhile
            proc.kill()
