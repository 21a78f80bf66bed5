"""Lines of a project's log file as StackLog writes them ("<asctime> <service> <text>"): one parsed, and the
new ones another process (a runner, a `cchub up`) appends, read as they come. No Qt here."""

from __future__ import annotations

import contextlib
import functools
import re
from datetime import datetime
from pathlib import Path

from cchub_desktop.log_limits import CUT, MAX_LINE
from cchub_desktop.stack.logs import LogLine

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
    seconds = _seconds(stamp)
    if seconds is None:
        return None
    ts = seconds + int(millis) / 1000
    if text.startswith(" "):
        text = text.lstrip(" ")  # the padding after a short service name
    if cut or len(text) > MAX_LINE + len(CUT):
        text = text[:MAX_LINE] + CUT
    return LogLine(service, text, ts)


@functools.lru_cache(maxsize=64)
def _seconds(stamp: str) -> float | None:
    """The time of a file stamp (local time, to the second); cached: a busy log repeats each second often."""
    try:
        return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").timestamp()
    except ValueError:
        return None


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
