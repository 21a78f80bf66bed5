"""Run the app's real entry point and report what was imported when its main window first painted.

    python tests/paint_probe.py [app arguments...]

Nothing in the product knows about this: a meta-path hook notices PySide6.QtWidgets being imported (by whoever
imports it) and replaces its QApplication by a subclass that installs an event filter on itself. At the first
QEvent.Paint delivered to a QMainWindow it records `sys.modules`. Once the app has also logged "window
shown" (its core attached; before or after the paint) it prints one JSON line ({"modules_at_paint": [...],
"rows_at_paint": N, "modules_later": [...], and what the window had at each moment: its lower pane's tabs and
the rows' buttons}) and sends itself SIGTERM, which the app handles by quitting with
exit code 0.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any


class _AfterQtWidgets(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "PySide6.QtWidgets":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        real = spec.loader

        class Loader(importlib.abc.Loader):
            def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
                return real.create_module(spec)

            def exec_module(self, module: ModuleType) -> None:
                real.exec_module(module)
                _patch(module)

        spec.loader = Loader()
        return spec


REPORT: dict[str, Any] = {}
WINDOW: list[Any] = []   # the QMainWindow that painted first


def _parts(window: Any) -> dict[str, Any]:
    """The lower pane's tab titles, whether the log pane is built and how many rows have their buttons, as the
    window has them now."""
    tabs = getattr(window, "bottom_tabs", None)
    controls = getattr(window, "row_controls", None)
    return {"tabs": [tabs.tabText(i) for i in range(tabs.count())] if tabs is not None else [],
            "log_pane": getattr(window, "log_view", None) is not None,
            "row_buttons": len(controls.all_controls()) if controls is not None else 0}


def _maybe_report() -> None:
    """Once both happened, in either order: the first paint, and the app saying its window is shown."""
    if "modules_at_paint" in REPORT and REPORT.get("ready") and "modules_later" not in REPORT:
        REPORT["modules_later"] = sorted(sys.modules)
        REPORT["window_later"] = _parts(WINDOW[0])
        print(json.dumps(REPORT), flush=True)
        os.kill(os.getpid(), signal.SIGTERM)


class _ReadyHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if "window shown" in record.getMessage():
            REPORT["ready"] = True
            _maybe_report()


def _patch(widgets: ModuleType) -> None:
    from PySide6.QtCore import QEvent, QObject, QTimer

    class Observer(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if "modules_at_paint" not in REPORT and event.type() == QEvent.Type.Paint \
                    and isinstance(watched, widgets.QMainWindow):
                REPORT["modules_at_paint"] = sorted(sys.modules)
                model = getattr(watched, "model", None)  # the app's MainWindow: the rows it painted
                REPORT["rows_at_paint"] = model.rowCount() if model is not None else None
                REPORT["window_at_paint"] = _parts(watched)
                WINDOW.append(watched)
                QTimer.singleShot(0, _maybe_report)
            return False

    base = widgets.QApplication

    class ObservedApplication(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            self._paint_observer = Observer()
            self.installEventFilter(self._paint_observer)

    setattr(widgets, "QApplication", ObservedApplication)  # noqa: B010


def main() -> int:
    sys.meta_path.insert(0, _AfterQtWidgets())
    logging.getLogger("cchub_desktop").addHandler(_ReadyHandler())
    from cchub_desktop.__main__ import main as entry

    return entry()


if __name__ == "__main__":
    sys.exit(main())
