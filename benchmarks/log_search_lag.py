"""Does an active log search cost the event loop? loop_lag with and without a term in the log pane's find bar,
run alternately in the same invocation (fresh app process each), figures side by side with their ratio.

    .venv/bin/python -m benchmarks.log_search_lag [--rounds N] [--cycles N] [--json]

The search term "tick" matches the fake engine's heartbeat lines of three of its four services, so nearly every
line of the 2,000 lines/s flood is highlighted as it arrives. Budget: the lag figures move by at most 10 %.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from benchmarks.common import PYTHON, REPO, Row, fmt, median, print_rows, rows_from_json, spread

TERM = "tick"
BUDGET = 1.10


def one_run(cycles: int, search: bool) -> dict[str, float]:
    cmd = [str(PYTHON), "-m", "benchmarks.loop_lag", "--cycles", str(cycles), "--json"]
    if search:
        cmd += ["--search", TERM]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr[-2000:]}")
    rows = rows_from_json(done.stdout)
    return {"p99": rows[0].value, "max": rows[1].value}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cycles", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    plain: list[dict[str, float]] = []
    searching: list[dict[str, float]] = []
    for _ in range(args.rounds):  # alternate, so a change in machine load hits both alike
        plain.append(one_run(args.cycles, search=False))
        searching.append(one_run(args.cycles, search=True))
    section = "event loop, log search active (2,000 lines/s into the pane)"
    out = []
    for key in ("p99", "max"):
        base = [r[key] for r in plain]
        with_search = [r[key] for r in searching]
        ratio = median(with_search) / median(base) if median(base) else None
        out.append(Row(section, f"event-loop lag {key} with {TERM!r} in the find bar", median(with_search), "ms",
                       len(with_search), spread(with_search), f"no search, same run: {fmt(median(base))} ms "
                       f"({spread(base)})", ratio, bar="ratio ≤ 1.10",
                       met=ratio is not None and ratio <= BUDGET))
    print_rows(out, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
