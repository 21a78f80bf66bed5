"""Garbage collection on the GUI thread only.

Python's cyclic collector runs in whichever thread happens to allocate when a threshold is crossed. In this
app that is often a worker thread (the Dagger SDK's log forwarder, store writes, port checks). When such a
collection frees a Qt object that lives in the GUI thread — a dialog with a lambda connected to itself, an
old timer — its destructor runs in the worker thread: Qt cannot unregister its timers from there, and the
next time the GUI thread's timer list fires for it, the process crashes in
QCoreApplication::notifyInternal2 (seen in our GUI tests, with a backtrace). The remedy used by long-lived
Qt applications (Calibre, pyqtgraph): switch automatic collection off and collect from a timer on the GUI
thread, with the same generation thresholds the interpreter would use.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer


class GuiThreadGarbageCollector(QObject):
    """Checks the collector's counts every `interval_ms` on the GUI thread and collects what is due."""

    def __init__(self, interval_ms: int = 100, thresholds: tuple[int, int, int] = (10_000, 10, 10),
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thresholds = thresholds
        self.collections = 0
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check)

    def start(self) -> None:
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        """Back to the interpreter's own collection (at quit, once the worker threads are gone)."""
        self._timer.stop()
        gc.enable()

    def check(self) -> None:
        count0, count1, count2 = gc.get_count()
        t0, t1, t2 = self.thresholds
        if count0 <= t0:
            return
        generation = 0
        if count1 > t1:
            generation = 1
            if count2 > t2:
                generation = 2
        gc.collect(generation)
        self.collections += 1
