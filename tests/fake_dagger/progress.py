"""Progress and log lines on stderr, in the shape of the Dagger CLI's DAGGER_PROGRESS=plain output.

Every line starts with the span number, left-aligned in four columns, then ": ". A span's first line
is its title; its log lines follow as `N   : [1.2s] | text`; its last line repeats the title with
DONE or ERROR and the duration (an error adds `N   : ! message`). Spans the fake opens:

    connect                      session start (an `engine` log line)
    exec <command>               one per withExec that runs
    start <command>              one per service start; the service's output stays on this span
    tunnel <host>:<port> -> <hostname>:<port>   one per tunnel listener

So a reader can tell which service printed a line by the `start <command>` title of its span number.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs}s"


@dataclass
class Span:
    idx: int
    title: str
    started: float = field(default_factory=time.monotonic)
    done: bool = False


class PlainProgress:
    """Writes progress lines to a stream; thread-safe; never raises (the reader may be gone)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._next = 0
        self.broken = False
        self.on_broken: Callable[[], object] | None = None   # the real CLI dies of a broken stderr

    def _emit(self, lines: list[str]) -> None:
        if self.broken:
            return
        with self._lock:
            try:
                self._stream.write("".join(line + "\n" for line in lines))
                self._stream.flush()
            except (OSError, ValueError):
                self.broken = True  # parent went away; keep running until stdin closes
        if self.broken and self.on_broken is not None:
            self.on_broken()

    def raw(self, data: bytes) -> None:
        """Bytes as they are (not necessarily UTF-8), as one line."""
        with self._lock:
            try:
                self._stream.flush()
                self._stream.buffer.write(data + b"\n")   # type: ignore[attr-defined]
                self._stream.flush()
            except (OSError, ValueError, AttributeError):
                self.broken = True

    def open(self, title: str) -> Span:
        with self._lock:
            self._next += 1
            span = Span(self._next, title)
        self._emit([f"{span.idx:<4}: {title}"])
        return span

    def log(self, span: Span, text: str) -> None:
        elapsed = format_duration(time.monotonic() - span.started)
        prefix = f"{span.idx:<4}: [{elapsed}] | "
        self._emit([prefix + line for line in text.rstrip("\n").split("\n")] if text.strip() else [])

    def log_lines(self, span: Span, lines: list[str]) -> None:
        elapsed = format_duration(time.monotonic() - span.started)
        prefix = f"{span.idx:<4}: [{elapsed}] | "
        self._emit([prefix + line for line in lines])

    def close(self, span: Span, error: str | None = None) -> None:
        if span.done:
            return
        span.done = True
        elapsed = format_duration(time.monotonic() - span.started)
        lines = [f"{span.idx:<4}: {span.title} {'ERROR' if error else 'DONE'} [{elapsed}]"]
        if error:
            lines.append(f"{span.idx:<4}: ! {error}")
        self._emit(lines)
