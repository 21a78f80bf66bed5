"""A damaged settings file is moved aside, never silently replaced by the defaults on the next save; the window
says so once at launch and `cchub` in one line on stderr. A value of the wrong type loses only that field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QMainWindow, QMessageBox, QWidget

from cchub_desktop import app as app_module
from cchub_desktop.paths import app_paths
from cchub_desktop.settings import AppSettings, load_settings
from cchub_desktop.store import ProjectStore
from cchub_desktop.ui.startup_notices import SETTINGS_NOTICE
from tests import gui_fixtures
from tests.cli_process import cchub
from tests.gui_fixtures import QtAsync

qt_async = gui_fixtures.qt_async

DAMAGED = [
    pytest.param(b'{"runner_host": "tcp://x:1"', "not valid JSON", id="cut-off"),
    pytest.param(b"", "not valid JSON", id="empty"),
    pytest.param(b'\xff\xfe{"a": 1}', "not valid JSON", id="not-utf8"),
    pytest.param(b'["tcp://x:1"]', "a JSON list, not an object", id="list"),
    pytest.param(b'"tcp://x:1"', "a JSON string, not an object", id="string"),
    pytest.param(b"null", "a JSON null, not an object", id="null"),
]


def copies(folder: Path) -> list[Path]:
    return sorted(folder.glob("settings.json.damaged-*"))


@pytest.mark.parametrize(("content", "why"), DAMAGED)
def test_a_damaged_file_is_moved_aside_and_said(tmp_path: Path, content: bytes, why: str) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(content)
    loaded = load_settings(path)
    assert loaded.settings == AppSettings()
    [kept] = copies(tmp_path)
    assert loaded.kept == kept and kept.read_bytes() == content      # the user's bytes, as they were
    [notice] = loaded.notices
    assert f"The settings file {path} was damaged ({why}" in notice and f"moved to {kept}" in notice
    assert "\n" not in notice
    assert not path.exists()
    AppSettings(runner_host="tcp://new:2").save(path)                  # the next save leaves the copy alone
    assert kept.read_bytes() == content and load_settings(path).notices == ()


def test_two_damaged_files_in_the_same_second_get_two_copies(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    for content in (b"{", b"[1]"):
        path.write_bytes(content)
        load_settings(path)
    assert sorted(p.read_bytes() for p in copies(tmp_path)) == [b"[1]", b"{"]


def test_a_value_of_the_wrong_type_gets_its_default_and_the_others_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"notify_failed": "no", "node_image": 20, "runner_host": None,
                                "start_minimized": True, "source_git_ref": " v2.1 "}))
    loaded = load_settings(path)
    s = loaded.settings
    assert s.notify_failed is True and s.node_image == AppSettings().node_image and s.runner_host == ""
    assert s.start_minimized is True and s.source_git_ref == "v2.1"
    [notice] = loaded.notices
    for said in ('runner_host is null, not text', 'node_image is 20, not text',
                 'notify_failed is "no", not true or false', "the other settings are kept"):
        assert said in notice
    assert loaded.kept is None and path.exists()
    assert "start_minimized" not in notice and "source_git_ref" not in notice


def test_a_good_or_missing_file_says_nothing(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    assert load_settings(path).notices == ()
    AppSettings(runner_host="tcp://a:1").save(path)
    loaded = load_settings(path)
    assert loaded.notices == () and loaded.settings.runner_host == "tcp://a:1" and copies(tmp_path) == []


def test_cchub_says_in_one_line_where_the_damaged_file_went(cchub_home: Path, project_dir: Path) -> None:
    assert cchub("add", "alpha", str(project_dir)).returncode == 0
    settings_file = app_paths().settings_file
    settings_file.write_text('{"postgres_image": "pgvector/pgvector:pg16", ')
    done = cchub("plan", "alpha")
    assert done.returncode == 0 and "project: alpha" in done.stdout
    [kept] = copies(settings_file.parent)
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"cchub: The settings file {settings_file} "
                                                                   "was damaged")
    assert f"moved to {kept}" in done.stderr
    assert cchub("plan", "alpha").stderr == ""      # said once: the copy is aside, the defaults are in force


def test_cchub_names_the_fields_of_the_wrong_type(cchub_home: Path, project_dir: Path) -> None:
    assert cchub("add", "alpha", str(project_dir)).returncode == 0
    settings_file = app_paths().settings_file
    settings_file.write_text(json.dumps({"python_image": ["python:3.12"], "source_git_ref": "v2"}))
    done = cchub("plan", "alpha", "--json")
    assert done.returncode == 0 and json.loads(done.stdout)
    assert done.stderr.count("\n") == 1 and 'python_image is ["python:3.12"], not text' in done.stderr
    assert copies(settings_file.parent) == []


def notice_box() -> QMessageBox | None:
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, QMessageBox) and widget.objectName() == SETTINGS_NOTICE and widget.isVisible():
            return widget
    return None


def visible_window() -> QMainWindow | None:
    found = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMainWindow) and w.isVisible()]
    return found[0] if found else None


def launch(qt_async: QtAsync) -> tuple[object, QMainWindow]:
    args = app_module.parse_args(["--no-engine-check"])
    task = qt_async.spawn(app_module.run_app(QApplication.instance(), args))  # type: ignore[arg-type]
    qt_async.qtbot.waitUntil(lambda: visible_window() is not None, timeout=20000)
    window = visible_window()
    assert window is not None
    return task, window


def test_the_window_says_at_launch_where_the_damaged_file_went(qt_async: QtAsync, project_dir: Path) -> None:
    paths = app_paths()
    paths.ensure()
    ProjectStore(paths.db_file).close()
    paths.settings_file.write_text('{"notify_running": fals')
    task, window = launch(qt_async)
    qt_async.qtbot.waitUntil(lambda: notice_box() is not None, timeout=10000)
    box = notice_box()
    assert box is not None
    [kept] = copies(paths.settings_file.parent)
    assert f"The settings file {paths.settings_file} was damaged" in box.text() and str(kept) in box.text()
    box.close()
    qt_async.qtbot.waitUntil(lambda: notice_box() is None)   # the close button closes it
    window.close()                                     # no tray offscreen: closing quits
    assert qt_async.wait(task, timeout=30) == 0        # type: ignore[arg-type]
    assert kept.read_text() == '{"notify_running": fals'


def test_open_settings_in_the_notice_opens_the_settings_dialog(qt_async: QtAsync) -> None:
    paths = app_paths()
    paths.ensure()
    paths.settings_file.write_text("[]")
    task, window = launch(qt_async)
    qt_async.qtbot.waitUntil(lambda: notice_box() is not None, timeout=10000)
    box = notice_box()
    assert box is not None
    [open_settings] = [b for b in box.buttons() if b.text() == "Open Settings"]
    open_settings.click()

    def dialog() -> QWidget | None:
        found = [w for w in QApplication.allWidgets() if w.objectName() == "settings_dialog" and w.isVisible()]
        return found[0] if found else None

    qt_async.qtbot.waitUntil(lambda: dialog() is not None, timeout=10000)
    shown = dialog()
    assert shown is not None
    shown.close()
    if (left := notice_box()) is not None:
        left.close()
    window.close()
    assert qt_async.wait(task, timeout=30) == 0        # type: ignore[arg-type]


def test_the_window_shows_no_notice_for_good_settings(qt_async: QtAsync) -> None:
    paths = app_paths()
    paths.ensure()
    AppSettings(runner_host="tcp://a:1").save(paths.settings_file)
    task, window = launch(qt_async)
    for _ in range(20):
        qt_async.qtbot.wait(10)
    box = notice_box()
    assert box is None, box.text()
    window.close()
    assert qt_async.wait(task, timeout=30) == 0        # type: ignore[arg-type]
