"""Launch wrapper for the start-up benchmark: `python benchmarks/first_paint.py app|bare [--idle SECONDS]`.

The same wrapper starts both programs, so both are observed the same way and nothing in the product changes:

- `app`:  imports the app's entry point (`cchub_desktop.app.main`, what `cchub-desktop` runs), creates the
          QApplication itself (main() uses an existing one), installs the observer, calls main([]).
- `bare`: creates the QApplication, installs the observer, shows a plain QMainWindow of the app window's size,
          runs app.exec().

The observer is an event filter on the QApplication (it sees every event of every widget). "First paint" is
the first QEvent.Paint delivered to a QMainWindow; "painted" is the first zero-timer after it, i.e. when that
whole paint pass (the window and its children, flushed to the backing store) has finished. After `--idle`
seconds more the wrapper reads its own VmRSS/VmHWM/Pss, prints one JSON line and quits the program the way
a user's session would end it: SIGTERM for the app (its handler stops everything and exits 0), quit() for
the bare window. Times are time.monotonic(), which on Linux is one clock for every process, so the parent
can subtract the moment it spawned this process.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

T_START = time.monotonic()

from PySide6.QtCore import QEvent, QObject, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QMainWindow  # noqa: E402

WINDOW_SIZE = (1080, 680)  # the app's main window size (MainWindow.resize)


def _status_kb(key: str, path: str = "/proc/self/status") -> int:
    with open(path) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


class FirstPaintObserver(QObject):
    def __init__(self, idle_s: float, finish: object) -> None:
        super().__init__()
        self.idle_ms = int(idle_s * 1000)
        self.finish = finish
        self.t_paint: float | None = None
        self.t_painted: float | None = None
        self.t_qapp = time.monotonic()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (self.t_paint is None and event.type() == QEvent.Type.Paint
                and isinstance(watched, QMainWindow)):
            self.t_paint = time.monotonic()
            QTimer.singleShot(0, self._painted)
        return False

    def _painted(self) -> None:
        self.t_painted = time.monotonic()
        QTimer.singleShot(self.idle_ms, self._report)

    def _report(self) -> None:
        try:
            pss = _status_kb("Pss", "/proc/self/smaps_rollup")
        except OSError:
            pss = 0
        print(json.dumps({"t_start": T_START, "t_qapp": self.t_qapp, "t_paint": self.t_paint,
                          "t_painted": self.t_painted, "rss_kb": _status_kb("VmRSS"),
                          "hwm_kb": _status_kb("VmHWM"), "pss_kb": pss}), flush=True)
        self.finish()  # type: ignore[operator]


def main(argv: list[str]) -> int:
    target = argv[0] if argv else "app"
    idle = float(argv[argv.index("--idle") + 1]) if "--idle" in argv else 2.0
    if target == "app":
        from cchub_desktop.app import main as app_main

        qapp = QApplication(sys.argv[:1])
        observer = FirstPaintObserver(idle, lambda: os.kill(os.getpid(), signal.SIGTERM))
        qapp.installEventFilter(observer)
        return app_main([])
    if target == "bare":
        qapp = QApplication(sys.argv[:1])
        observer = FirstPaintObserver(idle, qapp.quit)
        qapp.installEventFilter(observer)
        window = QMainWindow()
        window.setWindowTitle("CommandCenter Hub")
        window.resize(*WINDOW_SIZE)
        window.show()
        return qapp.exec()
    print(f"unknown target {target!r}: use app or bare", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
