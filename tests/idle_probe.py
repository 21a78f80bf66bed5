"""Run the app's real entry point, and once its window is shown and attached, report what is imported while it
sits idle; then add a project through the window's Add dialog, as a user does, and report again.

    python tests/idle_probe.py FOLDER [app arguments...]

FOLDER is the new project's folder. Nothing in the product knows about this: a logging handler notices the app
saying "window shown" and queues the steps on the Qt loop. It prints one JSON line ({"idle": [...modules],
"added": name or null, "error": text, "rows_before": N, "rows_after": N, "after_add": [...modules],
"openssl_idle": [...mapped OpenSSL libraries, Linux], "engine_line": the engine line once its check is
over, "after_engine_check": [...modules then], "threads": [...thread names then, Linux]}) and
sends itself SIGTERM, which the app handles by quitting with exit code 0.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from typing import Any

REPORT: dict[str, Any] = {}


def _main_window() -> Any:
    from PySide6.QtWidgets import QApplication

    for widget in QApplication.topLevelWidgets():
        if hasattr(widget, "add_project") and getattr(widget, "attached", False):
            return widget
    raise RuntimeError("no attached main window")


def _mapped_openssl() -> list[str]:
    """The OpenSSL libraries (libcrypto, libssl) mapped into this process: [] off Linux, where it is not read."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            names = {line.split()[-1].rsplit("/", 1)[-1] for line in maps if len(line.split()) >= 6}
    except OSError:
        return []
    return sorted(n for n in names if n.startswith(("libcrypto", "libssl")))


def _add_project(folder: str) -> None:
    try:
        window = _main_window()
        REPORT["rows_before"] = window.model.rowCount()
        window.add_project()   # what Add… (Ctrl+N) does
        dialog = window.project_dialog
        dialog.name_edit.setText("Added while idle")
        dialog.path_edit.setText(folder)
        dialog.save()          # what the dialog's Save does
        project = dialog.saved_project
        REPORT["added"] = project.name if project is not None else None
        REPORT["error"] = "" if project is not None else dialog.general_error.text() or str(
            {f: dialog.error_text(f) for f in dialog.errors})
        REPORT["rows_after"] = window.model.rowCount()
    except Exception as exc:  # reported, not raised: the process must still quit cleanly
        REPORT["added"] = None
        REPORT["error"] = f"{type(exc).__name__}: {exc}"
    REPORT["after_add"] = sorted(sys.modules)
    print(json.dumps(REPORT), flush=True)
    os.kill(os.getpid(), signal.SIGTERM)


class _ReadyHandler(logging.Handler):
    def __init__(self, folder: str) -> None:
        super().__init__()
        self.folder = folder

    def emit(self, record: logging.LogRecord) -> None:
        if "window shown" in record.getMessage() and "idle" not in REPORT:
            from PySide6.QtCore import QTimer

            QTimer.singleShot(0, self._idle)

    def _idle(self) -> None:
        REPORT["idle"] = sorted(sys.modules)
        REPORT["openssl_idle"] = _mapped_openssl()
        from PySide6.QtCore import QTimer

        QTimer.singleShot(0, lambda: _after_engine_check(lambda: _add_project(self.folder)))


def _thread_names() -> list[str]:
    """The names of this process's threads, native ones too ([] off Linux, where they are not read)."""
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return []
    names = []
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/comm", encoding="utf-8") as comm:
                names.append(comm.read().strip())
        except OSError:   # the thread ended meanwhile
            pass
    return names


def _after_engine_check(then: Any) -> None:
    """Once the window's engine check (if one runs) has its verdict: report the line and what is imported."""
    from PySide6.QtCore import QTimer

    status = _main_window().engine_status
    if status.is_checking():
        QTimer.singleShot(50, lambda: _after_engine_check(then))
        return
    REPORT["engine_line"] = status.label.text()
    REPORT["threads"] = _thread_names()
    REPORT["after_engine_check"] = sorted(sys.modules)
    then()


def main() -> int:
    folder = sys.argv.pop(1)
    logging.getLogger("cchub_desktop").addHandler(_ReadyHandler(folder))
    from cchub_desktop.__main__ import main as entry

    return entry()


if __name__ == "__main__":
    sys.exit(main())
