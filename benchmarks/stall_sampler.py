"""Where the event loop stalls: a thread that samples the main thread's Python stack whenever the LagMonitor
has not ticked for longer than `threshold_ms`. `report()` lists the most frequent innermost frames of the
product's code (and of the libraries it was in) during stalls. A diagnostic for `loop_lag --stalls`."""

from __future__ import annotations

import gc
import sys
import threading
import time
import traceback
from collections import Counter

from benchmarks.lag_monitor import LagMonitor


class StallSampler:
    def __init__(self, monitor: LagMonitor, threshold_ms: float = 20.0, interval_s: float = 0.002) -> None:
        self.monitor = monitor
        self.threshold = threshold_ms / 1000
        self.interval = interval_s
        self.main_id = threading.main_thread().ident
        self.stacks: Counter[tuple[str, ...]] = Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stall-sampler", daemon=True)
        self.gc_pauses: list[tuple[int, float, int]] = []  # (generation, ms, objects collected)
        self._gc_started = 0.0

    def start(self) -> None:
        gc.callbacks.append(self._gc)
        self._thread.start()

    def stop(self) -> None:
        gc.callbacks.remove(self._gc)
        self._stop.set()
        self._thread.join()

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        """The cyclic garbage collector holds the GIL: every thread stops while it runs."""
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif self.monitor.recording:
            self.gc_pauses.append((info["generation"], (time.perf_counter() - self._gc_started) * 1000,
                                   info["collected"]))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if not self.monitor.recording or time.perf_counter() - self.monitor.last_tick < self.threshold:
                continue
            frame = sys._current_frames().get(self.main_id or 0)
            if frame is None:
                continue
            summary = traceback.extract_stack(frame)
            self.stacks[tuple(f"{fs.filename.split('site-packages/')[-1]}:{fs.lineno} {fs.name}"
                              for fs in summary[-14:])] += 1
            self.samples += 1

    def report(self, top: int = 8) -> str:
        slow = sorted(self.gc_pauses, key=lambda p: -p[1])[:5]
        per_gen = ", ".join(f"generation {g}: {sum(1 for p in self.gc_pauses if p[0] == g)} taking "
                            f"{sum(p[1] for p in self.gc_pauses if p[0] == g):.0f} ms" for g in range(3))
        lines = [f"{len(self.gc_pauses)} garbage collections while recording ({per_gen}); longest "
                 "(generation, ms, collected): " + ", ".join(f"({g}, {ms:.0f}, {n})" for g, ms, n in slow),
                 f"objects tracked by the collector at the end: {len(gc.get_objects())}",
                 f"{self.samples} samples of the main thread while the loop was > "
                 f"{self.threshold * 1000:.0f} ms late"]
        for stack, count in self.stacks.most_common(top):
            lines.append(f"--- {count} samples")
            lines.extend(f"    {frame}" for frame in stack)
        return "\n".join(lines)
