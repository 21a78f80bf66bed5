"""Event-loop lag of the app while 10 stacks start and stop concurrently against the fake engine (each session
its own process, as with the real CLI) and one more project streams 2,000 log lines/s into the log view.

    .venv/bin/python -m benchmarks.loop_lag [--cycles N] [--json]

The app is built as app.py builds it (AppController, DesktopIntegration, MainWindow, offscreen Qt, qasync loop)
on a fresh app home with 11 projects on free ports. The "stream" project starts first with the fake engine's
log knobs at 25 lines × 4 services every 50 ms and is selected in the window, so its log view takes the flood;
the 10 others then start together (as "Start all" does) and stop together, `--cycles` times, with the engine's
default log rate. A LagMonitor (10 ms precise timer) records the loop's lateness over the start/stop cycles;
a bare QApplication running only the same monitor (lag_probe.py) records next to it as the machine's baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import PYTHON, REPO, Row, app_home, bench_env, fmt, median, print_rows, spread

CYCLING = 10
LOG_KNOBS = {"FAKE_DAGGER_LOG_INTERVAL": "0.05", "FAKE_DAGGER_LOG_LINES": "25"}  # 4 services: 2,000 lines/s
P99_BAR, MAX_BAR = 16.0, 50.0
PORT_RANGE = (10000, 19999)


def free_ports(n: int, taken: set[int]) -> list[int]:
    from cchub_desktop.ports import is_port_free

    rng = random.Random()
    picked: list[int] = []
    while len(picked) < n:
        port = rng.randrange(*PORT_RANGE)
        if port not in taken and port not in picked and is_port_free(port):
            picked.append(port)
    taken.update(picked)
    return picked


async def wait_until(cond: Callable[[], bool], timeout: float, what: str) -> float:
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not cond():
        if loop.time() - start > timeout:
            raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")
        await asyncio.sleep(0.02)
    return loop.time() - start


class BareProbe:
    """lag_probe.py in a subprocess, recording while the app is measured."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([PYTHON, "-m", "benchmarks.lag_probe"], env=env, cwd=REPO,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the bare lag probe did not start")

    def finish(self) -> dict[str, float]:
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=30)
        if self.proc.returncode != 0:
            raise RuntimeError(f"the bare lag probe exited with {self.proc.returncode}")
        summary: dict[str, float] = json.loads(out.strip().splitlines()[-1])
        return summary


@dataclass
class Options:
    cycles: int = 3
    flood: bool = True
    hold: float = 0.0
    nice_engine: bool = False
    stalls: bool = False
    sessions_off_loop: bool = False
    search: str = ""  # a term typed into the log pane's find bar (Ctrl+F) before the flood


@dataclass
class LagResult:
    app: dict[str, float]
    idle: dict[str, float]
    bare: dict[str, float]
    lines_per_s: float
    wall_s: float
    cpu_s: float
    start_s: list[float]
    stop_s: list[float]
    failures: list[str]
    stream_ok: bool
    shown_blocks: int
    exit_code: int
    starting_ms: list[float]     # click Start -> the row shows Starting; the first is the app's first Start
    rss_idle_kb: int = 0
    rss_running_kb: int = 0      # the window with the 10 stacks (and the stream) running
    runner_rss_kb: list[int] | None = None


