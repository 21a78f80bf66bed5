"""A project database that cannot be used at launch: the app starts, says what is wrong and offers what fixes
it — restore the pre-migration backup or start fresh (keeping the damaged file), retry once another program
lets go of it, or go on with a read-only one — and never deletes the user's file."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QMainWindow, QMessageBox

from cchub_desktop import app as app_module
from cchub_desktop.paths import AppPaths, app_paths
from cchub_desktop.store import ProjectStore
from cchub_desktop.store.migrations import backup_copy
from cchub_desktop.ui.db_recovery import DIALOG_NAME, open_store_with_recovery
from tests import gui_fixtures
from tests.gui_fixtures import QtAsync

qt_async = gui_fixtures.qt_async

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="file modes and locks as on POSIX")


@pytest.fixture
def paths(project_dir: Path) -> AppPaths:
    """An app home whose database holds one project ("alpha")."""
    p = app_paths()
    p.ensure()
    store = ProjectStore(p.db_file)
    store.add("alpha", project_dir)
    store.close()
    return p


def make_backup(paths: AppPaths) -> Path:
    """The copy the store makes before a migration (the same function, the same name pattern)."""
    with contextlib.closing(sqlite3.connect(paths.db_file)) as conn:
        return backup_copy(conn, paths.db_file, 1)


def damage(db_file: Path) -> bytes:
    data = bytearray(db_file.read_bytes())
    data[100:3000] = b"\xde\xad\xbe\xef" * 725
    db_file.write_bytes(bytes(data))
    return bytes(data)


def the_box(qt: QtAsync, timeout: float = 20) -> QMessageBox:
    def find() -> QMessageBox | None:
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, QMessageBox) and widget.objectName() == DIALOG_NAME and widget.isVisible():
                return widget
        return None

    qt.qtbot.waitUntil(lambda: find() is not None, timeout=int(timeout * 1000))
    box = find()
    assert box is not None
    return box


def buttons(box: QMessageBox) -> list[str]:
    return [b.text() for b in box.buttons()]


def press(box: QMessageBox, prefix: str) -> None:
    [button] = [b for b in box.buttons() if b.text().startswith(prefix)]
    button.click()


def names(store: ProjectStore | None) -> list[str]:
    assert store is not None
    try:
        return [p.name for p in store.list()]
    finally:
        store.close()


def kept_files(paths: AppPaths) -> list[Path]:
    return sorted(paths.data_dir.glob("projects.sqlite3.damaged-*"))


def test_a_damaged_database_can_be_restored_from_the_pre_migration_backup(
        qt_async: QtAsync, paths: AppPaths) -> None:
    make_backup(paths)
    damaged = damage(paths.db_file)
    task = qt_async.spawn(open_store_with_recovery(paths))
    box = the_box(qt_async)
    assert "is damaged" in box.text() and "the damaged file is kept" in box.text()
    assert buttons(box)[0].startswith("Restore the backup of ")
    assert buttons(box)[1:] == ["Start with an empty database", "Quit"]
    press(box, "Restore the backup")
    assert names(qt_async.wait(task)) == ["alpha"]
    (kept,) = [k for k in kept_files(paths) if not k.name.endswith(("-wal", "-shm"))]
    assert kept.read_bytes() == damaged             # the user's file, untouched, next to the new one


def test_a_damaged_database_without_a_backup_can_start_fresh_and_keeps_the_file(
        qt_async: QtAsync, paths: AppPaths) -> None:
    damaged = damage(paths.db_file)
    task = qt_async.spawn(open_store_with_recovery(paths))
    box = the_box(qt_async)
    assert buttons(box) == ["Start with an empty database", "Quit"]
    press(box, "Start with an empty database")
    assert names(qt_async.wait(task)) == []
    assert [k.read_bytes() for k in kept_files(paths) if not k.name.endswith(("-wal", "-shm"))] == [damaged]


def test_quitting_from_the_dialog_changes_nothing(qt_async: QtAsync, paths: AppPaths) -> None:
    damaged = damage(paths.db_file)
    task = qt_async.spawn(open_store_with_recovery(paths))
    press(the_box(qt_async), "Quit")
    assert qt_async.wait(task) is None
    assert paths.db_file.read_bytes() == damaged and kept_files(paths) == []


def test_a_database_from_a_newer_app_only_offers_to_quit(qt_async: QtAsync, paths: AppPaths) -> None:
    with contextlib.closing(sqlite3.connect(paths.db_file)) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
        conn.commit()
    before = paths.db_file.read_bytes()
    task = qt_async.spawn(open_store_with_recovery(paths))
    box = the_box(qt_async)
    assert "newer CommandCenter Hub" in box.text() and "Update the app" in box.text()
    assert buttons(box) == ["Quit"]
    press(box, "Quit")
    assert qt_async.wait(task) is None
    assert paths.db_file.read_bytes() == before


@contextlib.contextmanager
def locked_by_another_process(db_file: Path) -> Iterator[subprocess.Popen[str]]:
    """Another program holding an exclusive lock on the database until its stdin closes (then it exits 0)."""
    code = ("import sqlite3, sys\n"
            f"c = sqlite3.connect({str(db_file)!r}, isolation_level=None)\n"
            "c.execute('PRAGMA locking_mode=EXCLUSIVE')\n"
            "c.execute('BEGIN EXCLUSIVE')\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n"
            "c.execute('ROLLBACK')\n"
            "c.close()\n")
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        yield holder
    finally:
        if holder.poll() is None:
            assert holder.stdin is not None
            holder.stdin.close()
        assert holder.wait(10) == 0


@posix_only
def test_a_database_locked_by_another_program_can_be_retried_once_it_lets_go(
        qt_async: QtAsync, paths: AppPaths) -> None:
    before = paths.db_file.read_bytes()
    with locked_by_another_process(paths.db_file) as holder:
        task = qt_async.spawn(open_store_with_recovery(paths))
        box = the_box(qt_async, timeout=5)   # at once, not after SQLite's 10 s busy timeout
        assert "is locked by another program" in box.text()
        assert buttons(box) == ["Retry", "Quit"]
        assert holder.stdin is not None
        holder.stdin.close()   # the other program ends
        assert holder.wait(10) == 0
    press(box, "Retry")
    assert names(qt_async.wait(task, timeout=30)) == ["alpha"]
    assert kept_files(paths) == [] and paths.db_file.read_bytes() == before


@contextlib.contextmanager
def read_only(db_file: Path) -> Iterator[None]:
    """The database file cannot be written: immutable for root (who ignores file modes), else mode 0444."""
    if os.geteuid() == 0:
        done = subprocess.run(["chattr", "+i", str(db_file)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.skip(f"cannot make a file read-only for root here: {done.stderr.strip()}")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(db_file)], check=True)
    else:
        db_file.chmod(0o444)
        try:
            yield
        finally:
            db_file.chmod(0o644)


@posix_only
def test_a_read_only_database_is_said_and_can_be_used_without_saving(qt_async: QtAsync, paths: AppPaths) -> None:
    with read_only(paths.db_file):
        task = qt_async.spawn(open_store_with_recovery(paths))
        box = the_box(qt_async)
        assert "is read-only" in box.text() and "nothing you add or change is saved" in box.text()
        assert buttons(box) == ["Retry", "Continue without saving", "Quit"]
        press(box, "Continue without saving")
        assert names(qt_async.wait(task)) == ["alpha"]


@posix_only
def test_a_read_only_database_made_writable_is_used_after_retry(qt_async: QtAsync, paths: AppPaths) -> None:
    with read_only(paths.db_file):
        task = qt_async.spawn(open_store_with_recovery(paths))
        box = the_box(qt_async)
    press(box, "Retry")   # the user fixed the permissions meanwhile
    store = qt_async.wait(task)
    assert store is not None
    try:
        store.add("beta", paths.data_dir)
        assert [p.name for p in store.list()] == ["alpha", "beta"]
    finally:
        store.close()


def test_the_app_launches_on_a_damaged_database_after_the_choice(
        qt_async: QtAsync, paths: AppPaths) -> None:
    """The real launch (run_app): the dialog comes before the window, and the app then works and quits 0."""
    make_backup(paths)
    damage(paths.db_file)
    args = app_module.parse_args(["--no-engine-check"])
    launch = qt_async.spawn(app_module.run_app(QApplication.instance(), args))  # type: ignore[arg-type]
    press(the_box(qt_async), "Restore the backup")

    def window() -> QMainWindow | None:
        found = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMainWindow) and w.isVisible()]
        return found[0] if found else None

    qt_async.qtbot.waitUntil(lambda: window() is not None)
    main = window()
    assert main is not None and main.model.rowCount() == 1  # type: ignore[attr-defined]
    main.close()                                            # no tray offscreen: closing quits
    assert qt_async.wait(launch, timeout=30) == 0



def test_cchub_on_a_damaged_database_says_where_to_repair_it_and_changes_nothing(
        paths: AppPaths, capsys: pytest.CaptureFixture[str]) -> None:
    from cchub_desktop.cli import main as cchub

    damaged = damage(paths.db_file)
    assert cchub(["list"]) == 1
    err = capsys.readouterr().err
    assert "is damaged. Restore a backup or start with a fresh database" in err
    assert "Open the CommandCenter Hub app: it offers both." in err and "Traceback" not in err
    assert paths.db_file.read_bytes() == damaged and kept_files(paths) == []
