"""Reading a project's earlier log back from the rotating file StackLog writes ("<asctime> <service> <text>"),
so the pane shows the history after a relaunch, and the lines other processes (`cchub up`) wrote there.
No Qt here."""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cchub_desktop.log_limits import CUT, MAX_LINE
from cchub_desktop.log_tail import FileTail, parse_line
from cchub_desktop.stack import LogLine

__all__ = ["FileTail", "parse_line", "read_history"]

READ_LIMIT = 4 * MAX_LINE   # bytes of one file line read at most (UTF-8: up to 4 bytes a character)
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
