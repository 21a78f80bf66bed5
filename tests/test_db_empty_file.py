"""A 0-byte project database is damage (a full disk, a copy or sync cut off), never "no projects yet": `cchub`
says so and leaves the file alone, the app offers to restore a backup or start fresh and keeps the file. The
app itself never leaves a 0-byte database behind: a new one appears complete."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from cchub_desktop.paths import AppPaths, app_paths
from cchub_desktop.store import ProjectStore
from cchub_desktop.store.migrations import backup_copy
from cchub_desktop.ui.db_recovery import open_store_with_recovery
from tests import gui_fixtures
from tests.cli_process import cchub, start_cchub
from tests.gui_fixtures import QtAsync
from tests.test_reliability_db_startup import buttons, kept_files, names, press, the_box

qt_async = gui_fixtures.qt_async
EMPTY = "is empty (0 bytes)"


@pytest.fixture
def emptied(project_dir: Path) -> AppPaths:
    """An app home whose database held one project ("alpha") and was then truncated to 0 bytes."""
    paths = app_paths()
    paths.ensure()
    store = ProjectStore(paths.db_file)
    store.add("alpha", project_dir)
    store.close()
    paths.db_file.write_bytes(b"")
    return paths


def siblings(paths: AppPaths) -> list[str]:
    return sorted(p.name for p in paths.data_dir.iterdir() if p.is_file())


@pytest.mark.parametrize("argv", [["list"], ["list", "--json"], ["add", "beta", "PROJECT"],
                                  ["edit", "alpha", "--name", "gamma"], ["remove", "alpha"]])
def test_cchub_on_an_empty_database_says_so_and_changes_nothing(
        emptied: AppPaths, project_dir: Path, argv: list[str]) -> None:
    before = siblings(emptied)
    done = cchub(*[str(project_dir) if a == "PROJECT" else a for a in argv])
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"The project database {emptied.db_file} {EMPTY}" in done.stderr
    assert "Restore a backup or start with a fresh database" in done.stderr
    assert "Nothing was changed. Open the CommandCenter Hub app: it offers both." in done.stderr
    assert emptied.db_file.stat().st_size == 0 and siblings(emptied) == before


def test_the_app_offers_to_start_fresh_and_keeps_the_empty_file(qt_async: QtAsync, emptied: AppPaths) -> None:
    task = qt_async.spawn(open_store_with_recovery(emptied))
    box = the_box(qt_async)
    assert EMPTY in box.text() and "the damaged file is kept" in box.text()
    assert buttons(box) == ["Start with an empty database", "Quit"]
    press(box, "Start with an empty database")
    assert names(qt_async.wait(task)) == []
    [kept] = kept_files(emptied)
    assert kept.stat().st_size == 0
    assert emptied.db_file.stat().st_size > 0


def test_the_app_offers_the_backup_of_an_emptied_database(qt_async: QtAsync, project_dir: Path) -> None:
    paths = app_paths()
    paths.ensure()
    store = ProjectStore(paths.db_file)
    store.add("alpha", project_dir)
    store.close()
    with contextlib.closing(sqlite3.connect(paths.db_file)) as conn:
        backup_copy(conn, paths.db_file, 2)   # as a migration makes it
    paths.db_file.write_bytes(b"")
    task = qt_async.spawn(open_store_with_recovery(paths))
    box = the_box(qt_async)
    assert EMPTY in box.text() and buttons(box)[0].startswith("Restore the backup of ")
    press(box, "Restore the backup")
    assert names(qt_async.wait(task)) == ["alpha"]


def test_quitting_leaves_the_empty_file_as_it_was(qt_async: QtAsync, emptied: AppPaths) -> None:
    before = siblings(emptied)
    task = qt_async.spawn(open_store_with_recovery(emptied))
    press(the_box(qt_async), "Quit")
    assert qt_async.wait(task) is None
    assert emptied.db_file.stat().st_size == 0 and siblings(emptied) == before


def test_a_missing_database_is_created_complete_even_by_several_processes_at_once(cchub_home: Path) -> None:
    """No process ever sees another one's half-created database as a 0-byte file: each says 'No projects
    yet', and what is left is one database and nothing else."""
    processes = [start_cchub("list") for _ in range(6)]
    results = [(p.wait(60), *p.communicate()) for p in processes]
    assert [code for code, _out, _err in results] == [0] * 6, results
    assert all(out.startswith("No projects yet") and err == "" for _code, out, err in results), results
    paths = app_paths()
    assert siblings(paths) == ["projects.sqlite3"] and paths.db_file.stat().st_size > 0
    assert cchub("list", "--json").stdout.strip() == "[]"
