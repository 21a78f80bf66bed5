"""Without a display the app says so in one line and exits 2, before Qt aborts (exit 134) with a message
about xcb libraries that points the user at the wrong cause."""

from __future__ import annotations

import pytest

from cchub_desktop.display_check import EXIT_NO_DISPLAY, missing_display
from cchub_desktop.ui.first_window import begin


def test_no_display_at_all_names_both_variables() -> None:
    line = missing_display({}, "linux")
    assert line is not None and "neither DISPLAY nor WAYLAND_DISPLAY is set" in line
    assert "\n" not in line and "xcb" not in line


@pytest.mark.parametrize("env", [{"DISPLAY": ":0"}, {"WAYLAND_DISPLAY": "wayland-0"},
                                 {"QT_QPA_PLATFORM": "offscreen"}, {"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":1"}])
def test_a_display_or_a_platform_that_needs_none_passes(env: dict[str, str]) -> None:
    assert missing_display(env, "linux") is None


def test_the_platform_qt_was_told_to_use_decides_which_variable_counts() -> None:
    assert "DISPLAY is set" in (missing_display({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "w"}, "linux") or "")
    assert "WAYLAND_DISPLAY is set" in (missing_display({"QT_QPA_PLATFORM": "wayland", "DISPLAY": ":0"},
                                                        "linux") or "")


def test_macos_and_windows_need_no_variable() -> None:
    assert missing_display({}, "darwin") is None and missing_display({}, "win32") is None


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="X11/Wayland displays")
def test_the_app_exits_2_with_one_line_before_creating_the_qapplication(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit) as exited:
        begin([])
    assert exited.value.code == EXIT_NO_DISPLAY != 134
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cchub-desktop: no display")
