"""The log pane's own cost per poll tick at 2,000 lines/s (200 lines per 100 ms tick) with and without an
active search (every matching line highlighted as it arrives), in the same run: the GUI-thread time the pane
takes from the event loop, without the noise of stacks starting around it (loop_lag.py / log_search_lag.py
measure the loop as a whole).

    .venv/bin/python -m benchmarks.log_pane [--ticks N] [--json]
"""

from __future__ import annotations

import argparse
import os
import time

from benchmarks.common import Row, fmt, median, print_rows, spread

LINES_PER_TICK = 200  # 2,000 lines/s at the pane's 100 ms poll
TERM = "tick"
SERVICES = ("postgres", "redis", "backend", "frontend")


def tick_costs(search: bool, ticks: int) -> list[float]:
    from PySide6.QtWidgets import QApplication

    from cchub_desktop.stack import StackLog
    from cchub_desktop.ui.log_view import LogView

    app = QApplication.instance() or QApplication([])
    log = StackLog()
    view = LogView(poll_ms=1_000_000)  # polled by hand, once per simulated tick
    view.resize(1000, 400)
    view.show()
    view.set_source(log, "Log — bench")
    if search:
        view.find_bar.open_bar()
        view.find_bar.edit.setText(TERM)
        view.follow.setChecked(True)
    n = 0
    costs: list[float] = []
    for _ in range(ticks):
        for _ in range(LINES_PER_TICK):
            service = SERVICES[n % 4]
            text = f"{n:>4}  : [1.0s] | heartbeat of {service} (tick {n})" if service != "redis" else \
                f"{n:>4}  : [1.0s] | 1:M DB saved on disk"
            log.note(text, service=service)
            n += 1
        start = time.perf_counter()
        view.poll()
        app.processEvents()  # the layout and paint the batch causes
        costs.append((time.perf_counter() - start) * 1000)
    view.close()
    view.deleteLater()
    return costs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ticks", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    plain, searching = [], []
    for _ in range(3):  # alternate, so machine load hits both alike
        plain += tick_costs(False, args.ticks)
        searching += tick_costs(True, args.ticks)
    section = "log pane, 200 lines per 100 ms tick (2,000 lines/s)"
    base = median(plain)
    rows = [Row(section, f"GUI-thread time per tick with {TERM!r} in the find bar", median(searching), "ms",
                len(searching), spread(searching), f"no search, same run: {fmt(base)} ms ({spread(plain)})",
                median(searching) / base if base else None, bar="ratio ≤ 1.10",
                met=bool(base) and median(searching) / base <= 1.10)]
    print_rows(rows, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
