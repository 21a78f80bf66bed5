"""A timer that measures its own lateness on the Qt event loop (the loop qasync runs asyncio on).

It arms a single-shot precise QTimer for `period_ms`, and when it fires records how late it is against the
moment it was due, then arms again. Anything that holds the loop (a slow slot, a blocking call, a long paint)
shows up as lateness; with nothing else to do the lateness is the timer's own granularity (~0–1 ms).
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, QTimer

from benchmarks.common import median, percentile


class LagMonitor(QObject):
    def __init__(self, period_ms: int = 10) -> None:
        super().__init__()
        self.period_ms = period_ms
        self.samples: list[float] = []
        self.late_wall = 0.0   # seconds between arming and firing of the ticks that were > 16 ms late
        self.late_busy = 0.0   # of which this thread was running (its CPU time), not waiting
        self.recording = False
        self._due = 0.0
        self._armed = self._armed_cpu = 0.0
        self.last_tick = time.perf_counter()
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._fired)

    def start(self) -> None:
        self._arm()

    def stop(self) -> None:
        self._timer.stop()

    def _arm(self) -> None:
        self._armed, self._armed_cpu = time.perf_counter(), time.thread_time()
        self._due = self._armed + self.period_ms / 1000
        self._timer.start(self.period_ms)

    def _fired(self) -> None:
        self.last_tick = time.perf_counter()
        late_ms = (self.last_tick - self._due) * 1000
        if self.recording:
            self.samples.append(max(0.0, late_ms))
            if late_ms > 16:
                self.late_wall += self.last_tick - self._armed
                self.late_busy += time.thread_time() - self._armed_cpu
        self._arm()

    def summary(self) -> dict[str, float]:
        s = self.samples
        return {"samples": float(len(s)), "p50": median(s), "p99": percentile(s, 99),
                "max": max(s) if s else float("nan"),
                "over_16": float(sum(1 for x in s if x > 16)), "over_50": float(sum(1 for x in s if x > 50)),
                "late_busy_share": self.late_busy / self.late_wall if self.late_wall else float("nan")}
