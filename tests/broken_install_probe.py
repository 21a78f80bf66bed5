"""Run the app's real entry point as a damaged install would: one of its modules cannot be imported.

    python tests/broken_install_probe.py MODULE [app arguments...]

A meta-path hook makes `import MODULE` fail as a missing file does (ModuleNotFoundError). When the app logs an
error box's title, the probe reads every message box on screen, closes it as a user would (its default
button), and once the entry point has returned prints one JSON line ({"exit": code, "boxes": [[title, text]]})
and exits 0 itself: the test reads the app's exit code from that line.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import logging
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

REPORT: dict[str, Any] = {"boxes": []}


class _Missing(importlib.abc.MetaPathFinder):
    def __init__(self, name: str) -> None:
        self.name = name

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname == self.name:
            raise ModuleNotFoundError(f"No module named '{fullname}'", name=fullname)
        return None


def _close_boxes() -> None:
    from PySide6.QtWidgets import QApplication, QMessageBox

    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, QMessageBox) and widget.isVisible():
            REPORT["boxes"].append([widget.windowTitle(), widget.text()])
            widget.done(0)


class _BoxHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            from PySide6.QtCore import QTimer

            QTimer.singleShot(0, _close_boxes)   # after the box the app is about to open


def main() -> int:
    sys.meta_path.insert(0, _Missing(sys.argv.pop(1)))
    logging.getLogger("cchub_desktop").addHandler(_BoxHandler())
    from cchub_desktop.__main__ import main as entry

    try:
        REPORT["exit"] = entry()
    except SystemExit as exc:
        REPORT["exit"] = exc.code
    print(json.dumps(REPORT), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
