"""What a long build is doing, from the build output the log receives: the current step (pip: the package
being collected, downloaded or built; npm ci), the elapsed time, and whether the caches are cold.

The text travels as the phase of a start: "backend_build|pip: downloading torch · 1:12 · first build of this
project: several minutes"; `phase_text` shows the part after the bar.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from cchub_desktop.stack.logs import HUB, LogLine

DETAIL_SEP = "|"
FIRST_BUILD = "first build of this project: several minutes"
_PIP = re.compile(r"\b(Collecting|Downloading|Building wheel for|Installing collected packages:)\s+([^\s,(]+)")
_TOOL = {"backend_build": "pip", "frontend_build": "npm"}
_VERBS = {"Collecting": "collecting", "Downloading": "downloading", "Building wheel for": "building",
          "Installing collected packages:": "installing"}


def elapsed_text(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 60}:{s % 60:02d}"


def step_of(text: str) -> str | None:
    """The build step a line of output names, or None: 'pip: downloading torch', 'npm ci: installing'."""
    match = _PIP.search(text)
    if match:
        name = match.group(2)
        if match.group(1) == "Downloading":   # a URL or a file name: keep the distribution's name
            name = name.rsplit("/", 1)[-1].split("-", 1)[0]
        return f"pip: {_VERBS[match.group(1)]} {name}"
    if "npm ci" in text or "npm warn" in text or ("added " in text and " packages" in text):
        return "npm ci: installing packages"
    return None


class BuildProgress:
    """Follows the log during the build phases and calls `report(phase, detail)` when the step changes, or at
    least every `tick` seconds (for the elapsed time)."""

    def __init__(self, report: Callable[[str, str], object], first_build: bool, tick: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._report = report
        self.first_build = first_build
        self._tick = tick
        self._clock = clock
        self._phase: str | None = None
        self._started = clock()
        self._step = ""
        self._last = 0.0
        self.steps: list[str] = []

    def begin(self, phase: str, step: str) -> None:
        self._phase, self._step, self._started = phase, step, self._clock()
        self._emit()

    def end(self) -> float:
        self._phase = None
        return self._clock() - self._started

    def on_line(self, line: LogLine) -> None:
        if self._phase is None or line.service == HUB:
            return
        step = step_of(line.text)
        if step is not None and not step.startswith(_TOOL.get(self._phase, "")):
            step = None   # the other build's output (backend and frontend build at the same time)
        if step is not None and step != self._step:
            self._step = step
            self.steps.append(step)
            self._emit()
        elif self._clock() - self._last >= self._tick:
            self._emit()

    def detail(self) -> str:
        parts = [self._step, elapsed_text(self._clock() - self._started)]
        if self.first_build:
            parts.append(FIRST_BUILD)
        return " · ".join(p for p in parts if p)

    def _emit(self) -> None:
        if self._phase is None:
            return
        self._last = self._clock()
        self._report(self._phase, self.detail())
