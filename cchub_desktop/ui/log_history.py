"""Reading a project's earlier log back from the rotating file StackLog writes ("<asctime> <service> <text>"),
so the pane shows the history after a relaunch, and the lines other processes (`cchub up`) wrote there.
No Qt here."""

from __future__ import annotations

import contextlib
import re
from collections import deque
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from cchub_desktop.log_limits import CUT, MAX_LINE
from cchub_desktop.stack import LogLine

READ_LIMIT = 4 * MAX_LINE   # bytes of one file line read at most (UTF-8: up to 4 bytes a character)
# logging's default asctime: "2026-12-02 14:02:11,123", then the service padded to 8, then the text
FILE_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) (\S+)\s*? (.*)$")


def parse_line(raw: str) -> LogLine | None:
    if len(raw) > MAX_LINE + 200:   # a line written before lines were cut (or by hand): cut it for the view
        raw = raw[:MAX_LINE + 200]
        cut = True
    else:
        cut = False
    match = FILE_LINE.match(raw)
    if match is None:
        return None
    stamp, millis, service, text = match.groups()
    try:
        ts = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").timestamp() + int(millis) / 1000
    except ValueError:
        return None
    if text.startswith(" "):
        text = text.lstrip(" ")  # the padding after a short service name
    if cut or len(text) > MAX_LINE + len(CUT):
        text = text[:MAX_LINE] + CUT
    return LogLine(service, text, ts)


def read_history(log_file: Path | None, limit: int, before: float | None = None) -> list[LogLine]:
    """The last `limit` lines from the log file and its rotated predecessors (oldest first), only those
    written before `before` (the first line the app already holds in memory)."""
    if log_file is None:
        return []
    # the newest rotated file and the current one: enough for the pane's few thousand lines, and a bounded read
    files = [log_file.with_name(f"{log_file.name}.1"), log_file]
    kept: deque[LogLine] = deque(maxlen=limit)
    for path in files:
        with contextlib.suppress(OSError), path.open("rb") as handle:
            for raw in _bounded_lines(handle):
                line = parse_line(raw.rstrip("\n"))
                if line is None:
                    if kept and raw.strip():  # a continuation without a prefix belongs to the line before
                        kept[-1] = _continued(kept[-1], raw.rstrip())
                    continue
                if before is not None and line.ts >= before - 0.001:
                    return list(kept)
                kept.append(line)
    return list(kept)


def _bounded_lines(handle: BinaryIO) -> Iterator[str]:
    """The file's lines, decoded leniently, each at most READ_LIMIT bytes: the rest of a longer line is
    skipped without being held in memory (a 30 MB line costs a read, not 30 MB), and the line says it was cut."""
    while chunk := handle.readline(READ_LIMIT):
        if len(chunk) == READ_LIMIT and not chunk.endswith(b"\n"):   # longer than the limit: skip its rest
            while (rest := handle.readline(READ_LIMIT)) and not rest.endswith(b"\n"):
                pass
            yield chunk.decode("utf-8", "replace").rstrip("\n") + CUT + "\n"
            continue
        yield chunk.decode("utf-8", "replace")


def _continued(last: LogLine, more: str) -> LogLine:
    """`last` with a continuation line joined, never past the line cap (the view's, and the file's)."""
    if last.text.endswith(CUT):
        return last
    text = f"{last.text}\n{more}"
    if len(text) > MAX_LINE:
        text = text[:MAX_LINE] + CUT
    return LogLine(last.service, text, last.ts)


class FileTail:
    """New complete lines of a log file another process writes (a `cchub up`), from where it was opened;
    starts over when the file was rotated (it shrank)."""

    def __init__(self, log_file: Path) -> None:
        self.log_file = log_file
        self._offset = self._size()

    def _size(self) -> int:
        try:
            return self.log_file.stat().st_size
        except OSError:
            return 0

    def read(self) -> list[LogLine]:
        size = self._size()
        if size < self._offset:
            self._offset = 0
        if size == self._offset:
            return []
        with contextlib.suppress(OSError), self.log_file.open("rb") as handle:
            handle.seek(self._offset)
            data = handle.read(size - self._offset)
            complete = data.rfind(b"\n") + 1
            self._offset += complete
            lines = [parse_line(raw) for raw in data[:complete].decode("utf-8", "replace").splitlines()]
            return [line for line in lines if line is not None]
        return []
