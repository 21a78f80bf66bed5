"""Idle memory, import by import: what each step of the app's imports adds to RSS (`/proc/self/smaps_rollup`)
and to the Python heap (tracemalloc), in the order a launch takes them, next to an empty interpreter; then what a
first write and the first stack add (not loaded while the window is idle).

    .venv/bin/python -m benchmarks.import_memory [--runs N] [--json]

Each run is a fresh process (same interpreter and environment as the start-up benchmark) that imports the steps
one after the other and reads its RSS after each; the figure per step is the median over the runs of what that
step added. tracemalloc is run in a separate process per run (it slows imports down and its own bookkeeping
would count in RSS); its figure is the Python objects still allocated after the step, i.e. what the import
keeps. "Engine check" is what the window's check costs when read back from `cchub doctor --json` (engine_check.py:
the report's data classes); the doctor itself (`run_doctor`: httpx, anyio) is listed for comparison, as it
runs in that process of its own, not in the window.
"""

from __future__ import annotations

import argparse
import json
import subprocess

from benchmarks.common import PYTHON, REPO, Row, app_home, bench_env, median, print_rows, spread

STEPS: list[tuple[str, str]] = [
    ("PySide6.QtWidgets (the bare window's imports)", "import PySide6.QtWidgets; "
     "from cchub_desktop.ui import pyside_source_scan; pyside_source_scan.install()"),
    ("the first-paint path (ui/first_window.py: rows.py, main window, single instance)",
     "import cchub_desktop.ui.first_window"),
    ("asyncio (with ssl) and qasync: the loop", "import asyncio, qasync"),
    ("the store (store.project_store: its reads are sqlite3's)", "import cchub_desktop.store.project_store"),
    ("the stack package and the orchestrator", "import cchub_desktop.orchestrator"),
    ("app.py, tray, bridge, database recovery (the rest of the app)",
     "import cchub_desktop.app, cchub_desktop.ui.tray_integration, cchub_desktop.ui.db_recovery"),
    ("engine check at launch (engine_check.py: the doctor's report read back)", "import cchub_desktop.engine_check"),
    ("not imported while idle, at the first write (add, edit, remove): SQLAlchemy", "import sqlalchemy"),
    ("… pydantic", "import pydantic"),
    ("… SQLModel and the model (store.models)", "import sqlmodel, cchub_desktop.store.models"),
    ("for comparison, not in the window: the doctor itself, run once (run_doctor: httpx, anyio), as the "
     "`cchub doctor` process the window starts runs it",
     "import asyncio; from cchub_desktop.stack import run_doctor; from cchub_desktop.settings import AppSettings; "
     "asyncio.run(run_doctor(AppSettings()))"),
    ("for comparison, not imported while idle: the Dagger SDK", "import dagger"),
]

PROBE = """
import json, sys, gc
TRACE = sys.argv[1] == "trace"
if TRACE:
    import tracemalloc
    tracemalloc.start()
def rss():
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                return int(line.split()[1]) / 1024
def heap():
    gc.collect()
    return tracemalloc.get_traced_memory()[0] / 2**20 if TRACE else 0.0
steps = json.loads(sys.argv[2])
out = [(rss(), heap(), len(sys.modules))]
for code in steps:
    exec(code, {})
    out.append((rss(), heap(), len(sys.modules)))
print(json.dumps(out))
"""


def one_run(mode: str, env: dict[str, str]) -> list[tuple[float, float, int]]:
    proc = subprocess.run([PYTHON, "-c", PROBE, mode, json.dumps([code for _n, code in STEPS])], env=env,
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f"the import probe failed:\n{proc.stderr[-3000:]}")
    return [(float(a), float(b), int(c)) for a, b, c in json.loads(proc.stdout.strip().splitlines()[-1])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with app_home(0) as home:
        env = bench_env(home)
        one_run("rss", env)  # warm-up: byte code written, files in the page cache
        rss_runs = [one_run("rss", env) for _ in range(args.runs)]
        heap_runs = [one_run("trace", env) for _ in range(max(1, args.runs // 2))]
    rows = [Row("idle memory by import", "empty interpreter (python -c pass)", median([r[0][0] for r in rss_runs]),
                "MB", len(rss_runs), spread([r[0][0] for r in rss_runs]))]
    for i, (name, _code) in enumerate(STEPS, start=1):
        added = [r[i][0] - r[i - 1][0] for r in rss_runs]
        total = [r[i][0] for r in rss_runs]
        heap = median([h[i][1] - h[i - 1][1] for h in heap_runs])
        modules = rss_runs[0][i][2] - rss_runs[0][i - 1][2]
        rows.append(Row("idle memory by import", f"+ {name}", median(added), "MB", len(added), spread(added),
                        f"RSS after it {median(total):.1f} MB; Python heap kept +{heap:.1f} MB; "
                        f"+{modules} modules"))
    print_rows(rows, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
