"""The window's error boundary: an error of the operating system (a full disk, a read-only folder, a file
where a folder belongs) that escapes an action of the window says one line — what, where, what to do — in one
box and in the log, never a traceback; the app keeps running (its other projects are untouched).

It covers both ways code runs in the app: Qt slots and virtual methods (PySide6 reports what escapes them
through `sys.excepthook`) and the asyncio loop's callbacks and tasks (the loop's exception handler). Any other
exception goes where it went before. A failure before the window exists is app.py's: one box, exit 1.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from cchub_desktop.os_errors import describe_os_error

logger = logging.getLogger("cchub_desktop")
BOX_NAME = "os_error_box"
TITLE = "Something could not be written or read"

ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], Any]


class ErrorBoundary:
    """Installed once per app process (app.py `run`); `uninstall` puts the previous handlers back."""

    def __init__(self) -> None:
        self._previous_hook: ExceptHook | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._box: QMessageBox | None = None
        self.said: list[str] = []   # every line shown, oldest first

    def install(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._previous_hook = sys.excepthook
        sys.excepthook = self._hook
        if loop is not None:
            self._loop = loop
            loop.set_exception_handler(self._loop_handler)

    def uninstall(self) -> None:
        if self._previous_hook is not None and sys.excepthook == self._hook:
            sys.excepthook = self._previous_hook
        self._previous_hook = None
        if self._loop is not None:
            self._loop.set_exception_handler(None)
            self._loop = None

    # ----- the two ways in --------------------------------------------------------------------------------

    def _hook(self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if isinstance(exc, OSError):
            self.say(exc)
        elif self._previous_hook is not None:
            self._previous_hook(kind, exc, tb)

    def _loop_handler(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError):
            self.say(exc)
        else:
            loop.default_exception_handler(context)

    # ----- saying it --------------------------------------------------------------------------------------

    def say(self, exc: OSError) -> None:
        """One line in the log and in one box (an open box shows the newest line)."""
        line = describe_os_error(exc)
        self.said.append(line)
        logger.error("%s", line)
        if QApplication.instance() is None:
            return
        if self._box is not None:
            self._box.setText(line)
            self._box.raise_()
            return
        box = QMessageBox(QMessageBox.Icon.Warning, TITLE, line, QMessageBox.StandardButton.Ok,
                          QApplication.activeWindow())
        box.setObjectName(BOX_NAME)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(self._closed)
        self._box = box
        box.open()

    def _closed(self, _result: int) -> None:
        self._box = None
