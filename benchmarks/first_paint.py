"""Launch wrapper for the start-up benchmark: `python benchmarks/first_paint.py app|bare|label|table [--idle SECONDS]
[--db FILE]`.

The same wrapper starts both programs, so both are observed the same way and nothing in the product changes:

- `app`:  runs the app's entry point, `cchub_desktop.__main__.main()` (what `cchub-desktop` and
          `python -m cchub_desktop` run), with no arguments: it imports what it imports in its own order;
- `bare`: imports PySide6.QtWidgets, creates a QApplication, shows a plain QMainWindow of the app window's
          size and runs app.exec();
- `label`: the bare window with one QLabel of text as its central widget: the least a window that shows any
          text does (its first text paint loads fonts: fontconfig, FreeType, the glyph cache);
- `table`: the least a PySide6 window that shows the projects does (a floor, not the app): the bare window
          plus a toolbar of six actions, the rows of `--db` read with sqlite3 into a QTableView through a
          minimal QAbstractTableModel, an empty three-tab pane under it in a vertical QSplitter, and a status
          bar line.

The observer is attached without touching either program: a meta-path hook notices when PySide6.QtWidgets
has been imported (by whoever imports it) and replaces its QApplication by a subclass that, once constructed,
installs an event filter on itself (it sees every event of every widget). "First paint" is the first
QEvent.Paint delivered to a QMainWindow; "painted" is the first zero-timer after it, i.e. when that paint
pass (the window and its children, flushed to the backing store) has finished. `--idle` seconds later the
wrapper reads its own VmRSS/VmHWM/Pss, prints one JSON line and ends the program the way a session would:
SIGTERM for the app (its handler stops everything and exits 0), quit() for the bare window. Times are
time.monotonic(), one clock for every process on Linux, so the parent can subtract when it spawned this one.
"""

from __future__ import annotations

import time

T_START = time.monotonic()

import importlib.abc  # noqa: E402
import importlib.machinery  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import Any  # noqa: E402

WINDOW_SIZE = (1080, 680)  # the app's main window size (MainWindow.resize)


def _status_kb(key: str, path: str = "/proc/self/status") -> int:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class AfterImport(importlib.abc.MetaPathFinder):
    """Calls `callback(module)` right after the module `name` has been executed, whoever imports it."""

    def __init__(self, name: str, callback: Callable[[ModuleType], None]) -> None:
        self.name = name
        self.callback = callback

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        real, callback = spec.loader, self.callback

        class Loader(importlib.abc.Loader):
            def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
                return real.create_module(spec)

            def exec_module(self, module: ModuleType) -> None:
                real.exec_module(module)
                callback(module)

        spec.loader = Loader()
        return spec


def observe(finish: Callable[[Any], None], idle_s: float) -> None:
    """Arrange for the first QApplication to carry the first-paint observer."""

    def patch(widgets: ModuleType) -> None:
        from PySide6.QtCore import QEvent, QObject, QTimer

        class FirstPaintObserver(QObject):
            def __init__(self, app: Any) -> None:
                super().__init__()
                self.app = app
                self.t_qapp = time.monotonic()
                self.t_paint: float | None = None
                self.t_painted: float | None = None

            def eventFilter(self, watched: QObject, event: QEvent) -> bool:
                if (self.t_paint is None and event.type() == QEvent.Type.Paint
                        and isinstance(watched, widgets.QMainWindow)):
                    self.t_paint = time.monotonic()
                    QTimer.singleShot(0, self._painted)
                return False

            def _painted(self) -> None:
                self.t_painted = time.monotonic()
                QTimer.singleShot(int(idle_s * 1000), self._report)

            def _report(self) -> None:
                print(json.dumps({"t_start": T_START, "t_qapp": self.t_qapp, "t_paint": self.t_paint,
                                  "t_painted": self.t_painted, "rss_kb": _status_kb("VmRSS"),
                                  "hwm_kb": _status_kb("VmHWM"), "pss_kb": _status_kb("Pss", "/proc/self/smaps_rollup"),
                                  "modules": len(sys.modules)}), flush=True)
                finish(self.app)

        base = widgets.QApplication

        class ObservedApplication(base):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any) -> None:
                super().__init__(*args)
                self._first_paint_observer = FirstPaintObserver(self)
                self.installEventFilter(self._first_paint_observer)

        setattr(widgets, "QApplication", ObservedApplication)  # noqa: B010

    sys.meta_path.insert(0, AfterImport("PySide6.QtWidgets", patch))


def main(argv: list[str]) -> int:
    target = argv[0] if argv else "app"
    idle = float(argv[argv.index("--idle") + 1]) if "--idle" in argv else 2.0
    sys.argv = sys.argv[:1]
    if target == "app":
        observe(lambda _app: os.kill(os.getpid(), signal.SIGTERM), idle)
        from cchub_desktop.__main__ import main as entry

        return entry()
    if target in ("bare", "label"):
        observe(lambda app: app.quit(), idle)
        return plain_window(with_label=target == "label")
    if target == "table":
        observe(lambda app: app.quit(), idle)
        return table_window(argv[argv.index("--db") + 1])
    print(f"unknown target {target!r}: use app, bare, label or table", file=sys.stderr)
    return 2


def plain_window(*, with_label: bool) -> int:
    """The `bare` and `label` targets (see the module's docstring): a QMainWindow of the app window's size,
    with one QLabel of text as its central widget for `label`."""
    from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

    qapp = QApplication(sys.argv[:1])
    window = QMainWindow()
    window.setWindowTitle("CommandCenter Hub")
    window.resize(*WINDOW_SIZE)
    if with_label:
        window.setCentralWidget(QLabel("CommandCenter Hub"))
    window.show()
    return qapp.exec()


def table_window(db: str) -> int:
    """The `table` target (see the module's docstring)."""
    import sqlite3

    from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
    from PySide6.QtWidgets import QApplication, QMainWindow, QSplitter, QTableView, QTabWidget, QToolBar, QWidget

    qapp = QApplication(sys.argv[:1])
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        rows = connection.execute("SELECT name, path, status, backend_port, frontend_port, postgres_port "
                                  "FROM project ORDER BY name").fetchall()
    connection.close()

    class Rows(QAbstractTableModel):
        def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
            return 0 if parent.isValid() else len(rows)

        def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
            return 0 if parent.isValid() else 6

        def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
            if role == Qt.ItemDataRole.DisplayRole:
                return str(rows[index.row()][index.column()])
            return None

    window = QMainWindow()
    window.setWindowTitle("CommandCenter Hub")
    window.resize(*WINDOW_SIZE)
    toolbar = QToolBar()
    for text in ("Add project…", "Start", "Open", "Edit…", "Remove…", "Back up database"):
        toolbar.addAction(text)
    window.addToolBar(toolbar)
    table = QTableView()
    table.setModel(Rows())
    table.setAlternatingRowColors(True)
    tabs = QTabWidget()
    for title in ("Log", "Services", "Storage"):
        tabs.addTab(QWidget(), title)
    splitter = QSplitter(Qt.Orientation.Vertical)
    splitter.addWidget(table)
    splitter.addWidget(tabs)
    window.setCentralWidget(splitter)
    window.statusBar().showMessage("Loading the projects…")
    window.show()
    return qapp.exec()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
