"""The window's own error boundary: an OSError that escapes a Qt slot or an asyncio callback of the running
app (here: writing where a folder is in the way) is one line in one box and in the log, no traceback, and the
app keeps running until it is asked to quit (exit 0)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

DRIVER = textwrap.dedent("""
    import asyncio, os, signal, sys, time
    from pathlib import Path
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from cchub_desktop.ui.first_window import begin

    blocked = Path(sys.argv[1])
    app, args, launch = begin(["--no-engine-check"])
    seen = []
    deadline = time.monotonic() + 90

    def write_from_a_slot():   # a Qt slot, as a button's would be
        blocked.write_text("x")

    def write_from_the_loop():   # an asyncio callback, as a task's would be
        asyncio.get_running_loop().call_soon(lambda: (blocked / "y").mkdir())

    def look():
        boxes = [w for w in QApplication.topLevelWidgets() if w.objectName() == "os_error_box" and w.isVisible()]
        for box in boxes:
            if box.text() not in seen:
                seen.append(box.text())
                print("BOX " + box.text(), flush=True)
                if len(seen) == 1:
                    QTimer.singleShot(0, write_from_the_loop)
        if len(seen) >= 2 or time.monotonic() > deadline:
            os.kill(os.getpid(), signal.SIGTERM)   # quit as a user's logout would
            return
        QTimer.singleShot(50, look)

    QTimer.singleShot(0, write_from_a_slot)
    QTimer.singleShot(50, look)
    from cchub_desktop.app import run
    sys.exit(run(app, args, launch))
""")


def test_an_os_error_in_the_running_window_is_one_line_in_a_box(tmp_path: Path) -> None:
    blocked = tmp_path / "in-the-way"
    blocked.mkdir()   # a folder where a file is written: IsADirectoryError; under it a file: FileExistsError
    (blocked / "y").write_text("a file")
    env = {**os.environ, "CCHUB_HOME": str(tmp_path / "home"), "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-c", DRIVER, str(blocked)], env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    boxes = [line.removeprefix("BOX ") for line in done.stdout.splitlines() if line.startswith("BOX ")]
    assert boxes == [f"{blocked}: a folder is in the way where a file is needed: move it aside and try again.",
                     f"{blocked / 'y'}: a file is in the way where a folder is needed: move it aside and try again."]
    for line in boxes:   # and the same line in the log
        assert line in done.stderr
