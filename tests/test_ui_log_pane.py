"""The log pane as a place to work: wrap, Ctrl+F with next/previous and highlighted matches, timestamps,
follow/pause, a separator per start, the history from the log file after a relaunch, Save as."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QPlainTextEdit
from pytestqt.qtbot import QtBot

from cchub_desktop.stack import StackLog
from cchub_desktop.ui.log_view import LogView


def view_of(qtbot: QtBot, log: StackLog) -> LogView:
    view = LogView(poll_ms=50)
    qtbot.addWidget(view)
    view.resize(700, 300)
    view.show()
    view.set_source(log, "Log — demo")
    view.activateWindow()
    qtbot.waitUntil(view.isActiveWindow, timeout=2000)  # shortcuts go to the active window
    return view


def highlighted(view: LogView, block_number: int) -> list[tuple[int, int]]:
    block = view.text.document().findBlockByNumber(block_number)
    layout = block.layout()
    return [(r.start, r.length) for r in layout.formats() if r.format.background().color().name() == "#fde047"]


def test_ctrl_f_finds_next_and_previous_and_highlights_every_match(qtbot: QtBot) -> None:
    log = StackLog()
    for i in range(40):
        log.note(f"line {i} {'ERROR disk full' if i in (5, 20, 33) else 'ok'}", service="backend")
    view = view_of(qtbot, log)
    qtbot.keyClick(view.text, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert view.find_bar.isVisible() and view.find_bar.edit.hasFocus()
    qtbot.keyClicks(view.find_bar.edit, "error")
    found = [view.text.textCursor().block().text()]
    qtbot.keyClick(view.find_bar.edit, Qt.Key.Key_Return)
    found.append(view.text.textCursor().block().text())
    qtbot.keyClick(view.find_bar.edit, Qt.Key.Key_F3)
    found.append(view.text.textCursor().block().text())
    assert [f.split()[3] for f in found] == ["5", "20", "33"]
    qtbot.keyClick(view.find_bar.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert view.text.textCursor().block().text().split()[3] == "20"  # previous
    qtbot.keyClick(view.find_bar.edit, Qt.Key.Key_F3)
    qtbot.keyClick(view.find_bar.edit, Qt.Key.Key_F3)  # past the last: wraps to the first
    assert view.text.textCursor().block().text().split()[3] == "5"
    rows = view.shown_text().splitlines()
    for n, row in enumerate(rows):
        marks = highlighted(view, n)
        assert bool(marks) == ("ERROR" in row), row
        if marks:
            assert marks == [(row.index("ERROR"), 5)]
    log.note("line 40 ERROR again", service="backend")  # new lines get highlighted as they arrive
    qtbot.waitUntil(lambda: view.shown_text().endswith("again"), timeout=2000)
    assert highlighted(view, len(rows)) != []
    qtbot.keyClick(view.find_bar.edit, Qt.Key.Key_Escape)
    assert not view.find_bar.isVisible() and highlighted(view, 5) == []


def test_find_says_which_match_of_how_many_and_a_search_without_match_keeps_follow(qtbot: QtBot) -> None:
    log = StackLog()
    for i in range(200):
        log.note(f"line {i} {'ERROR disk full' if i in (5, 20, 33) else 'ok'}", service="backend")
    view = view_of(qtbot, log)
    qtbot.waitUntil(lambda: view.shown_text().endswith("line 199 ok"), timeout=2000)
    assert view.follow.isChecked()
    qtbot.keyClick(view.text, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(view.find_bar.edit, "nothing like this")
    assert view.find_bar.count.text() == "no match"
    assert view.follow.isChecked()                      # the view did not jump to the top
    log.note("line 200 new", service="backend")
    qtbot.waitUntil(lambda: view.shown_text().endswith("line 200 new"), timeout=2000)
    bar = view.text.verticalScrollBar()
    assert bar.value() == bar.maximum()                 # still following
    view.find_bar.edit.clear()
    qtbot.keyClicks(view.find_bar.edit, "error")
    assert view.find_bar.count.text() == "1 of 3"
    qtbot.keyClick(view.find_bar.edit, Qt.Key.Key_F3)
    assert view.find_bar.count.text() == "2 of 3"
    qtbot.keyClick(view.find_bar.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClick(view.find_bar.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert view.find_bar.count.text() == "3 of 3"       # before the first: wraps to the last
    assert not view.follow.isChecked()                  # reading a match up the log pauses following ...
    qtbot.keyClick(view.find_bar.edit, Qt.Key.Key_Escape)
    assert view.follow.isChecked() and bar.value() == bar.maximum()   # ... and closing the search resumes it


def test_wrap_timestamps_and_a_separator_per_start(qtbot: QtBot) -> None:
    log = StackLog()
    log.note("[hub] starting demo")
    log.note("x" * 600, service="frontend")
    view = view_of(qtbot, log)
    assert view.text.lineWrapMode() == QPlainTextEdit.LineWrapMode.NoWrap
    assert view.text.horizontalScrollBar().maximum() > 0  # the long line scrolls sideways
    view.wrap.setChecked(True)
    qtbot.waitUntil(lambda: view.text.horizontalScrollBar().maximum() == 0, timeout=2000)
    first = view.shown_text().splitlines()[0]
    assert first == f"— started {time.strftime('%H:%M:%S', time.localtime(log.lines()[1][0].ts))} —"
    assert view.shown_text().splitlines()[1] == "hub      | [hub] starting demo"
    view.timestamps.setChecked(True)
    stamped = view.shown_text().splitlines()[1]
    assert stamped[:12].count(":") == 2 and stamped[8] == "." and stamped.endswith("[hub] starting demo")
    view.timestamps.setChecked(False)
    assert view.shown_text().splitlines()[1] == "hub      | [hub] starting demo"


def test_scrolling_up_pauses_following_and_the_bottom_resumes_it(qtbot: QtBot) -> None:
    log = StackLog()
    for i in range(300):
        log.note(f"line {i}", service="backend")
    view = view_of(qtbot, log)
    bar = view.text.verticalScrollBar()
    assert view.follow.isChecked() and bar.value() == bar.maximum()
    bar.setValue(10)  # the user scrolls up
    assert not view.follow.isChecked()
    for i in range(300, 400):
        log.note(f"line {i}", service="backend")
    qtbot.waitUntil(lambda: view.shown_text().endswith("line 399"), timeout=2000)
    assert bar.value() == 10  # paused: what the user reads stays put
    view.follow.setChecked(True)
    assert bar.value() == bar.maximum()
    log.note("line 400", service="backend")
    qtbot.waitUntil(lambda: view.shown_text().endswith("line 400"), timeout=2000)
    assert bar.value() == bar.maximum()


def test_history_comes_back_from_the_log_file_after_a_relaunch(qtbot: QtBot, tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "demo.log"
    earlier = StackLog(log_file)  # the last session (or a `cchub up` run) wrote this
    earlier.note("[hub] starting demo")
    earlier.note("old line from the backend", service="backend")
    earlier.close()
    relaunched = StackLog(log_file)  # a new process: nothing in memory
    view = view_of(qtbot, relaunched)
    rows = view.shown_text().splitlines()
    assert rows[0].startswith("— started ")
    assert rows[1:] == ["hub      | [hub] starting demo", "backend  | old line from the backend"]
    relaunched.note("[hub] starting demo")
    relaunched.note("new line", service="backend")
    view.set_source(relaunched, "Log — demo")  # selected again: each line once
    rows = view.shown_text().splitlines()
    assert [r for r in rows if "line" in r] == ["backend  | old line from the backend", "backend  | new line"]
    assert sum(r.startswith("— started ") for r in rows) == 2
    relaunched.close()


def test_save_as_writes_the_lines_shown(qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = StackLog()
    log.note("saved line", service="backend")
    view = view_of(qtbot, log)
    target = tmp_path / "out.log"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    qtbot.mouseClick(view.save_button, Qt.MouseButton.LeftButton)
    assert target.read_text(encoding="utf-8") == "backend  | saved line\n"
