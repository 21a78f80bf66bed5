"""The baseline for the event-loop lag benchmark: a bare QApplication running only the LagMonitor, started
next to the app so it sees the same machine at the same moment (other processes, the fake engines, ...).
It records until SIGTERM, then prints its summary as one JSON line and exits 0.

    python -m benchmarks.lag_probe
"""

from __future__ import annotations

import json
import signal
import sys

from PySide6.QtWidgets import QApplication

from benchmarks.lag_monitor import LagMonitor


def main() -> int:
    app = QApplication(sys.argv[:1])
    monitor = LagMonitor()
    monitor.recording = True

    def finish(_sig: int, _frame: object) -> None:
        app.quit()  # the handler runs at the next tick of the monitor (Python code runs every 10 ms)

    signal.signal(signal.SIGTERM, finish)
    monitor.start()
    print("ready", flush=True)
    code = app.exec()
    monitor.stop()
    print(json.dumps(monitor.summary()), flush=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
