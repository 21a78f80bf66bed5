"""A relaunch with a hostile log history: the time the log pane takes to show a project whose log file and
its rotated copy each hold a 30 MB and a 16 MB line (what an engine printing enormous lines left before lines
were cut: 46 MB files), side by side with a history of the same number of ordinary lines, in the same run.

    .venv/bin/python -m benchmarks.long_lines [--runs N] [--json]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from benchmarks.common import Row, fmt, median, print_rows, spread

STAMP = "2026-12-01 10:00:{:02d},000 engine   "


def write_history(folder: Path, hostile: bool) -> Path:
    log_file = folder / ("hostile.log" if hostile else "plain.log")
    for path in (log_file.with_name(log_file.name + ".1"), log_file):
        with path.open("w", encoding="utf-8") as out:
            out.write(STAMP.format(0) + ("y" * (30 * 1024 * 1024) if hostile else "an ordinary line") + "\n")
            out.write(STAMP.format(1) + ("z" * (16 * 1024 * 1024) if hostile else "another line") + "\n")
            out.write(STAMP.format(2) + "done\n")
    return log_file


def show_cost(log_file: Path) -> float:
    """Milliseconds from asking the pane to show the project until its text is laid out."""
    from PySide6.QtWidgets import QApplication

    from cchub_desktop.stack import StackLog
    from cchub_desktop.ui.log_view import LogView

    app = QApplication.instance() or QApplication([])
    view = LogView(poll_ms=1_000_000)
    view.resize(1000, 400)
    view.show()
    log = StackLog(log_file)
    start = time.perf_counter()
    view.set_source(log, "Log — bench")
    app.processEvents()
    cost = (time.perf_counter() - start) * 1000
    log.close()
    view.close()
    view.deleteLater()
    return cost


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="cchub-bench-lines-") as tmp:
        hostile_file, plain_file = write_history(Path(tmp), True), write_history(Path(tmp), False)
        hostile, plain = [], []
        for _ in range(args.runs):   # alternate, so machine load hits both alike
            hostile.append(show_cost(hostile_file))
            plain.append(show_cost(plain_file))
    base = median(plain)
    rows = [Row("log history at a relaunch", "log pane shows a history of 2 × 46 MB files with 30 MB lines",
                median(hostile), "ms", len(hostile), spread(hostile),
                f"same lines, ordinary length: {fmt(base)} ms ({spread(plain)})",
                median(hostile) / base if base else None)]
    print_rows(rows, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
