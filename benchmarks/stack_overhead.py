"""Hub overhead per stack start, GraphQL round trips per start, and the cost of one running stack's Dagger
session (its CLI process), against the fake engine.

    .venv/bin/python -m benchmarks.stack_overhead [--runs N] [--json]

One project is started and stopped `--runs` times through the Orchestrator (what the window and `cchub up`
use) on a plain asyncio loop, after one warm-up start (which imports the SDK; reported apart). Per start:

- wall: start requested → running (healthy over HTTP);
- app CPU: this process's CPU time over the start, all threads (the SDK's threads included) — the Hub's
  own cost, since the engine is another process;
- engine time: from the fake engine's journal, the union of the intervals in which it was answering a
  GraphQL request, plus the session start (start requested → first request), which for the fake CLI is a
  Python process starting (the real CLI is a Go binary);
- Hub wall overhead = wall − engine time: client-side work and waits (health checks, thread hops);
- round trips: GraphQL requests the session received during the start, by top-level field;
- engine CPU: the session process's CPU (counted once it has exited and been reaped);
- session RSS/PSS: of the running session process (the fake CLI: a lower bound for a real one).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import time
from collections import Counter
from pathlib import Path

from benchmarks.common import REPO, Row, app_home, bench_env, median, print_rows, proc_status_kb, pss_kb, spread

sys.path.insert(0, str(REPO / "tests"))  # the fake engine's journal reader


def union_seconds(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def measure(runs: int, home: Path, journal_dir: Path) -> dict[str, object]:
    from fake_dagger.journal import Journal

    from benchmarks.loop_lag import free_ports
    from cchub_desktop.orchestrator import Orchestrator
    from cchub_desktop.paths import app_paths
    from cchub_desktop.settings import AppSettings
    from cchub_desktop.store import ProjectStatus, ProjectStore

    paths = app_paths()
    paths.ensure()
    store = ProjectStore(paths.db_file)
    folder = home.parent / "project"
    folder.mkdir()
    (folder / "README.md").write_text("bench\n")
    b, f, p, r = free_ports(4, set())
    project = store.add("Bench", folder, backend_port=b, frontend_port=f, postgres_port=p, redis_port=r)
    assert project.id is not None
    pid = project.id
    orch = Orchestrator(store, AppSettings.load(paths.settings_file), paths)
    orch.reconcile_on_launch()
    journal = Journal(journal_dir)
    per_run: list[dict[str, float]] = []
    fields: Counter[str] = Counter()
    for run in range(runs + 1):
        seen = {s.pid for s in journal.sessions()}
        app_rss0 = proc_status_kb("self", "VmRSS") / 1024
        child0, cpu0, wall0, t0 = children_cpu(), time.process_time(), time.time(), time.perf_counter()
        await orch.start(pid)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        if orch.state(pid) != ProjectStatus.RUNNING:
            raise RuntimeError(f"the stack did not start: {orch.message(pid)}")
        session = next(s.pid for s in journal.sessions() if s.pid not in seen)
        rss, pss = proc_status_kb(session, "VmRSS") / 1024, pss_kb(session) / 1024
        app_rss = proc_status_kb("self", "VmRSS") / 1024 - app_rss0
        requests = [q for q in journal.requests(pid=session) if q["ts"] <= wall0 + wall]
        first = min(q["ts"] - q["ms"] / 1000 for q in requests)
        engine_busy = union_seconds([(q["ts"] - q["ms"] / 1000, q["ts"]) for q in requests])
        await orch.stop(pid)
        journal.wait_sessions_exited(10, [session])
        child_cpu = children_cpu() - child0
        if run == 0:
            cold = {"wall": wall, "cpu": cpu, "app_rss": app_rss}
            continue
        fields.update(field for q in requests for field in q["fields"])
        session_start = first - wall0
        per_run.append({"wall": wall * 1000, "cpu": cpu * 1000, "engine": (engine_busy + session_start) * 1000,
                        "session_start": session_start * 1000, "requests": float(len(requests)),
                        "engine_cpu": child_cpu * 1000, "rss": rss, "pss": pss, "app_rss": app_rss})
    await orch.aclose()
    store.close()
    return {"runs": per_run, "cold": cold, "fields": dict(fields)}


def rows(r: dict[str, object]) -> list[Row]:
    runs = r["runs"]
    cold = r["cold"]
    fields = r["fields"]
    assert isinstance(runs, list) and isinstance(cold, dict) and isinstance(fields, dict)
    n = len(runs)

    def col(key: str) -> list[float]:
        return [float(x[key]) for x in runs]

    overhead = [x["wall"] - x["engine"] for x in runs]
    per_start = ", ".join(f"{k} {v / n:g}" for k, v in sorted(fields.items(), key=lambda kv: -kv[1]))
    s = "stack start"
    return [
        Row(s, "start wall time (requested → healthy), fake engine", median(col("wall")), "ms", n,
            spread(col("wall"))),
        Row(s, "of which engine: session start + engine answering requests", median(col("engine")), "ms", n,
            spread(col("engine")), f"session start {median(col('session_start')):.0f} ms"),
        Row(s, "Hub overhead, wall (start wall − engine)", median(overhead), "ms", n, spread(overhead)),
        Row(s, "Hub overhead, CPU of the app process (all threads)", median(col("cpu")), "ms", n,
            spread(col("cpu"))),
        Row(s, "first start after launch (imports the Dagger SDK): wall / app CPU", float(cold["wall"]) * 1000,
            "ms", 1, f"CPU {float(cold['cpu']) * 1000:.0f} ms"),
        Row(s, "GraphQL round trips per start", median(col("requests")), "requests", n, spread(col("requests")),
            note=f"per start: {per_start}"),
        Row(s, "engine CPU per start+stop (fake CLI process)", median(col("engine_cpu")), "ms", n,
            spread(col("engine_cpu"))),
        Row("session", "one running stack's Dagger session process, RSS (fake CLI: a lower bound)",
            median(col("rss")), "MB", n, spread(col("rss")), f"PSS {median(col('pss')):.0f} MB"),
        Row("session", "the app's own RSS growth while one stack runs (SDK already loaded)", median(col("app_rss")),
            "MB", n, spread(col("app_rss")),
            f"first start, loading the SDK: +{float(cold['app_rss']):.0f} MB"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with app_home(0, with_folders=False) as home:
        os.environ.update(bench_env(home))
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        journal_dir = home.parent / "journal"  # removed with the home
        os.environ["FAKE_DAGGER_JOURNAL_DIR"] = str(journal_dir)
        result = asyncio.run(measure(args.runs, home, journal_dir))
    print_rows(rows(result), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
