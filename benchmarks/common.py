"""What every benchmark shares: statistics, result rows, seeded project databases, process measurements.

A benchmark module prints its rows as JSON with `--json` (run_all collects them) or as a table otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FAKE_CLI = REPO / "tests" / "fake_dagger" / "dagger"
PYTHON = sys.executable


# ----- statistics -------------------------------------------------------------------------------------------

def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of the values: an observed value, never an interpolation."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n*q/100), at least 1
    return ordered[int(rank) - 1]


def spread(values: Sequence[float]) -> str:
    """min–max of the runs, the honest spread for a handful of runs."""
    if not values:
        return "n/a"
    return f"{fmt(min(values))}–{fmt(max(values))}"


def fmt(value: float) -> str:
    if value != value:  # NaN
        return "n/a"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


# ----- results ----------------------------------------------------------------------------------------------

@dataclass
class Row:
    """One line of a result table: a figure (median of runs), its spread, a baseline and a bar."""

    section: str
    name: str
    value: float
    unit: str
    runs: int = 1
    spread: str = ""
    baseline: str = ""
    ratio: float | None = None
    bar: str = ""
    met: bool | None = None   # None: reported, no bar
    note: str = ""
    extra: dict[str, float | str] = field(default_factory=dict)

    def verdict(self) -> str:
        return "" if self.met is None else ("met" if self.met else "NOT met")


def print_rows(rows: Iterable[Row], as_json: bool) -> None:
    rows = list(rows)
    if as_json:
        print(json.dumps([asdict(r) for r in rows]))
        return
    print(markdown_table(rows))


def markdown_table(rows: Sequence[Row]) -> str:
    head = "| benchmark | figure (median) | spread | baseline | ratio | bar | verdict |"
    lines = [head, "|---|---|---|---|---|---|---|"]
    notes = []
    section = None
    for r in rows:
        if r.section != section:
            section = r.section
            lines.append(f"| **{section}** |  |  |  |  |  |  |")
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else ""
        name = f"{r.name} ({r.runs} runs)" if r.runs > 1 else r.name
        if r.note:
            notes.append(r.note)
            name += f" [{len(notes)}]"
        lines.append(f"| {name} | {fmt(r.value)} {r.unit} | {r.spread} | {r.baseline} | {ratio} | {r.bar} "
                     f"| {r.verdict()} |")
    lines += [""] + [f"[{i}] {note}" for i, note in enumerate(notes, 1)] if notes else []
    return "\n".join(lines)


def rows_from_json(text: str) -> list[Row]:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("["):
            return [Row(**item) for item in json.loads(line)]
    raise ValueError("no JSON result line in the benchmark's output")


# ----- time -------------------------------------------------------------------------------------------------

def time_ms(fn: Callable[[], object], runs: int, warmup: int = 1) -> list[float]:
    """Wall time of fn() in milliseconds, `runs` times after `warmup` discarded calls."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


# ----- processes --------------------------------------------------------------------------------------------

def proc_status_kb(pid: int | str, key: str) -> int:
    """A field of /proc/<pid>/status in kB (VmRSS, VmHWM, ...); 0 when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def pss_kb(pid: int | str) -> int:
    """Proportional set size (shared pages split between their users); 0 when unavailable."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def machine_note() -> str:
    load = os.getloadavg()
    return (f"{os.cpu_count()} CPUs, load average {load[0]:.2f} (1 min) at the end of this benchmark, "
            f"Python {sys.version.split()[0]}")


# ----- seeded app homes -------------------------------------------------------------------------------------

@contextmanager
def app_home(projects: int, *, with_folders: bool = True) -> Iterator[Path]:
    """A temporary CCHUB_HOME whose database holds `projects` projects named "Project 000", ... with
    ports from the Hub's port blocks and an existing folder each. Removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="cchub-bench-"))
    try:
        seed_home(root / "home", projects, root / "projects" if with_folders else None)
        yield root / "home"
    finally:
        shutil.rmtree(root, ignore_errors=True)


def seed_home(home: Path, projects: int, folders: Path | None) -> None:
    """Create the database through ProjectStore (schema, migrations, WAL), then insert the rows in one
    transaction. ProjectStore.add validates each row against every other (and fsyncs each), which for 500
    projects takes ~20 s here; the rows inserted are what add() would store."""
    from sqlmodel import Session, create_engine

    from cchub_desktop import ports
    from cchub_desktop.paths import HOME_ENV, app_paths
    from cchub_desktop.store import Project, ProjectStore
    from cchub_desktop.store.validation import slug_base

    old = os.environ.get(HOME_ENV)
    os.environ[HOME_ENV] = str(home)
    try:
        paths = app_paths()
    finally:
        if old is None:
            os.environ.pop(HOME_ENV, None)
        else:
            os.environ[HOME_ENV] = old
    paths.ensure()
    ProjectStore(paths.db_file).close()
    engine = create_engine(f"sqlite:///{paths.db_file}")
    with Session(engine) as session:
        for n in range(projects):
            name = f"Project {n:03d}"
            folder = (folders or home) / f"project-{n:03d}"
            if folders is not None:
                folder.mkdir(parents=True, exist_ok=True)
            block = ports.block(n)
            session.add(Project(name=name, name_key=name.casefold(), slug=slug_base(name), path=str(folder),
                                backend_port=block.backend, frontend_port=block.frontend,
                                postgres_port=block.postgres, redis_port=block.redis))
        session.commit()
    engine.dispose()


def pycache_dir() -> Path:
    """Where benchmarked processes keep their byte code (PYTHONPYCACHEPREFIX): an installed app has .pyc
    files for every module, so the measured runs must have them too, also where PYTHONDONTWRITEBYTECODE is
    set (as on CI). One folder per user in the temp dir, reused by later runs; warm-up runs fill it."""
    given = os.environ.get("PYTHONPYCACHEPREFIX")
    folder = Path(given) if given else Path(tempfile.gettempdir()) / f"cchub-bench-pycache-{os.getuid()}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def bench_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment a benchmarked process runs with: this Python's venv, offscreen Qt, the given app home,
    byte code cached, the test engine as the Dagger CLI (so the launch engine check finds a CLI without
    the network)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FAKE_DAGGER_", "DAGGER_SESSION_", "_EXPERIMENTAL_DAGGER_"))
           and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(QT_QPA_PLATFORM="offscreen", CCHUB_HOME=str(home), PYTHONPYCACHEPREFIX=str(pycache_dir()),
               _EXPERIMENTAL_DAGGER_CLI_BIN=str(FAKE_CLI), FAKE_DAGGER_PYTHON=PYTHON)
    env.update(extra)
    return env
