"""Cold start and idle RSS of this tree against another git revision of the app and the bare window, launches
interleaved in the same minutes, so a loaded machine slows all three alike.

    .venv/bin/python -m benchmarks.startup_versus [--against main] [--runs N] [--json]

The other revision is `git archive`d into a temporary folder and run with the same interpreter and virtual
environment, its own `benchmarks/first_paint.py` wrapper and `PYTHONPATH` pointing at it (its code, the
packages installed here). Each round launches the three in turn (order reversed every other round), after one
warm-up round; figures as in startup.py (spawn → first paint pass finished; VmRSS 2 s later).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

from benchmarks.common import PYTHON, REPO, Row, app_home, bench_env, median, print_rows, spread
from benchmarks.startup import BAR, PROJECTS, RSS_BAR


def launch(root: Path, target: str, env: dict[str, str], idle: float) -> tuple[float, float]:
    t0 = time.monotonic()
    proc = subprocess.run([PYTHON, str(root / "benchmarks" / "first_paint.py"), target, "--idle", str(idle)],
                          env=env, capture_output=True, text=True, timeout=120, cwd=root)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{root} {target} exited with {proc.returncode}:\n{proc.stderr[-3000:]}")
    data = json.loads(lines[-1])
    return (data["t_painted"] - t0) * 1000, data["rss_kb"] / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--against", default="main", help="git revision to compare with (default: main)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--idle", type=float, default=2.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", args.against], check=True,
                            capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="cchub-versus-") as tmp, app_home(PROJECTS) as home:
        other = Path(tmp)
        archive = other / "tree.tar"
        subprocess.run(["git", "-C", str(REPO), "archive", "-o", str(archive), args.against], check=True)
        with tarfile.open(archive) as tar:
            tar.extractall(other, filter="data")
        env = bench_env(home)
        variants = {"this tree": (REPO, "app", env), f"{args.against} ({commit})": (other, "app",
                    dict(env, PYTHONPATH=str(other))), "bare QMainWindow": (REPO, "bare", env)}
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
        for i in range(args.runs + 1):
            order = list(variants.items()) if i % 2 == 0 else list(reversed(variants.items()))
            for name, (root, target, variant_env) in order:
                figure = launch(root, target, variant_env, args.idle if i else 0.2)
                if i:  # round 0 is the warm-up
                    results[name].append(figure)
    bare = results["bare QMainWindow"]
    rows = []
    for name, values in results.items():
        if name == "bare QMainWindow":
            continue
        for label, j, unit, bar in (("cold start to first window painted", 0, "ms", BAR),
                                    (f"idle RSS {args.idle:g} s after first paint", 1, "MB", RSS_BAR)):
            a, b = [v[j] for v in values], [v[j] for v in bare]
            ratio = median(a) / median(b)
            rows.append(Row("start-up, interleaved", f"{label}: {name}, {PROJECTS} projects", median(a), unit,
                            len(a), spread(a), f"bare QMainWindow {median(b):.0f} {unit} ({spread(b)})", ratio,
                            f"ratio ≤ {bar}", ratio <= bar))
    print_rows(rows, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
