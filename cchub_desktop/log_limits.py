"""How long one log line may be, everywhere it is kept: in memory (stack/logs.py), in the log file, when the
file is read back (ui/log_history.py) and in the window's view (ui/log_view.py). A longer line is cut there
and says so. No Qt and no engine imports here, so the first-paint modules may use it."""

from __future__ import annotations

MAX_LINE = 8192
CUT = " …[line cut at 8192 characters]"


def cut_line(text: str) -> str:
    """`text` itself, or its first MAX_LINE characters followed by CUT."""
    return text if len(text) <= MAX_LINE + len(CUT) else text[:MAX_LINE] + CUT
