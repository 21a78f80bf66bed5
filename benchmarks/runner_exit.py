"""How fast the window and `cchub stop` get out of the way of an engine that never connects (issue: the
engine's hangs must not become the app's hangs), next to the same quit with nothing running.

    .venv/bin/python -m benchmarks.runner_exit [--json]

On a fresh app home with one project, the test engine set to accept the session's connection and never answer
(FAKE_DAGGER_CONNECT_HANG, as a real CLI whose engine hangs):
1. baseline: the app (`python -m cchub_desktop`, offscreen) with nothing running, SIGTERM: seconds to exit;
2. the app with the project starting (`--start`), its runner stuck connecting, SIGTERM: seconds to exit, then
   seconds until nothing of the project runs (its lease free: the runner ended its session and itself);
3. no window, the runner alone and stuck, `cchub stop --timeout 5`: seconds until it returns, and whether the
   lease was free then.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import PYTHON, REPO, Row, app_home, bench_env, print_rows

NAME = "Project 000"
STOP_TIMEOUT = 5.0


def wait(cond: Callable[[], bool], timeout: float, what: str) -> float:
    t0 = time.perf_counter()
    while not cond():
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(0.01)
    return time.perf_counter() - t0


def owner(home: Path) -> object | None:
    from cchub_desktop.lease import owner_of

    keys = [p.stem for p in (home / "run" / "leases").glob("*.lock")]
    for key in keys:
        found = owner_of(home / "run", key)
        if found is not None:
            return found
    return None


def connecting(home: Path, sessions_before: int) -> bool:
    """The runner is connecting and its Dagger CLI session has started (the test engine journals it)."""
    found = owner(home)
    return (found is not None and getattr(found, "phase", None) == "engine"
            and sessions(home) > sessions_before)


def sessions(home: Path) -> int:
    return len(list((home.parent / "journal").glob("*.jsonl")))


def session_pids(home: Path) -> list[int]:
    return [int(p.stem) for p in (home.parent / "journal").glob("*.jsonl") if p.stem.isdigit()]


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper does not run)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def app(env: dict[str, str], out: Path, *args: str) -> subprocess.Popen[bytes]:
    with out.open("wb") as handle:
        return subprocess.Popen([PYTHON, "-m", "cchub_desktop", "--no-engine-check", *args], env=env, cwd=REPO,
                                stdout=handle, stderr=handle)


def quit_seconds(proc: subprocess.Popen[bytes], out: Path) -> float:
    wait(lambda: b"window shown" in out.read_bytes() or proc.poll() is not None, 120, "the window shown")
    t0 = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(120)
    if code != 0:
        raise RuntimeError(f"the app exited {code}: {out.read_text(errors='replace')[-2000:]}")
    return time.perf_counter() - t0


def measure() -> list[Row]:
    section = "runners: an engine that never connects"
    with app_home(1) as home:
        env = bench_env(home, FAKE_DAGGER_JOURNAL_DIR=str(home.parent / "journal"))
        (home.parent / "journal").mkdir()
        base = quit_seconds(app(env, home.parent / "app0.txt"), home.parent / "app0.txt")

        hang = {**env, "FAKE_DAGGER_CONNECT_HANG": "1"}
        out = home.parent / "app1.txt"
        before = sessions(home)
        proc = app(hang, out, "--start", NAME)
        wait(lambda: connecting(home, before), 120, "the runner connecting")
        hung_quit = quit_seconds(proc, out)
        t0 = time.perf_counter()
        wait(lambda: owner(home) is None and not any(alive(p) for p in session_pids(home)), 120,
             "the runner and its session ending")
        gone = hung_quit + time.perf_counter() - t0

        runner = subprocess.Popen([PYTHON, "-m", "cchub_desktop.runner", NAME], env=hang, cwd=REPO,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        before = sessions(home)
        wait(lambda: connecting(home, before), 120, "the lone runner connecting")
        t0 = time.perf_counter()
        stop = subprocess.run([PYTHON, "-m", "cchub_desktop.cli", "stop", NAME, "--timeout", str(STOP_TIMEOUT)],
                              env=env, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
        stop_s = time.perf_counter() - t0
        free_then = owner(home) is None and not any(alive(p) for p in session_pids(home))
        runner.wait(30)
        if stop.returncode != 0:
            raise RuntimeError(f"cchub stop exited {stop.returncode}: {stop.stderr}")
    return [
        Row(section, "SIGTERM to the window while a stack is stuck connecting: the window exits", hung_quit, "s", 1,
            "", f"the same window with nothing running: {base:.2f} s", ratio=hung_quit / base if base else None,
            bar="≤ 3 s", met=hung_quit <= 3),
        Row(section, "… and nothing of the project runs (its runner ended its session and itself)", gone, "s", 1,
            "after the SIGTERM; the runner waits 15 s for a connecting session, then ends it"),
        Row(section, f"`cchub stop --timeout {STOP_TIMEOUT:g}` on a runner stuck connecting: returns", stop_s, "s",
            1, "nothing of the project running when it returned (lease free, session ended)" if free_then
            else "something of the project STILL RUNNING when it returned",
            bar="≤ timeout + 10 s, nothing left", met=free_then and stop_s <= STOP_TIMEOUT + 10),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if os.name != "posix":
        print("runner_exit: POSIX signals only", file=sys.stderr)
        return 0
    print_rows(measure(), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
