"""The engine status line: the preflight's verdict with its fix-it hint, never blocking. It is re-checked on
demand ("Check again"), after the settings change or a start fails on the engine (the window asks), and every
RETRY_MS by itself while it is failing, so it never stays stale."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

if TYPE_CHECKING:  # asyncio and the stack load after the window's first paint (ui/first_window.py)
    import asyncio

    from cchub_desktop.stack import DoctorReport

logger = logging.getLogger(__name__)


EngineCheck = Callable[[], Awaitable["DoctorReport"]]
OK_STYLE = "color: #15803d;"
WARN_STYLE = "color: #b45309;"
BAD_STYLE = "color: #b91c1c;"
RETRY_MS = 30_000


def summarize(report: DoctorReport) -> tuple[bool, str, str]:
    """(ready, one line for the window, every check with its fix for the tooltip)."""
    lines = [f"{'✓' if c.ok else '!' if c.warning else '✗'} {c.name}: {c.message}"
             + ("" if c.ok or not c.fix else f" {c.fix}") for c in report.checks]
    lines += report.notes
    if report.ready:
        where = f"remote {report.runner}" if report.runner else f"{report.runtime or 'container runtime'}, local"
        cli = "CLI downloaded on first start" if report.cli.path is None else "CLI found"
        line = f"Engine OK ({where}; Dagger {cli})"
        warnings = report.warnings()
        if warnings:
            line = f"Engine: {warnings[0].message} {warnings[0].fix}".strip()
    else:
        line = f"Engine problem: {report.summary()}"
    return report.ready, line, "\n".join(lines)


class EngineStatusBar(QWidget):
    """Runs the check as an asyncio task; the label says 'Checking…' meanwhile. `changed` is emitted after
    every check; `problem` is the line to show where Start is disabled while the engine is known bad."""

    changed = Signal()

    def __init__(self, check: EngineCheck | None, parent: QWidget | None = None, *,
                 retry_ms: int = RETRY_MS) -> None:
        super().__init__(parent)
        self._check = check
        self._task: asyncio.Task[None] | None = None
        self.ok: bool | None = None
        self.problem: str | None = None
        self.retry = QTimer(self)
        self.retry.setSingleShot(True)
        self.retry.setInterval(retry_ms)
        self.retry.timeout.connect(self.recheck)
        self.label = QLabel("Engine: not checked yet")
        self.label.setObjectName("engine_status")
        self.label.setAccessibleName("Engine status")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.recheck_button = QPushButton("Check again")
        self.recheck_button.setAccessibleName("Check the engine again")
        self.recheck_button.clicked.connect(self.recheck)
        self.recheck_button.setEnabled(check is not None)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.recheck_button)

    def recheck(self) -> asyncio.Task[None] | None:
        """Start a check unless one is in flight; returns its task."""
        import asyncio

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
        import asyncio

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
        self.problem = None if ok else line
        self.label.setText(line)
        self.label.setToolTip(full)
        self.label.setStyleSheet(BAD_STYLE if not ok else WARN_STYLE if line.startswith("Engine: ") else OK_STYLE)
        if ok:
            self.retry.stop()
        else:
            self.retry.start()
        self.changed.emit()

    def cancel(self) -> None:
        self.retry.stop()
        if self._task is not None and not self._task.done():
            self._task.cancel()
