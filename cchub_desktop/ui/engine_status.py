"""The engine status line: the preflight's verdict with its fix-it hint, re-checked on demand, never blocking."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from cchub_desktop.stack import DoctorReport

logger = logging.getLogger(__name__)


EngineCheck = Callable[[], Awaitable[DoctorReport]]
OK_STYLE = "color: #15803d;"
BAD_STYLE = "color: #b91c1c;"


def summarize(report: DoctorReport) -> tuple[bool, str, str]:
    """(ready, one line for the window, every check with its fix for the tooltip)."""
    lines = [f"{'✓' if c.ok else '✗'} {c.name}: {c.message}" + ("" if c.ok or not c.fix else f" {c.fix}")
             for c in report.checks]
    lines += report.notes
    line = report.summary()
    if not report.ready:
        line = f"Engine problem: {line}"
    return report.ready, line, "\n".join(lines)


class EngineStatusBar(QWidget):
    """Runs the check as an asyncio task; the label says 'Checking…' meanwhile."""

    def __init__(self, check: EngineCheck | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._check = check
        self._task: asyncio.Task[None] | None = None
        self.ok: bool | None = None
        self.label = QLabel("Engine: not checked yet")
        self.label.setObjectName("engine_status")
        self.label.setAccessibleName("Engine status")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.recheck_button = QPushButton("Re-check engine")
        self.recheck_button.setAccessibleName("Re-check the engine")
        self.recheck_button.clicked.connect(self.recheck)
        self.recheck_button.setEnabled(check is not None)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.recheck_button)

    def recheck(self) -> asyncio.Task[None] | None:
        """Start a check unless one is in flight; returns its task."""
        if self._check is None:
            return None
        if self._task is not None and not self._task.done():
            return self._task
        self.label.setStyleSheet("")
        self.label.setText("Engine: checking…")
        self.recheck_button.setEnabled(False)
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self._task

    def is_checking(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        assert self._check is not None
        try:
            report = await self._check()
            ok, line, full = summarize(report)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the check itself broke: say so instead of a stale verdict
            logger.exception("engine check failed")
            ok, line, full = False, f"Engine check failed: {exc}", repr(exc)
        finally:
            self.recheck_button.setEnabled(True)
        self.ok = ok
        self.label.setText(line)
        self.label.setToolTip(full)
        self.label.setStyleSheet(OK_STYLE if ok else BAD_STYLE)

    def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
