"""500 projects: ProjectStore.list() and .rows(), the window's table load, the tray menu rebuild, and `cchub list`
(in-process command time and whole-process wall time next to `python -c pass` and `python -c "import sqlmodel"`).

    .venv/bin/python -m benchmarks.scale [--runs N] [--json]

The window and the tray are the app's own objects (MainWindow, TrayIcon on an Orchestrator and its bridge,
offscreen Qt), built as app.py builds them, on a database of 500 projects. The tray is timed twice: as built
where its menu is a real menu (submenus filled as they open) and as built where it is exported over D-Bus.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import (
    PYTHON,
    REPO,
    Row,
    app_home,
    bench_env,
    median,
    print_rows,
    spread,
    time_ms,
)

PROJECTS = 500
BAR_MS = 50.0
CLI_SCRIPT = Path(PYTHON).parent / "cchub"
# the command inside a fresh process: imports first (timed apart), then the command itself, output to /dev/null
IN_PROCESS = """
import sys, time, contextlib, os
t0 = time.perf_counter()
from cchub_desktop.cli import main
t1 = time.perf_counter()
with open(os.devnull, "w") as out, contextlib.redirect_stdout(out):
    code = main(["list"])
t2 = time.perf_counter()
print(f"{(t1 - t0) * 1000} {(t2 - t1) * 1000} {code}")
"""


def gui_figures(home: Path, runs: int) -> dict[str, list[float]]:
    os.environ["CCHUB_HOME"] = str(home)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication, QMenu

    from cchub_desktop.orchestrator import Orchestrator
    from cchub_desktop.paths import app_paths
    from cchub_desktop.settings import AppSettings
    from cchub_desktop.store import ProjectStore
    from cchub_desktop.ui.bridge import OrchestratorBridge
    from cchub_desktop.ui.main_window import MainWindow
    from cchub_desktop.ui.tray import TrayIcon

    app = QApplication.instance() or QApplication(sys.argv[:1])
    paths = app_paths()
    store = ProjectStore(paths.db_file)
    orchestrator = Orchestrator(store, AppSettings.load(paths.settings_file), paths)
    orchestrator.reconcile_on_launch()
    bridge = OrchestratorBridge(orchestrator)
    window = MainWindow(store, bridge)
    window.show()
    app.processEvents()

    def make_tray(lazy: bool) -> TrayIcon:
        return TrayIcon(store, bridge, show_window=window.show, show_project=window.select_project,
                        add_project=lambda: None, open_settings=lambda: None, quit=lambda: None, lazy_menu=lazy)

    tray = make_tray(True)   # a real menu (offscreen, Windows, macOS, XEmbed): each submenu filled as it opens
    eager = make_tray(False)   # what a D-Bus tray host gets: the whole menu at each opening
    assert tray.builder.lazy and not eager.builder.lazy
    assert window.model.rowCount() == PROJECTS, window.model.rowCount()

    def reload_and_paint() -> None:
        window.reload()
        window.table.viewport().repaint()

    def open_to_a_project() -> None:
        """The menu opens, then its "Projects (500)" submenu, then the first project's submenu."""
        tray.rebuild_menu()
        overflow = next(a.menu() for a in tray.menu.actions() if a.text().startswith("Projects ("))
        assert isinstance(overflow, QMenu)
        overflow.aboutToShow.emit()
        first = overflow.actions()[0].menu()
        assert isinstance(first, QMenu)
        first.aboutToShow.emit()

    figures = {
        "store_list": time_ms(store.list, runs),
        "store_rows": time_ms(store.rows, runs),
        "table_load": time_ms(window.reload, runs),
        "table_load_paint": time_ms(reload_and_paint, runs),
    }
    # each tray figure on its own: the menus a rebuild dropped are deleted in between, as the event loop does
    for name, fn in (("tray_rebuild", tray.rebuild_menu), ("tray_open_project", open_to_a_project),
                     ("tray_rebuild_eager", eager.rebuild_menu)):
        figures[name] = []
        for _ in range(runs + 1):   # the first is a warm-up
            figures[name] += time_ms(fn, 1, warmup=0)
            QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        del figures[name][0]
    tray.hide()
    eager.hide()
    window.close()
    bridge.detach()
    store.close()
    app.processEvents()
    return figures


