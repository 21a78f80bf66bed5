"""StackLog: one stack's log — a bounded in-memory ring buffer for the UI plus a rotating file on disk.

It is the file-like object given to `dagger.Config(log_output=...)`. It has a real file descriptor (`fileno`:
the write end of a pipe made on first use), so the SDK hands it to the Dagger CLI as its stderr and a reader
thread of ours decodes what arrives, replacing bytes that are not UTF-8 (the SDK's own drain decodes strictly
and closes the pipe on the first bad byte: the CLI then dies of a broken pipe). With DAGGER_PROGRESS=plain the
output is one line per event, prefixed by a span number; every method is thread-safe. A line longer than
MAX_LINE characters is cut there (in memory, in the file, in the view). Lines are split by service where the
span says which, and every known secret value is replaced by *** before a line is stored, written to disk or
handed to a subscriber.
"""

from __future__ import annotations

import codecs
import contextlib
import itertools
import logging
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import NamedTuple

from cchub_desktop.log_limits import CUT, MAX_LINE
from cchub_desktop.stack.errors import scrub

ENGINE = "engine"
HUB = "hub"
DEFAULT_CAPACITY = 5000
DEFAULT_MAX_BYTES = 2_000_000
DEFAULT_BACKUPS = 3
MAX_TRACKED_SPANS = 20_000

ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
SPAN_LINE = re.compile(r"^(\d+)\s*: (.*)$")       # "12  : <indent><call or log row>"
LOG_ROW = re.compile(r"^(?:\[[^\]]*\] )?\|(?: |$)")  # "[1.2s] | output of the span"
HUB_PREFIX = re.compile(r"^\[hub\]")


class LogLine(NamedTuple):
    """One line as readers get it."""

    service: str
    text: str
    ts: float


LineCallback = Callable[[LogLine], None]


class SpanRouter:
    """Assigns plain-progress lines to services. A step line names a service by one of its markers (image,
    command); a span without a marker inherits from the step it is nested in; log rows belong to their
    span. Anything else is the engine's own output."""

    def __init__(self, markers: Mapping[str, Iterable[str]] | None = None) -> None:
        self._markers: list[tuple[str, str]] = []
        self._spans: dict[int, str] = {}
        self._context: list[int] = []
        if markers:
            self.set_markers(markers)

    def set_markers(self, markers: Mapping[str, Iterable[str]]) -> None:
        pairs = [(m, service) for service, ms in markers.items() for m in ms if m]
        self._markers = sorted(pairs, key=lambda p: len(p[0]), reverse=True)  # most specific first

    def reset(self) -> None:
        """A new session numbers its spans from 1 again."""
        self._spans.clear()
        self._context.clear()

    def route(self, line: str) -> str:
        if HUB_PREFIX.match(line):
            return HUB
        match = SPAN_LINE.match(line)
        if not match:
            return ENGINE
        span, body = int(match.group(1)), match.group(2)
        content = body.lstrip(" ")
        if LOG_ROW.match(content):
            return self._spans.get(span, ENGINE)
        depth = (len(body) - len(content)) // 2
        service = self._by_marker(content) or self._spans.get(span)
        if service is None and 0 < depth <= len(self._context):
            service = self._spans.get(self._context[depth - 1])
        del self._context[depth:]
        self._context.append(span)
        if service is not None:
            self._remember(span, service)
        return service or ENGINE

    def _by_marker(self, content: str) -> str | None:
        # the real CLI renders calls with their arguments: withExec(args: ["pip", "install", ...])
        flat = content.replace('", "', " ").replace('"', "")
        for marker, service in self._markers:
            if marker in content or marker in flat:
                return service
        return None

    def _remember(self, span: int, service: str) -> None:
        self._spans[span] = service
        if len(self._spans) > MAX_TRACKED_SPANS:
            self._spans.pop(next(iter(self._spans)))


