"""Control characters (newline, tab, escape, NUL, DEL, C1, line separators) are refused in project folders, by
`cchub add/edit` and by the project dialog, with a message naming the character; `cchub list` prints rows
stored before this rule escaped, one project per line."""

from __future__ import annotations

import contextlib
import json
import random
import sqlite3
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from cchub_desktop import ports
from cchub_desktop.paths import app_paths
from cchub_desktop.store import ProjectStore, ValidationError
from cchub_desktop.ui.project_dialog import ProjectDialog
from tests.cli_process import cchub
from tests.helpers import free_block_number

CONTROLS = [
    pytest.param("\n", "U+000A (line feed)", id="newline"),
    pytest.param("\r", "U+000D (carriage return)", id="return"),
    pytest.param("\t", "U+0009 (tab)", id="tab"),
    pytest.param("\x1b", "U+001B (escape)", id="escape"),
    pytest.param("\x7f", "U+007F (delete)", id="DEL"),
    pytest.param("\x85", "U+0085", id="C1"),
    pytest.param("\u2028", "U+2028 (line separator)", id="line-separator"),
]


def folder_with(tmp_path: Path, char: str) -> Path:
    folder = tmp_path / f"my{char}project"
    folder.mkdir()
    return folder


def db_bytes() -> bytes:
    paths = app_paths()
    files = [paths.db_file, paths.db_file.with_name(paths.db_file.name + "-wal")]
    return b"|".join(f.read_bytes() if f.exists() else b"" for f in files)


@pytest.fixture
def store() -> ProjectStore:
    paths = app_paths()
    paths.ensure()
    return ProjectStore(paths.db_file)


@pytest.mark.parametrize(("char", "said"), CONTROLS)
def test_the_store_refuses_a_folder_whose_path_has_a_control_character(
        store: ProjectStore, tmp_path: Path, char: str, said: str) -> None:
    folder = folder_with(tmp_path, char)
    with pytest.raises(ValidationError) as caught:
        store.add("alpha", folder)
    assert caught.value.field == "path" and f"control character, {said}" in caught.value.message
    assert char not in caught.value.message
    assert store.list() == []


def test_a_nul_character_is_named_too(store: ProjectStore, project_dir: Path) -> None:
    with pytest.raises(ValidationError, match=r"control character, U\+0000 \(NUL\)"):
        store.add("alpha", f"{project_dir}\x00/x")


def test_a_link_to_such_a_folder_is_refused(store: ProjectStore, tmp_path: Path) -> None:
    link = tmp_path / "plain-name"
    link.symlink_to(folder_with(tmp_path, "\n"))
    with pytest.raises(ValidationError, match=r"leads to a path with a control character, U\+000A"):
        store.add("alpha", link)


@pytest.mark.parametrize(("char", "said"), CONTROLS)
def test_cchub_add_and_edit_refuse_it_in_one_line_and_write_nothing(
        tmp_path: Path, project_dir: Path, char: str, said: str) -> None:
    bad = folder_with(tmp_path, char)
    assert cchub("add", "alpha", str(project_dir)).returncode == 0
    before = db_bytes()
    for argv in (["add", "beta", str(bad)], ["edit", "alpha", "--path", str(bad)]):
        done = cchub(*argv)
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr.startswith("cchub: path: Folder path contains a control character, " + said)
        assert done.stderr.count("\n") == 1 and char not in done.stderr.removesuffix("\n")
        assert db_bytes() == before
    [alpha] = json.loads(cchub("list", "--json").stdout)
    assert alpha["path"] == str(project_dir)


@pytest.mark.parametrize(("char", "said"), CONTROLS[:4])
def test_the_project_dialog_shows_it_next_to_the_folder_and_saves_nothing(
        qtbot: QtBot, store: ProjectStore, tmp_path: Path, char: str, said: str) -> None:
    block = ports.block(free_block_number(start=random.randint(300, 5000)))
    dialog = ProjectDialog(store)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.name_edit, "alpha")
    dialog.path_edit.setText(str(folder_with(tmp_path, char)))
    for field, value in block.as_dict().items():
        dialog.port_spins[f"{field}_port"].setValue(value)
    dialog.save_button.click()
    assert f"control character, {said}" in dialog.error_text("path")
    assert dialog.errors["path"].isVisible() and dialog.isVisible() and dialog.saved_project is None
    assert store.list() == []


def test_cchub_list_prints_rows_stored_before_the_rule_one_per_line(project_dir: Path) -> None:
    assert cchub("add", "alpha", str(project_dir)).returncode == 0
    assert cchub("add", "beta", str(project_dir)).returncode == 0
    stored_path = "/srv/two\nlines\tand\x1b[31mred"
    with contextlib.closing(sqlite3.connect(app_paths().db_file)) as conn:   # as an older version let in
        conn.execute("UPDATE project SET path = ?, name = ? WHERE name = 'alpha'", (stored_path, "al\u2028pha"))
        conn.commit()
    done = cchub("list")
    assert done.returncode == 0 and done.stderr == ""
    lines = done.stdout.splitlines()
    assert len(lines) == 3 and lines[0].startswith("NAME")
    [alpha] = [line for line in lines if line.startswith("al")]
    assert alpha.startswith("al\\u2028pha ") and alpha.endswith("/srv/two\\nlines\\tand\\x1b[31mred")
    assert "\x1b" not in done.stdout and "\u2028" not in done.stdout and "\t" not in done.stdout
    [row] = [p for p in json.loads(cchub("list", "--json").stdout) if p["name"] == "al\u2028pha"]
    assert row["path"] == stored_path                  # the JSON has the stored text exactly