def rss_kb(pid: int | None = None) -> int:
    """Resident memory of a process (this one by default), from /proc; 0 where there is no /proc."""
    try:
        text = Path(f"/proc/{pid or 'self'}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def click_start(bridge: object, window: object, pid: int) -> float:
    """bridge.start as the Start button does; milliseconds until the window's row shows Starting."""
    from cchub_desktop.store import ProjectStatus

    t0 = time.perf_counter()
    bridge.start(pid)  # type: ignore[attr-defined]
    while True:
        row = window.model.row_of(pid)  # type: ignore[attr-defined]
        if row is not None and window.model.rows()[row].status == ProjectStatus.STARTING:  # type: ignore[attr-defined]
            return 1000 * (time.perf_counter() - t0)
        if time.perf_counter() - t0 > 10:
            raise TimeoutError("the row did not show Starting within 10 s")
        await asyncio.sleep(0)


def seed_projects(home: Path) -> None:
    """The stream project and the 10 cycling ones, on free ports, each with a small folder."""
    from cchub_desktop.paths import app_paths
    from cchub_desktop.store import ProjectStore

    paths = app_paths()
    paths.ensure()
    store = ProjectStore(paths.db_file)
    taken: set[int] = set()
    for name in ["stream", *(f"cycle-{i:02d}" for i in range(CYCLING))]:
        folder = home.parent / "projects" / name
        folder.mkdir(parents=True)
        (folder / "README.md").write_text(f"{name}\n")
        backend, frontend, postgres, redis = free_ports(4, taken)
        store.add(name, folder, backend_port=backend, frontend_port=frontend, postgres_port=postgres,
                  redis_port=redis)
    store.close()


async def scenario(opts: Options, probe_env: dict[str, str]) -> LagResult:
    """The app as launched (app.run_app: single instance, database, window, tray, engine check, settling),
    driven through its window's bridge like the toolbar and the tray menu do; quit by SIGTERM."""
    from PySide6.QtWidgets import QApplication

    from benchmarks.lag_monitor import LagMonitor
    from cchub_desktop.app import parse_args, run_app
    from cchub_desktop.store import ProjectStatus
    from cchub_desktop.ui.main_window import MainWindow

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    if opts.sessions_off_loop:
        from benchmarks.sessions_off_loop import install

        install()
    app_task = asyncio.ensure_future(run_app(app, parse_args([])))

    def shown_window() -> MainWindow | None:
        found = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        return found[0] if found else None

    await wait_until(lambda: shown_window() is not None or app_task.done(), 60, "the main window shown")
    window = shown_window()
    if window is None:
        raise RuntimeError(f"the app ended before its window showed: {app_task.result()}")
    # the window paints first and gets its orchestrator a moment later (paint-first start-up)
    await wait_until(lambda: window.attached or app_task.done(), 60, "the window attached to its orchestrator")
    orch, bridge = window.orchestrator, window.bridge
    ids = {row.project.name: row.project_id for row in window.model.rows()}
    stream, cycling = ids["stream"], [pid for name, pid in ids.items() if name != "stream"]
    window.select_project(stream)
    if opts.search:
        window.log_view.find_bar.open_bar()
        window.log_view.find_bar.edit.setText(opts.search)  # every matching line of the flood is highlighted
        window.log_view.follow.setChecked(True)  # keep following, as a user watching the flood would
    monitor = LagMonitor()
    monitor.start()
    sampler = None
    if opts.stalls:
        from benchmarks.stall_sampler import StallSampler

        sampler = StallSampler(monitor)
        sampler.start()
    S = ProjectStatus

    def all_in(pids: list[int], states: set[ProjectStatus]) -> Callable[[], bool]:
        return lambda: all(orch.state(p) in states for p in pids)

    # reference: the window shown, nothing running (after the app has settled)
    await asyncio.sleep(2.5)
    monitor.recording = True
    await asyncio.sleep(2.0)
    monitor.recording = False
    idle = monitor.summary()
    monitor.samples.clear()
    rss_idle = rss_kb()
    starting_ms: list[float] = []

    if opts.flood:
        os.environ.update(LOG_KNOBS)  # read by the session process when it starts: this project only
    starting_ms.append(await click_start(bridge, window, stream))   # the app's first Start
    await wait_until(all_in([stream], {S.RUNNING, S.ERROR}), 120, "the stream project running")
    for knob in LOG_KNOBS:
        os.environ.pop(knob, None)
    if orch.state(stream) != S.RUNNING:
        raise RuntimeError(f"the stream project failed: {orch.message(stream)}")
    log = orch.log(stream)
    await asyncio.sleep(1.0)  # the flood is on

    probe = await asyncio.to_thread(BareProbe, probe_env)
    await asyncio.sleep(0.1)  # the monitor ticks again before recording starts
    cursor0, t0, cpu0 = log.lines()[0], time.perf_counter(), time.process_time()
    monitor.recording = True
    start_s: list[float] = []
    stop_s: list[float] = []
    failures: list[str] = []
    await asyncio.sleep(opts.hold)
    rss_running = 0
    runner_rss: list[int] = []
    for _ in range(opts.cycles):
        t_start = time.perf_counter()
        for pid in cycling:
            starting_ms.append(await click_start(bridge, window, pid))
        await wait_until(all_in(cycling, {S.RUNNING, S.ERROR}), 300, "10 stacks running")
        start_s.append(time.perf_counter() - t_start)
        if not rss_running:
            rss_running = rss_kb()
            runs = getattr(orch, "_runs", {})
            runner_rss = [rss_kb(run.pid) for run in runs.values() if run.pid]
        failures += [f"{p}: {orch.message(p)}" for p in cycling if orch.state(p) == S.ERROR]
        for pid in cycling:
            bridge.stop(pid)
        stop_s.append(await wait_until(all_in(cycling, {S.STOPPED, S.ERROR}), 120, "10 stacks stopped"))
    monitor.recording = False
    if sampler is not None:
        sampler.stop()
        print(sampler.report(), file=sys.stderr)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    lines = log.lines()[0] - cursor0
    bare = await asyncio.to_thread(probe.finish)
    shown_blocks = window.log_view.text.blockCount()
    stream_ok = orch.state(stream) == S.RUNNING

    monitor.stop()
    os.kill(os.getpid(), signal.SIGTERM)  # quit as a session end does: every stack stops, exit code 0
    code = await app_task
    return LagResult(monitor.summary(), idle, bare, lines / wall, wall, cpu, start_s, stop_s, failures, stream_ok,
                     shown_blocks, code, starting_ms, rss_idle, rss_running, runner_rss)


def home_runtime() -> Path:
    from cchub_desktop.paths import app_paths

    return app_paths().runtime_dir


def _lease_free(lock: Path) -> bool:
    """Nobody holds this lock file's lease (its runner has ended): the home can go."""
    from cchub_desktop.lease import owner_of

    return owner_of(lock.parent.parent, lock.stem) is None


def run(opts: Options) -> LagResult:
    import qasync
    from PySide6.QtWidgets import QApplication

    with app_home(0, with_folders=False) as home:
        env = bench_env(home)
        os.environ.update(env)  # this process is the app: its home, offscreen Qt, the fake engine as the CLI
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        if opts.nice_engine:
            os.environ["_EXPERIMENTAL_DAGGER_CLI_BIN"] = str(REPO / "benchmarks" / "nice_dagger")
        os.environ["FAKE_DAGGER_JOURNAL_DIR"] = str(home.parent / "journal")  # removed with the home
        seed_projects(home)
        app = QApplication.instance() or QApplication(sys.argv[:1])
        with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
            result = runner.run(scenario(opts, env))
        # the runners finish stopping their stacks after the app has quit: wait for them before the home goes
        leases = list(home_runtime().glob("leases/*.lock"))
        deadline = time.monotonic() + 120
        while not all(_lease_free(p) for p in leases) and time.monotonic() < deadline:
            time.sleep(0.1)
        return result


def rows(r: LagResult, opts: Options) -> list[Row]:
    app, bare, idle = r.app, r.bare, r.idle
    section = ("event loop" + (", engine at nice 19" if opts.nice_engine else "")
               + (f", log search for {opts.search!r} active" if opts.search else "")
               + (", EXPERIMENT: sessions off the UI thread" if opts.sessions_off_loop else ""))
    what = "10 stacks start+stop concurrently" + (", 2,000 lines/s into the log view" if opts.flood else "")
    late = (f"{int(app['over_16'])} samples > 16 ms, {int(app['over_50'])} > 50 ms; in late ticks the loop's "
            f"thread ran {100 * app['late_busy_share']:.0f}% of the time, waited the rest (GIL, CPU)")
    rows = [
        Row(section, f"event-loop lag p99: {what}", app["p99"], "ms", 1, f"p50 {fmt(app['p50'])} ms",
            f"bare Qt loop, same moments: p99 {fmt(bare['p99'])} ms", bar=f"≤ {P99_BAR:g} ms",
            met=app["p99"] <= P99_BAR, note=f"{int(app['samples'])} samples of a 10 ms timer"),
        Row(section, "event-loop lag max (same run)", app["max"], "ms", 1, late,
            f"bare Qt loop: max {fmt(bare['max'])} ms", bar=f"≤ {MAX_BAR:g} ms", met=app["max"] <= MAX_BAR),
    ]
    if opts.nice_engine or opts.sessions_off_loop or opts.search:
        return rows
    return [
        *rows,
        Row(section, "event-loop lag with the window idle (p99 / max)", idle["p99"], "ms", 1,
            f"max {fmt(idle['max'])} ms"),
        Row(section, "log lines/s into the selected project's log view", r.lines_per_s, "lines/s", 1,
            f"view holds {r.shown_blocks} lines (bounded)"),
        Row(section, "10 concurrent starts until all running", median(r.start_s), "s", len(r.start_s),
            spread(r.start_s)),
        Row(section, "10 concurrent stops until all stopped", median(r.stop_s), "s", len(r.stop_s),
            spread(r.stop_s)),
        Row(section, "app process CPU during the cycles (all its threads)", 100 * r.cpu_s / r.wall_s,
            "% of one core", 1, f"over {r.wall_s:.1f} s"),
        Row(section, "click Start -> the row shows Starting (the app's first Start)", r.starting_ms[0], "ms", 1,
            "", bar="≤ 50 ms", met=r.starting_ms[0] <= 50),
        Row(section, "click Start -> the row shows Starting (every other Start)", median(r.starting_ms[1:]), "ms",
            len(r.starting_ms) - 1, f"max {fmt(max(r.starting_ms[1:]))} ms", bar="≤ 50 ms",
            met=max(r.starting_ms[1:]) <= 50),
        Row(section, "window RSS with 11 stacks running", r.rss_running_kb / 1024, "MB", 1, "",
            f"the same window idle: {r.rss_idle_kb / 1024:.0f} MB",
            ratio=r.rss_running_kb / r.rss_idle_kb if r.rss_idle_kb else None, bar="≤ 1.2× idle",
            met=bool(r.rss_idle_kb) and r.rss_running_kb <= 1.2 * r.rss_idle_kb),
        *([Row(section, "each runner's RSS (the SDK loaded, its stack running)",
               median([float(k) for k in r.runner_rss_kb]) / 1024, "MB", len(r.runner_rss_kb),
               f"max {max(r.runner_rss_kb) / 1024:.0f} MB")] if r.runner_rss_kb else []),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--stalls", action="store_true",
                        help="print where the loop's thread was while the loop was late, and GC pauses")
    parser.add_argument("--no-flood", action="store_true", help="the stream project logs at the default rate")
    parser.add_argument("--hold", type=float, default=0.0, help="seconds to record before the cycles")
    parser.add_argument("--nice-engine", action="store_true",
                        help="run the fake engine's processes at nice 19 (the app's own lag, CPUs not saturated)")
    parser.add_argument("--sessions-off-loop", action="store_true",
                        help="experiment: run every Dagger session on a worker thread (sessions_off_loop.py)")
    parser.add_argument("--search", default="", metavar="TEXT",
                        help="type TEXT into the log pane's find bar first (matches highlighted as lines arrive)")
    args = parser.parse_args(argv)
    opts = Options(args.cycles, not args.no_flood, args.hold, args.nice_engine, args.stalls, args.sessions_off_loop,
                   args.search)
    result = run(opts)
    if result.failures or not result.stream_ok or result.exit_code != 0:
        print(f"run not valid: failed starts {result.failures}, stream running: {result.stream_ok}, "
              f"app exit code {result.exit_code}", file=sys.stderr)
        return 1
    print_rows(rows(result, opts), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
