"""A log history with enormous lines (30 MB in one line, or one long line followed by thousands of lines
without a time stamp) reads back bounded: every line is cut at the cap and says so, in the history read at
a relaunch and in the window's view, whatever the source of the line."""

from __future__ import annotations

import time
from pathlib import Path

from pytestqt.qtbot import QtBot

from cchub_desktop.log_limits import CUT, MAX_LINE
from cchub_desktop.stack import LogLine
from cchub_desktop.ui.log_history import read_history
from cchub_desktop.ui.log_view import LogView

STAMP = "2026-12-01 10:00:0{},000 engine   "


def test_continuation_lines_after_a_long_line_stay_within_the_cap(tmp_path: Path) -> None:
    log_file = tmp_path / "p.log"
    with log_file.open("w", encoding="utf-8") as out:
        out.write(STAMP.format(0) + "start\n")
        out.write("y" * (1024 * 1024) + "\n")   # no time stamp: a continuation of "start"
        for number in range(300):
            out.write(f"continuation {number}\n")
        out.write(STAMP.format(1) + "done\n")
    history = read_history(log_file, 100)
    assert [line.text[:5] for line in history] == ["start", "done"]
    assert history[0].text.endswith(CUT) and len(history[0].text) == MAX_LINE + len(CUT)


def test_a_line_longer_than_a_read_says_it_was_cut(tmp_path: Path) -> None:
    log_file = tmp_path / "p.log"
    with log_file.open("w", encoding="utf-8") as out:
        out.write(STAMP.format(0) + "\U0001f600" * (3 * 1024 * 1024) + "\n")   # 12 MB of 4-byte characters
        out.write(STAMP.format(1) + "after\n")
        out.write(STAMP.format(2) + "last, without a line end")
    texts = [line.text for line in read_history(log_file, 100)]
    assert texts[0].endswith(CUT) and len(texts[0]) <= MAX_LINE + len(CUT)
    assert texts[1:] == ["after", "last, without a line end"]


def test_the_view_cuts_a_huge_line_whatever_its_source(qtbot: QtBot) -> None:
    from cchub_desktop.stack import StackLog

    view = LogView(poll_ms=1_000_000)
    qtbot.addWidget(view)
    view.set_source(StackLog(), "Log — A")
    view.append([LogLine("engine", "z" * (2 * 1024 * 1024), time.time()), LogLine("engine", "next", time.time())])
    shown = view.shown_text().splitlines()
    assert shown[-1].endswith("next")
    assert shown[-2].endswith(CUT) and len(shown[-2]) < MAX_LINE + len(CUT) + 40
