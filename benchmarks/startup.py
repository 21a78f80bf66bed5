"""Cold start to first window painted, and idle RSS after start-up: the app (100 projects in its database)
against a bare PySide6 QMainWindow, both started the same way (see first_paint.py), alternating, same run;
beside them two floors: the bare window with one label (the least any window showing text costs) and a
minimal window showing the same rows.
Then the second launch: with the app running, the wall time of `python -m cchub_desktop` handing over to it.

    .venv/bin/python -m benchmarks.startup [--runs N] [--idle SECONDS] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import PYTHON, REPO, Row, app_home, bench_env, median, print_rows, spread

WRAPPER = REPO / "benchmarks" / "first_paint.py"
PROJECTS = 100
BAR = 1.3       # first paint (issue: ≤ 1.3x the bare window)
RSS_BAR = 1.5   # idle memory (issue: ≤ 1.5x, goal 1.3x)
SECOND_LAUNCH_BAR = 0.5  # of the bare window's cold start: a small fraction of the app's own first launch
TARGETS = ("app", "bare", "label", "table")   # first_paint.py's programs


@dataclass
class Launch:
    painted_ms: float      # spawn -> the first paint pass of the main window has finished
    qapp_ms: float         # spawn -> QApplication created (interpreter start-up and imports)
    rss_mb: float
    pss_mb: float


def launch(target: str, env: dict[str, str], idle: float) -> Launch:
    t0 = time.monotonic()
    proc = subprocess.run([PYTHON, str(WRAPPER), target, "--idle", str(idle), "--db", str(database(env))],
                          env=env, capture_output=True, text=True, timeout=120, cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f"{target} exited with {proc.returncode}:\n{proc.stderr[-3000:]}")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"{target} printed no measurement:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    data = json.loads(lines[-1])
    return Launch(painted_ms=(data["t_painted"] - t0) * 1000, qapp_ms=(data["t_qapp"] - t0) * 1000,
                  rss_mb=data["rss_kb"] / 1024, pss_mb=data["pss_kb"] / 1024)


def database(env: dict[str, str]) -> Path:
    """The app's database under the benchmark's home (the `table` window reads the same rows)."""
    from cchub_desktop.paths import HOME_ENV, app_paths

    old = os.environ.get(HOME_ENV)
    os.environ[HOME_ENV] = env[HOME_ENV]
    try:
        return app_paths().db_file
    finally:
        if old is None:
            os.environ.pop(HOME_ENV, None)
        else:
            os.environ[HOME_ENV] = old


def measure(runs: int, idle: float, home: Path) -> dict[str, list[Launch]]:
    env = bench_env(home)
    for target in TARGETS:  # warm-up: byte code written, files in the page cache
        launch(target, env, 0.2)
    results: dict[str, list[Launch]] = {target: [] for target in TARGETS}
    for i in range(runs):
        order = TARGETS[i % len(TARGETS):] + TARGETS[:i % len(TARGETS)]   # each goes first in turn
        for target in order:
            results[target].append(launch(target, env, idle))
    return results


def second_launches(runs: int, home: Path) -> list[float]:
    """Wall time of a second `python -m cchub_desktop` (spawn → exit 0) while the app runs on `home`."""
    env = bench_env(home)
    first = subprocess.Popen([PYTHON, "-m", "cchub_desktop", "--no-engine-check"], env=env, cwd=REPO,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert first.stderr is not None
        for line in first.stderr:  # the app logs this once its window is up and it listens
            if "window shown" in line:
                break
        else:
            raise RuntimeError(f"the first app exited with {first.wait()} before its window showed")
        out = []
        for i in range(runs + 1):
            t0 = time.monotonic()
            second = subprocess.run([PYTHON, "-m", "cchub_desktop"], env=env, cwd=REPO, capture_output=True,
                                    text=True, timeout=60)
            if second.returncode != 0 or "already running" not in second.stderr:
                raise RuntimeError(f"the second launch did not hand over ({second.returncode}): {second.stderr}")
            if i:  # the first one is the warm-up
                out.append((time.monotonic() - t0) * 1000)
        return out
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)


def second_launch_row(values: list[float], bare: list[Launch], app: list[Launch]) -> Row:
    bare_ms = median([x.painted_ms for x in bare])
    ratio = median(values) / bare_ms
    return Row("start-up", "second launch, handing over to the running app (spawn → exit 0)", median(values), "ms",
               len(values), spread(values),
               f"bare QMainWindow cold start {bare_ms:.0f} ms; app's first launch "
               f"{median([x.painted_ms for x in app]):.0f} ms", ratio, f"ratio ≤ {SECOND_LAUNCH_BAR}",
               ratio <= SECOND_LAUNCH_BAR)


def rows(results: dict[str, list[Launch]], idle: float) -> list[Row]:
    app, bare = results["app"], results["bare"]
    n = len(app)
    out = []
    for label, attr, unit in (("cold start to first window painted", "painted_ms", "ms"),
                              (f"idle RSS {idle:g} s after first paint", "rss_mb", "MB")):
        a = [getattr(x, attr) for x in app]
        b = [getattr(x, attr) for x in bare]
        ratio = median(a) / median(b)
        bar = BAR if attr == "painted_ms" else RSS_BAR
        out.append(Row("start-up", f"{label}: app, {PROJECTS} projects", median(a), unit, n, spread(a),
                       f"bare QMainWindow {median(b):.0f} {unit} ({spread(b)})", ratio, f"ratio ≤ {bar}",
                       ratio <= bar))
    label = results.get("label", [])
    if label:   # what showing any text costs: the first text paint loads fonts (no window with words is cheaper)
        for what, attr, unit in (("first paint", "painted_ms", "ms"),
                                 (f"idle RSS {idle:g} s after the first paint", "rss_mb", "MB")):
            t = [getattr(x, attr) for x in label]
            b = [getattr(x, attr) for x in bare]
            a = [getattr(x, attr) for x in app]
            out.append(Row("start-up", f"text floor: {what} of the bare window with one QLabel (first_paint.py label)",
                           median(t), unit, len(t), spread(t), f"bare QMainWindow {median(b):.0f} {unit}; the app "
                           f"{median(a):.0f} {unit} is {median(a) / median(t):.2f}x this", median(t) / median(b)))
    table = results.get("table", [])
    if table:
        t = [x.painted_ms for x in table]
        b = [x.painted_ms for x in bare]
        a = [x.painted_ms for x in app]
        out.append(Row("start-up", f"floor: a minimal PySide6 window showing the same {PROJECTS} rows (first_paint.py "
                       "table)", median(t), "ms", len(t), spread(t), f"bare QMainWindow {median(b):.0f} ms; the app "
                       f"{median(a):.0f} ms is {median(a) / median(t):.2f}x this", median(t) / median(b)))
        t = [x.rss_mb for x in table]
        b = [x.rss_mb for x in bare]
        a = [x.rss_mb for x in app]
        out.append(Row("start-up", f"floor: idle RSS {idle:g} s after the first paint of that window", median(t),
                       "MB", len(t), spread(t), f"bare QMainWindow {median(b):.0f} MB; the app {median(a):.0f} MB "
                       f"is {median(a) / median(t):.2f}x this", median(t) / median(b)))
    qa = [x.qapp_ms for x in app]
    qb = [x.qapp_ms for x in bare]
    out.append(Row("start-up", "of which spawn → QApplication created (interpreter + imports): app", median(qa),
                   "ms", n, spread(qa), f"bare {median(qb):.0f} ms ({spread(qb)})", median(qa) / median(qb)))
    rest_a = [x.painted_ms - x.qapp_ms for x in app]
    rest_b = [x.painted_ms - x.qapp_ms for x in bare]
    out.append(Row("start-up", "of which QApplication → window painted (DB, window, tray, loop): app",
                   median(rest_a), "ms", n, spread(rest_a), f"bare {median(rest_b):.0f} ms ({spread(rest_b)})",
                   median(rest_a) / median(rest_b)))
    pa = [x.pss_mb for x in app]
    pb = [x.pss_mb for x in bare]
    out.append(Row("start-up", "idle PSS (shared pages split): app", median(pa), "MB", n, spread(pa),
                   f"bare {median(pb):.0f} MB ({spread(pb)})", median(pa) / median(pb)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--idle", type=float, default=2.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with app_home(PROJECTS) as home:
        results = measure(args.runs, args.idle, home)
        seconds = second_launches(args.runs, home)
    print_rows([*rows(results, args.idle), second_launch_row(seconds, results["bare"], results["app"])], args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