def process_ms(cmd: list[str], env: dict[str, str], runs: int) -> list[float]:
    subprocess.run(cmd, env=env, capture_output=True, check=True, cwd=REPO)  # warm-up
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True, cwd=REPO)
        out.append((time.perf_counter() - t) * 1000)
    return out


def cli_figures(home: Path, runs: int) -> dict[str, list[float]]:
    env = bench_env(home)
    cli = [str(CLI_SCRIPT)] if CLI_SCRIPT.exists() else [PYTHON, "-m", "cchub_desktop.cli"]
    figures = {
        "cli_process": process_ms([*cli, "list"], env, runs),
        "python_pass": process_ms([PYTHON, "-c", "pass"], env, runs),
        "python_sqlmodel": process_ms([PYTHON, "-c", "import sqlmodel"], env, runs),
        "cli_import": [],
        "cli_command": [],
    }
    for _ in range(runs):
        proc = subprocess.run([PYTHON, "-c", IN_PROCESS], env=env, capture_output=True, text=True, check=True,
                              cwd=REPO)
        imports, command, code = proc.stdout.split()
        if code != "0":
            raise RuntimeError(f"cchub list exited {code}: {proc.stderr}")
        figures["cli_import"].append(float(imports))
        figures["cli_command"].append(float(command))
    return figures


def rows(gui: dict[str, list[float]], cli: dict[str, list[float]]) -> list[Row]:
    def bar_row(name: str, values: list[float], note: str = "") -> Row:
        return Row("500 projects", name, median(values), "ms", len(values), spread(values), bar=f"≤ {BAR_MS:g} ms",
                   met=median(values) <= BAR_MS, note=note)

    base = (f"python -c pass {median(cli['python_pass']):.0f} ms; "
            f"python -c \"import sqlmodel\" {median(cli['python_sqlmodel']):.0f} ms")
    process = bar_row("cchub list: whole process wall time", cli["cli_process"])
    process.baseline = base
    # a whole process cannot beat an empty interpreter: the bar is what the command adds to one
    process.bar = f"≤ python -c pass + {BAR_MS:g} ms"
    process.met = median(cli["cli_process"]) <= median(cli["python_pass"]) + BAR_MS
    process.ratio = median(cli["cli_process"]) / median(cli["python_pass"])  # × an empty interpreter
    return [
        bar_row("ProjectStore.list() (the ORM's objects: writers, the CLI)", gui["store_list"]),
        bar_row("ProjectStore.rows() (sqlite3: what the window, the tray and the orchestrator read)",
                gui["store_rows"]),
        bar_row("table model load (MainWindow.reload: store.rows() → table rows → model reset → selection)",
                gui["table_load"]),
        Row("500 projects", "table load + synchronous repaint of the table", median(gui["table_load_paint"]), "ms",
            len(gui["table_load_paint"]), spread(gui["table_load_paint"])),
        bar_row("tray menu rebuild (TrayIcon.rebuild_menu, the aboutToShow slot; submenus filled as they open)",
                gui["tray_rebuild"]),
        bar_row("tray menu opened down to a project (rebuild, then Projects (500) and one project open)",
                gui["tray_open_project"]),
        bar_row("tray menu rebuild where it is exported over D-Bus (the whole menu at each opening)",
                gui["tray_rebuild_eager"]),
        bar_row("cchub list: command in-process (fresh process, imports excluded)", cli["cli_command"]),
        Row("500 projects", "cchub list: importing cchub_desktop.cli in that process", median(cli["cli_import"]),
            "ms", len(cli["cli_import"]), spread(cli["cli_import"])),
        process,
        Row("500 projects", "cchub list: whole process minus python -c pass (the app's own part)",
            median(cli["cli_process"]) - median(cli["python_pass"]), "ms", len(cli["cli_process"])),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with app_home(PROJECTS) as home:
        cli = cli_figures(home, min(args.runs, 7))
        gui = gui_figures(home, args.runs)
    print_rows(rows(gui, cli), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
