"""Bad input, table-driven, through both front doors: the project dialog and `cchub add`.

Every row gives its own message (naming the field and the rule), the CLI exits 1 with one line on stderr,
the dialog stays open with the message next to the field, and the database file is byte-for-byte what it was.
The root and home folders are accepted only after a warning has been confirmed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from cchub_desktop import ports
from cchub_desktop.cli import main as cchub
from cchub_desktop.paths import app_paths
from cchub_desktop.store import ProjectStore
from cchub_desktop.ui.project_dialog import ProjectDialog
from tests.helpers import free_block_number, listen_on

NOBODY = 65534
S = "backend_port", "frontend_port", "postgres_port", "redis_port"


@dataclass
class World:
    """A fresh app home with one existing project ("Alpha") and what a row may need around it."""

    home: Path
    folder: Path            # a good project folder
    existing: ports.PortBlock
    free: ports.PortBlock   # a block free on this machine for the new project
    held: list[socket.socket] = field(default_factory=list)

    def db_bytes(self) -> dict[str, bytes]:
        """The database as stored: the main file and its write-ahead log (the -shm index is not data)."""
        data = self.home / "data"
        return {p.name: p.read_bytes() for p in sorted(data.glob("projects.sqlite3*")) if not p.name.endswith("-shm")}

    def hold(self, port: int) -> int:
        self.held.append(listen_on(port, "0.0.0.0"))
        return port


@dataclass(frozen=True)
class Row:
    id: str
    field: str                                    # the form field the message belongs to
    message: str                                  # a fragment of its message
    name: str = "Beta"
    path: Callable[[World], str] = lambda w: str(w.folder)
    ports: Callable[[World], dict[str, object]] = lambda w: {}
    expose_db: bool = False
    cli_only: bool = False                        # the dialog's spin boxes cannot even hold the value
    dialog_only: bool = False                     # `cchub add` resolves it against the current folder


def _file(w: World) -> str:
    target = w.folder / "notes.txt"
    target.write_text("not a folder\n")
    return str(target)


ROWS = [
    Row("relative path", "path", "Folder must be an absolute path (got 'projects/beta')",
        path=lambda w: "projects/beta", dialog_only=True),
    Row("nonexistent path", "path", "does not exist", path=lambda w: str(w.folder / "no-such-folder")),
    Row("file, not folder", "path", "is a file, not a folder", path=_file),
    Row("empty name", "name", "Name is required."),
    Row("blank name", "name", "Name is required."),
    Row("duplicate name (other case)", "name", "A project named 'ALPHA' already exists", name="ALPHA"),
    Row("over-long name", "name", "Name is 65 characters long; the limit is 64.", name="x" * 65),
    Row("control character in name", "name", "invisible or control character (U+0007)", name="be\x07ta"),
    Row("bidi override in name", "name", "invisible or control character (U+202E)", name="be\u202eta"),
    Row("port below 1024", "backend_port", "Backend port 80 is out of range; use 1024–65535.",
        ports=lambda w: {"backend_port": 80}),
    Row("port above 65535", "frontend_port", "Frontend port 70000 is out of range",
        ports=lambda w: {"frontend_port": 70000}),
    Row("port not a number", "redis_port", "Redis port must be a whole number", cli_only=True,
        ports=lambda w: {"redis_port": "sixty"}),
    Row("port twice in the project", "frontend_port", "Frontend port {backend} is already this project's backend",
        ports=lambda w: {"backend_port": w.free.backend, "frontend_port": w.free.backend}),
    Row("port of another project", "postgres_port", "PostgreSQL port {other_pg} is used by project 'Alpha'",
        ports=lambda w: {"postgres_port": w.existing.postgres}),
    Row("port held by another process", "backend_port", "Backend port {backend} is in use by ",
        ports=lambda w: {"backend_port": w.hold(w.free.backend)}),
    Row("db port held, exposed", "redis_port", "Redis port {redis} is in use by ", expose_db=True,
        ports=lambda w: {"redis_port": w.hold(w.free.redis)}),
]
ROWS_BY_ID = {r.id: r for r in ROWS}
NAMES = {"empty name": "", "blank name": "   "}


def _name(row: Row) -> str:
    return NAMES.get(row.id, row.name)


def _expected(row: Row, w: World) -> str:
    return row.message.format(backend=w.free.backend, redis=w.free.redis, other_pg=w.existing.postgres)


@pytest.fixture
def world(cchub_home: Path, tmp_path: Path) -> Iterator[World]:
    paths = app_paths()
    paths.ensure()
    n = free_block_number(start=2000 + os.getpid() % 3000, count=2)
    existing, free = ports.block(n), ports.block(n + 1)
    folder = tmp_path / "beta"
    folder.mkdir()
    store = ProjectStore(paths.db_file)
    store.add("Alpha", folder, **{f"{k}_port": v for k, v in existing.as_dict().items()})
    store.close()
    w = World(cchub_home, folder, existing, free)
    yield w
    for sock in w.held:
        sock.close()


def _full_ports(row: Row, w: World) -> dict[str, object]:
    given = row.ports(w)
    return {f: given.get(f, getattr(w.free, f.removesuffix("_port"))) for f in S}


def run_cli(row: Row, w: World, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    argv = ["add", _name(row), row.path(w)]
    for f, value in _full_ports(row, w).items():
        argv += ["--" + f.replace("_", "-"), str(value)]
    if row.expose_db:
        argv.append("--expose-db")
    capsys.readouterr()
    code = cchub(argv)
    return code, capsys.readouterr().err


@pytest.mark.parametrize("row_id", [r.id for r in ROWS if not r.dialog_only])
def test_cchub_add_refuses_bad_input_with_its_message_and_writes_nothing(
        row_id: str, world: World, capsys: pytest.CaptureFixture[str]) -> None:
    row = ROWS_BY_ID[row_id]
    before = world.db_bytes()
    code, err = run_cli(row, world, capsys)
    assert code == 1
    expected = _expected(row, world)
    assert err.startswith(f"cchub: {row.field}: ") and expected in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert world.db_bytes() == before


def open_dialog(qtbot: QtBot, store: ProjectStore) -> ProjectDialog:
    dialog = ProjectDialog(store)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def fill(dialog: ProjectDialog, name: str, path: str, values: dict[str, object], expose_db: bool) -> None:
    dialog.name_edit.setText(name)
    dialog.path_edit.setText(path)
    for f, value in values.items():
        dialog.port_spins[f].setValue(int(value))  # type: ignore[call-overload]
    dialog.expose_db.setChecked(expose_db)


def click_save(dialog: ProjectDialog, qtbot: QtBot) -> None:
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)


@pytest.mark.parametrize("row_id", [r.id for r in ROWS if not r.cli_only])
def test_the_project_dialog_shows_each_rule_next_to_its_field_and_writes_nothing(
        row_id: str, world: World, qtbot: QtBot) -> None:
    row = ROWS_BY_ID[row_id]
    store = ProjectStore(app_paths().db_file)
    try:
        dialog = open_dialog(qtbot, store)
        fill(dialog, _name(row), row.path(world), _full_ports(row, world), row.expose_db)
        before = world.db_bytes()
        click_save(dialog, qtbot)
        assert dialog.isVisible() and dialog.saved_project is None
        assert _expected(row, world) in dialog.error_text(row.field), dialog.error_text(row.field)
        others = [f for f in dialog.errors if f != row.field]
        assert all(dialog.error_text(f) == "" for f in others)
        assert world.db_bytes() == before
    finally:
        store.close()


# ----- unreadable folders: root can read anything, so the check runs as an unprivileged user -------------

@contextlib.contextmanager
def unprivileged() -> Iterator[None]:
    """Run the block as `nobody` when the tests run as root (real and effective ids; root is kept as the
    saved id to come back)."""
    if os.geteuid() != 0:
        yield
        return
    os.setresgid(NOBODY, NOBODY, 0)
    os.setresuid(NOBODY, NOBODY, 0)
    try:
        yield
    finally:
        os.setresuid(0, 0, 0)
        os.setresgid(0, 0, 0)


@pytest.fixture
def private_world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """An app home the unprivileged user owns (pytest's own temp folders are private to root)."""
    base = Path(tempfile.mkdtemp(prefix="cchub-unreadable-"))
    home = base / "home"
    monkeypatch.setenv("CCHUB_HOME", str(home))
    paths = app_paths()
    paths.ensure()
    folder = base / "beta"
    folder.mkdir()
    n = free_block_number(start=2500 + os.getpid() % 3000, count=2)
    store = ProjectStore(paths.db_file)
    store.add("Alpha", folder, **{f"{k}_port": v for k, v in ports.block(n).as_dict().items()})
    store.close()
    locked = base / "locked"
    locked.mkdir()
    if os.geteuid() == 0:
        for path in [base, *base.rglob("*")]:
            os.chown(path, NOBODY, NOBODY)
    locked.chmod(0)
    try:
        yield World(home, locked, ports.block(n), ports.block(n + 1))
    finally:
        locked.chmod(0o700)
        shutil.rmtree(base, ignore_errors=True)


def test_an_unreadable_folder_is_refused_by_cchub_add(private_world: World,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    w = private_world
    before = w.db_bytes()
    capsys.readouterr()
    with unprivileged():
        code = cchub(["add", "Beta", str(w.folder)])
    err = capsys.readouterr().err
    assert code == 1
    assert err == f"cchub: path: Folder '{w.folder}' is not readable by you; check its permissions.\n"
    assert w.db_bytes() == before


def test_an_unreadable_folder_is_refused_by_the_dialog(private_world: World, qtbot: QtBot) -> None:
    w = private_world
    with unprivileged():
        store = ProjectStore(app_paths().db_file)
        try:
            dialog = open_dialog(qtbot, store)
            fill(dialog, "Beta", str(w.folder), {}, False)
            before = w.db_bytes()
            click_save(dialog, qtbot)
            assert "is not readable by you" in dialog.error_text("path")
            assert dialog.saved_project is None and w.db_bytes() == before
        finally:
            store.close()


# ----- the root and home folders: a warning first, saved only once confirmed ---------------------------

@pytest.fixture(params=["root", "home"])
def broad_folder(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    if request.param == "root":
        return os.path.abspath(os.sep), "This is the root folder of the disk"
    home = tmp_path / "someone"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return str(home), "This is your home folder"


def test_cchub_add_needs_allow_broad_path_for_the_root_or_home_folder(
        world: World, broad_folder: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    folder, warning = broad_folder
    block = {f"--{f.replace('_', '-')}": str(getattr(world.free, f.removesuffix("_port"))) for f in S}
    args = [item for pair in block.items() for item in pair]
    before = world.db_bytes()
    capsys.readouterr()
    assert cchub(["add", "Everything", folder, *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"cchub: path: {warning}") and "Pass --allow-broad-path to confirm." in err
    assert world.db_bytes() == before
    assert cchub(["add", "Everything", folder, *args, "--allow-broad-path"]) == 0
    store = ProjectStore(app_paths().db_file)
    assert store.get_by_name("everything").path == folder
    store.close()


def test_the_dialog_asks_to_confirm_the_root_or_home_folder_then_saves_it(
        world: World, broad_folder: tuple[str, str], qtbot: QtBot) -> None:
    folder, warning = broad_folder
    store = ProjectStore(app_paths().db_file)
    try:
        dialog = open_dialog(qtbot, store)
        fill(dialog, "Everything", folder, _full_ports(Row("x", "", ""), world), False)
        before = world.db_bytes()
        click_save(dialog, qtbot)
        assert dialog.error_text("path").startswith(warning)
        assert dialog.broad_ok.isVisible() and not dialog.broad_ok.isChecked()
        assert dialog.saved_project is None and world.db_bytes() == before
        box = dialog.broad_ok   # the user ticks "Use this folder anyway" (its box, at the left)
        qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))
        assert box.isChecked()
        click_save(dialog, qtbot)
        assert dialog.saved_project is not None and dialog.saved_project.path == folder
        assert not dialog.isVisible()
        assert store.get_by_name("everything").path == folder
    finally:
        store.close()
