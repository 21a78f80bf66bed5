"""Run every benchmark and print one table (markdown) with the machine it ran on.

    .venv/bin/python -m benchmarks.run_all [--quick] [--out FILE]

Each benchmark runs in a process of its own (`python -m benchmarks.<name> --json`), one after the other,
so none measures another's leftovers. `--quick` does fewer runs (for trying things; not for the README).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import subprocess
import sys
import time

from benchmarks.common import PYTHON, REPO, Row, markdown_table, pycache_dir, rows_from_json

BENCHMARKS: list[tuple[str, list[str], list[str]]] = [
    # (module, arguments, quick arguments)
    ("startup", ["--runs", "7"], ["--runs", "3"]),
    ("scale", ["--runs", "15"], ["--runs", "5"]),
    ("import_memory", ["--runs", "5"], ["--runs", "2"]),
    ("stack_overhead", ["--runs", "5"], ["--runs", "2"]),
    ("loop_lag", ["--cycles", "3"], ["--cycles", "1"]),
    ("loop_lag", ["--cycles", "2", "--nice-engine"], ["--cycles", "1", "--nice-engine"]),
    ("runner_exit", [], []),
    ("db_upgrade_check", ["--runs", "5"], ["--runs", "2", "--rows", "200000"]),
    ("long_lines", ["--runs", "5"], ["--runs", "2"]),
]


def machine() -> str:
    versions = ", ".join(f"{name} {importlib.metadata.version(name)}"
                         for name in ("PySide6-Essentials", "qasync", "dagger-io", "sqlmodel"))
    mem_kb = 0
    try:
        with open("/proc/meminfo") as f:
            mem_kb = int(f.readline().split()[1])
    except OSError:
        pass
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, {mem_kb / 1024 / 1024:.1f} GiB RAM; "
            f"Python {platform.python_version()}; {versions}")


def run(name: str, args: list[str], env: dict[str, str]) -> tuple[list[Row], float]:
    t = time.perf_counter()
    proc = subprocess.run([PYTHON, "-m", f"benchmarks.{name}", "--json", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise SystemExit(f"benchmarks.{name} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return rows_from_json(proc.stdout), time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer runs, for trying things")
    parser.add_argument("--only", action="append", default=[], help="run only this benchmark (repeatable)")
    parser.add_argument("--out", help="also write the report to this file")
    args = parser.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(pycache_dir())
    started = datetime.datetime.now().astimezone()
    load_before = os.getloadavg()
    rows: list[Row] = []
    timings = []
    for name, full, quick in BENCHMARKS:
        if args.only and name not in args.only:
            continue
        print(f"running benchmarks.{name} ...", file=sys.stderr, flush=True)
        got, seconds = run(name, quick if args.quick else full, env)
        rows += got
        timings.append(f"{' '.join([name, *full[2:]])} {seconds:.0f} s")
    load_after = os.getloadavg()
    report = "\n".join([
        f"Run {started:%Y-%m-%d %H:%M %Z}{' (quick)' if args.quick else ''} on {machine()}.",
        f"Load average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after; "
        f"time per benchmark: {', '.join(timings)}.",
        "",
        markdown_table(rows),
    ])
    print(report)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(report + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