class StackLog:
    """Thread-safe log of one stack. `write` is the file-like entry point for the Dagger SDK; `note` adds a
    line from the hub itself; `lines(since)` reads with a cursor; subscribers are called on the writing
    thread (the UI must hop to its own thread)."""

    def __init__(self, log_file: Path | None = None, *, capacity: int = DEFAULT_CAPACITY,
                 max_bytes: int = DEFAULT_MAX_BYTES, backup_count: int = DEFAULT_BACKUPS) -> None:
        self._lock = threading.Lock()
        # Plain (service, text, ts) tuples: the garbage collector stops tracking a tuple of strings and
        # floats, so full buffers (DEFAULT_CAPACITY lines per project) add nothing to its pauses, which stop
        # every thread, the UI's too (benchmarks/README.md, event loop).
        self._buffer: deque[tuple[str, str, float]] = deque(maxlen=capacity)
        self._written = 0          # lines ever stored; the cursor of the next line
        self._partial = ""
        self._secrets: set[str] = set()
        self._router = SpanRouter()
        self._subscribers: list[LineCallback] = []
        self.log_file = Path(log_file) if log_file is not None else None
        self._handler: logging.Handler | None = None
        self._rotation = (max_bytes, backup_count)
        self._writes_file = self.log_file is not None   # until close(): the file handler is made at the first line
        self._pipe_w: int | None = None
        self._reader: threading.Thread | None = None
        if self.log_file is not None:
            with contextlib.suppress(OSError):
                self.log_file.parent.mkdir(parents=True, exist_ok=True)

    # ----- configuration (by the stack) -----------------------------------------------------------------

    def add_secrets(self, values: Iterable[str]) -> None:
        with self._lock:
            self._secrets.update(v for v in values if v)

    def begin_session(self, markers: Mapping[str, Iterable[str]]) -> None:
        with self._lock:
            self._router.set_markers(markers)
            self._router.reset()

    # ----- file-like interface (dagger.Config(log_output=...)) ------------------------------------------

    def write(self, text: str) -> int:
        if not text:
            return 0
        with self._lock:
            data = self._partial + text
            *complete, partial = data.split("\n")
            self._partial = partial[:MAX_LINE + 1]   # a line without end never grows past the cap
            stored = [self._store(line) for line in complete]
        self._notify(stored)
        return len(text)

    def fileno(self) -> int:
        """The write end of a pipe whose bytes come into this log (decoded leniently, by a reader thread)."""
        with self._lock:
            if self._pipe_w is None:
                read_end, self._pipe_w = os.pipe()
                self._reader = threading.Thread(target=self._drain, args=(read_end,), name="engine-log",
                                                daemon=True)
                self._reader.start()
            return self._pipe_w

    def _drain(self, read_end: int) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        with os.fdopen(read_end, "rb", buffering=0) as source:
            while chunk := source.read(65536):
                self.write(decoder.decode(chunk))
        self.write(decoder.decode(b"", final=True))

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        with self._lock:
            pending, self._partial = self._partial, ""
            stored = [self._store(pending)] if pending.strip() else []
        self._notify(stored)

    def isatty(self) -> bool:
        return False

    def note(self, text: str, service: str = HUB) -> None:
        """A line from the hub itself (phases, errors), attributed to `service`."""
        with self._lock:
            stored = [self._store(line, service) for line in text.rstrip("\n").split("\n")]
        self._notify(stored)

    def take(self, lines: list[LogLine]) -> None:
        """Lines another process wrote to this log's file (the project's runner): held and passed to the
        subscribers like its own, and not written to the file again."""
        if not lines:
            return
        with self._lock:
            for line in lines:
                self._buffer.append((line.service, line.text, line.ts))
            self._written += len(lines)
        self._notify(lines)

    # ----- reading -----------------------------------------------------------------------------------

    def lines(self, since: int = 0) -> tuple[int, list[LogLine]]:
        """(cursor, lines stored at or after `since`): pass the cursor back to get only newer lines. Lines
        that fell out of the buffer are skipped."""
        with self._lock:
            first = self._written - len(self._buffer)
            wanted = self._written - max(since, first)
            rows = list(itertools.islice(reversed(self._buffer), wanted)) if wanted > 0 else []
            rows.reverse()   # O(new lines), not O(buffer): the UI polls this often
            return self._written, [LogLine._make(row) for row in rows]

    def text(self, service: str | None = None) -> str:
        _, items = self.lines()
        return "\n".join(i.text for i in items if service is None or i.service == service)

    def subscribe(self, callback: LineCallback) -> None:
        with self._lock:
            self._subscribers.append(callback)

    def unsubscribe(self, callback: LineCallback) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._subscribers.remove(callback)

    def close(self) -> None:
        with self._lock:
            pipe_w, self._pipe_w = self._pipe_w, None
            reader, self._reader = self._reader, None
        if pipe_w is not None:
            os.close(pipe_w)   # the reader ends once the CLI (the other writer) has exited too
        if reader is not None:
            reader.join(timeout=5)
        self.flush()
        with self._lock:
            handler, self._handler = self._handler, None
            self._writes_file = False
        if handler is not None:
            with contextlib.suppress(OSError):   # a full disk: the lines are lost, the close must not fail
                handler.close()

    # ----- internals (called with the lock held) -------------------------------------------------------

    def _store(self, raw: str, service: str | None = None) -> LogLine:
        if len(raw) > MAX_LINE:
            raw = raw[:MAX_LINE] + CUT
        line = ANSI.sub("", raw).rstrip("\r")
        if "\r" in line:
            line = line.rsplit("\r", 1)[-1]  # a progress line redrawn in place: keep what was shown last
        line = scrub(line, self._secrets)
        row = (service or self._router.route(line), line, time.time())
        self._buffer.append(row)
        item = LogLine._make(row)
        self._written += 1
        if self._writes_file:
            record = logging.makeLogRecord({"msg": line, "levelno": logging.INFO, "levelname": "INFO",
                                            "service": item.service, "created": item.ts})
            (self._handler or self._open_file()).handle(record)
        return item

    def _open_file(self) -> logging.Handler:
        """The log file's handler, made when the first line is written: a log that never writes one (the
        window's, fed from a runner's file) does not load logging.handlers (and pickle with it)."""
        from cchub_desktop.stack.log_rotation import QuietRotatingHandler

        assert self.log_file is not None   # _writes_file
        max_bytes, backup_count = self._rotation
        handler = QuietRotatingHandler(self.log_file, maxBytes=max_bytes, backupCount=backup_count,
                                       encoding="utf-8", delay=True)
        handler.setFormatter(logging.Formatter("%(asctime)s %(service)-8s %(message)s"))
        self._handler = handler
        return handler

    def _notify(self, stored: list[LogLine]) -> None:
        if not stored:
            return
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            for item in stored:
                callback(item)
