"""One owner per project: the window and any number of `cchub` processes agree on who runs a project, and
nothing is lost. Each scenario below once happened (a live database wiped, two stacks on one volume, states
stuck at running): here with real `cchub` processes, the fake engine, and the window in this process."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_dagger.fixtures import FakeDagger, FreePortBlock
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from cchub_desktop.app import AppController
from cchub_desktop.lease import RUNNER, owner_of
from cchub_desktop.paths import app_paths
from cchub_desktop.settings import AppSettings
from cchub_desktop.stack.secrets_store import secrets_file
from cchub_desktop.store import ProjectStatus, ProjectStore
from cchub_desktop.ui.log_history import parse_line
from tests import gui_fixtures
from tests.gui_fixtures import QtAsync
from tests.helpers import key_of, wait_for
from tests.lease_holder import LeaseHolder
from tests.test_cli_up import Up, add_project

qt_async = gui_fixtures.qt_async
pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals and flock")
S = ProjectStatus


def cchub(fake: FakeDagger, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cchub_desktop.cli", *args], env={**os.environ, **fake.env()},
                          capture_output=True, text=True, timeout=timeout)


def postgres_starts(fake: FakeDagger) -> list[dict[str, object]]:
    return [r for r in fake.journal.services("start") if r["service_kind"] == "postgres"]


def wipes(fake: FakeDagger) -> list[dict[str, object]]:
    return [e for e in fake.journal.execs() if "-delete" in " ".join(e["command"])]


def record(name: str) -> tuple[str, str | None]:
    store = ProjectStore(app_paths().db_file)
    try:
        p = store.get_by_name(name)
        return p.status, p.last_error
    finally:
        store.close()


def lease_pid(name: str) -> int | None:
    owner = owner_of(app_paths().runtime_dir, key_of(name))
    return None if owner is None else owner.pid


@contextlib.contextmanager
def window(qapp: QApplication, aio: QtAsync) -> Iterator[AppController]:
    """The app as a launch builds it (reconcile at launch, the store follower), on this process's loop."""
    paths = app_paths()
    store = ProjectStore(paths.db_file)
    controller = AppController(qapp, paths, store, AppSettings.load(paths.settings_file))
    controller.show_window()
    try:
        yield controller
    finally:
        aio.wait(controller.begin_quit(0), timeout=60)
        aio.run(controller.wait_done(), timeout=10)
        store.close()


def test_a_second_cchub_up_is_refused_at_once_even_while_the_first_is_starting(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    fake_dagger_env.set(start_delay=2)   # the first one is still starting when the second one comes
    add_project(project_dir, port_block, "A")
    first = Up(fake_dagger_env, "A")
    try:
        wait_for(lambda: lease_pid("A") == first.proc.pid, 60)
        second = cchub(fake_dagger_env, "up", "A")
        assert second.returncode == 1
        assert second.stderr == (f"cchub: 'A' is starting in `cchub up` (pid {first.proc.pid}) — stop it there, "
                                 "or run `cchub stop A`.\n")
        assert "Frontend:" not in second.stdout
        wait_for(lambda: first.printed("Press Ctrl-C"), 90)
        assert record("A")[0] == "running"                 # the refusal wrote no error over a live project
        assert len(postgres_starts(fake_dagger_env)) == 1  # one PostgreSQL on the volume, ever
        status = cchub(fake_dagger_env, "status", "A")
        assert status.stdout.startswith(f"A: running  in `cchub up` (pid {first.proc.pid}) since ")
        stop = cchub(fake_dagger_env, "stop", "A")
        assert stop.returncode == 0 and "Stopped 'A'." in stop.stdout, stop.stderr
        code, _out, err = first.finish(60)
    finally:
        if first.proc.poll() is None:
            first.proc.kill()
            first.proc.wait()
    assert code == 0, err
    assert record("A") == ("stopped", None)
    fake_dagger_env.sessions_exited(10)


def test_the_window_launched_beside_cchub_up_shows_it_running_there_and_nothing_can_wipe_it(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path, qapp: QApplication,
        qt_async: QtAsync, qtbot: QtBot) -> None:
    add_project(project_dir, port_block, "B")
    up = Up(fake_dagger_env, "B")
    try:
        wait_for(lambda: up.printed("Press Ctrl-C"), 90)
        secrets = secrets_file(app_paths().secrets_dir, key_of("B"))
        kept = secrets.read_bytes()
        with window(qapp, qt_async) as app:
            pid = app.store.get_by_name("B").id
            assert pid is not None
            orch = app.orchestrator
            # reconcile-at-launch left it alone: it runs, in cchub up
            assert orch.state(pid) == S.RUNNING and record("B")[0] == "running"
            assert orch.health(pid) == f"in `cchub up` (pid {up.proc.pid})"
            app.window.select_project(pid)
            log_file = app_paths().logs_dir / f"{key_of('B')}.log"   # the file cchub up writes
            qtbot.waitUntil(lambda: app.follower is not None and app.follower._tail is not None, timeout=5000)
            seen = log_file.stat().st_size
            # Start in the window: refused at once, said in the status bar, never an error
            app.bridge.start(pid)
            message = app.window.statusBar().currentMessage()
            assert message == (f"'B' is running in `cchub up` (pid {up.proc.pid}) — stop it there, or run "
                               "`cchub stop B`.")
            assert orch.state(pid) == S.RUNNING and record("B") == ("running", None)
            # another terminal tries to delete its data: refused, nothing emptied, passwords untouched
            removed = cchub(fake_dagger_env, "remove", "B", "--delete-data", "--yes")
            assert removed.returncode == 1 and f"(pid {up.proc.pid})" in removed.stderr
            assert wipes(fake_dagger_env) == [] and secrets.read_bytes() == kept
            # stopped from the terminal: the window follows
            assert cchub(fake_dagger_env, "stop", "B").returncode == 0
            qtbot.waitUntil(lambda: orch.state(pid) == S.STOPPED, timeout=30000)
            assert orch.health(pid) is None
            # what cchub up wrote to the log meanwhile reached the window's log pane
            written = [line for line in log_file.read_bytes()[seen:].decode().splitlines() if line.strip()]
            assert written, "cchub up wrote nothing while the window watched"
            last = parse_line(written[-1])
            assert last is not None
            qtbot.waitUntil(lambda: last.text in app.window.log_view.text.toPlainText(), timeout=5000)
        code, _, err = up.finish(60)
    finally:
        if up.proc.poll() is None:
            up.proc.kill()
            up.proc.wait()
    assert code == 0, err
    assert len(postgres_starts(fake_dagger_env)) == 1
    fake_dagger_env.sessions_exited(10)


def test_an_owner_killed_with_sigkill_leaves_no_stuck_state(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path, qapp: QApplication,
        qt_async: QtAsync) -> None:
    add_project(project_dir, port_block, "C")
    up = Up(fake_dagger_env, "C")
    wait_for(lambda: up.printed("Press Ctrl-C"), 90)
    up.proc.kill()                                   # kill -9: it records nothing more
    up.finish(30)
    assert record("C")[0] == "running"               # what it recorded last …
    assert lease_pid("C") is None                    # … but its lease died with it
    assert cchub(fake_dagger_env, "status", "C").stdout.strip() == "C: stopped"
    with window(qapp, qt_async) as app:
        pid = app.store.get_by_name("C").id
        assert pid is not None
        assert app.orchestrator.state(pid) == S.STOPPED      # reset at launch: its lease was free
    assert cchub(fake_dagger_env, "edit", "C", "--frontend-port", str(port_block.frontend + 1)).returncode == 0
    assert cchub(fake_dagger_env, "remove", "C").returncode == 0


def test_cchub_up_whose_project_was_deleted_behind_its_back_says_one_line_and_exits_0(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    add_project(project_dir, port_block, "D")
    up = Up(fake_dagger_env, "D")
    try:
        wait_for(lambda: up.printed("Press Ctrl-C"), 90)
        with sqlite3.connect(app_paths().db_file) as conn:   # by hand, or by an older version without leases
            conn.execute("DELETE FROM project WHERE name = 'D'")
        up.proc.send_signal(signal.SIGTERM)
        code, out, err = up.finish(60)
    finally:
        if up.proc.poll() is None:
            up.proc.kill()
            up.proc.wait()
    assert code == 0, err
    assert "Traceback" not in err and err == ""
    assert out.splitlines()[-1] == "'D' was removed while it ran; its stack is stopped."
    fake_dagger_env.sessions_exited(10)


def test_lost_secrets_are_never_silently_regenerated(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    add_project(project_dir, port_block, "E")
    first = Up(fake_dagger_env, "E")
    wait_for(lambda: first.printed("Press Ctrl-C"), 90)
    first.proc.send_signal(signal.SIGTERM)
    assert first.finish(60)[0] == 0
    path = secrets_file(app_paths().secrets_dir, key_of("E"))
    original = path.read_bytes()
    store = ProjectStore(app_paths().db_file)
    assert store.get_by_name("E").secrets_fingerprint is not None      # recorded at the first start
    store.close()

    path.unlink()
    refused = cchub(fake_dagger_env, "up", "E")
    assert refused.returncode == 1
    assert "The passwords of 'E' are missing" in refused.stderr and "cchub reset-db 'E'" in refused.stderr
    assert not path.exists()                                             # none made behind the user's back
    assert record("E")[0] == "error"

    path.write_text('{"version": 1, "db_password": "xxxxxxxxxxxxxxxxxxxxxxxx", "redis_password": '
                    '"xxxxxxxxxxxxxxxxxxxxxxxx", "secret_key": "xxxxxxxxxxxxxxxxxxxxxxxx", '
                    '"encryption_salt": "xxxxxxxxxxxxxxxxxxxxxxxx"}')
    path.chmod(0o600)
    refused = cchub(fake_dagger_env, "up", "E")
    assert refused.returncode == 1 and "are not the ones 'E''s database was made with" in refused.stderr

    path.write_bytes(original)                                           # restored from a backup
    again = Up(fake_dagger_env, "E")
    wait_for(lambda: again.printed("Press Ctrl-C"), 90)
    again.proc.send_signal(signal.SIGTERM)
    assert again.finish(60)[0] == 0

    path.unlink()                                                        # or: reset, which deletes the data
    reset = cchub(fake_dagger_env, "reset-db", "E", "--yes")
    assert reset.returncode == 0, reset.stderr
    assert len(wipes(fake_dagger_env)) == 3   # its database, Redis and rag_storage
    fresh = Up(fake_dagger_env, "E")
    wait_for(lambda: fresh.printed("Press Ctrl-C"), 90)
    fresh.proc.send_signal(signal.SIGTERM)
    assert fresh.finish(60)[0] == 0
    assert path.exists() and path.read_bytes() != original
    fake_dagger_env.sessions_exited(10)


def test_the_window_follows_projects_added_and_removed_by_cchub(
        fake_dagger_env: FakeDagger, project_dir: Path, qapp: QApplication, qt_async: QtAsync,
        qtbot: QtBot) -> None:
    with window(qapp, qt_async) as app:
        assert app.window.model.rowCount() == 0
        assert cchub(fake_dagger_env, "add", "Fresh", str(project_dir)).returncode == 0
        qtbot.waitUntil(lambda: [r.project.name for r in app.window.model.rows()] == ["Fresh"], timeout=10000)
        assert cchub(fake_dagger_env, "edit", "Fresh", "--name", "Renamed").returncode == 0
        qtbot.waitUntil(lambda: [r.project.name for r in app.window.model.rows()] == ["Renamed"], timeout=10000)
        assert cchub(fake_dagger_env, "remove", "Renamed").returncode == 0
        qtbot.waitUntil(lambda: app.window.model.rowCount() == 0, timeout=10000)


def test_cchub_start_and_stop_hand_the_project_to_the_running_app(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path, tmp_path: Path) -> None:
    from tests.test_app_process import app_env, wait_until

    add_project(project_dir, port_block, "F")
    output = tmp_path / "app-output.txt"
    home = app_paths().data_dir.parent
    with output.open("wb") as out:
        app = subprocess.Popen([sys.executable, "-m", "cchub_desktop", "--no-engine-check"],
                               env=app_env(home, fake_dagger_env.env()), stdout=out, stderr=out)
        try:
            wait_until(lambda: "window shown" in output.read_text(errors="replace"), 90, "the window", app, output)
            started = cchub(fake_dagger_env, "start", "F")
            assert started.returncode == 0, started.stderr
            assert "The CommandCenter Hub app is starting 'F'" in started.stdout
            assert f"'F' is running: frontend http://localhost:{port_block.frontend}" in started.stdout
            # the app's runner owns it: a process of its own, neither the app nor the cchub process
            runner = owner_of(app_paths().runtime_dir, key_of("F"))
            assert runner is not None and runner.kind == RUNNER and runner.pid not in (None, app.pid)
            status = cchub(fake_dagger_env, "status", "F").stdout
            assert status.startswith(f"F: running  in the CommandCenter Hub's runner (pid {runner.pid})"), status
            stopped = cchub(fake_dagger_env, "stop", "F")
            assert stopped.returncode == 0 and "Stopped 'F'." in stopped.stdout, stopped.stderr
            assert lease_pid("F") is None
            app.send_signal(signal.SIGTERM)
            assert app.wait(timeout=90) == 0, output.read_text(errors="replace")[-3000:]
        finally:
            if app.poll() is None:
                app.kill()
                app.wait()
    assert record("F")[0] == "stopped"
    fake_dagger_env.sessions_exited(10)


def test_the_tray_says_where_a_project_runs_when_its_start_is_refused(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path, qapp: QApplication,
        qt_async: QtAsync, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    from cchub_desktop.ui import tray as tray_module
    from cchub_desktop.ui import tray_integration
    from cchub_desktop.ui.tray_integration import DesktopIntegration

    monkeypatch.setattr(tray_module, "tray_available", lambda: True)
    monkeypatch.setattr(tray_integration, "tray_available", lambda: True)
    add_project(project_dir, port_block, "G")
    with LeaseHolder(app_paths().runtime_dir, key_of("G"), "G") as up, window(qapp, qt_async) as app:
        desktop = DesktopIntegration(app, None)
        shown: list[tuple[str, str]] = []
        monkeypatch.setattr(desktop.tray.icon, "showMessage", lambda title, text, *_: shown.append((title, text)))
        pid = app.store.get_by_name("G").id
        assert pid is not None
        app.bridge.start(pid)                 # what the tray's Start does
        qtbot.waitUntil(lambda: bool(shown), timeout=5000)
        assert shown == [("G runs elsewhere", f"'G' is running in `cchub up` (pid {up.pid}) — stop it there, or "
                                              "run `cchub stop G`.")]
        desktop.close()


def test_a_port_edit_in_the_window_is_refused_when_a_cchub_up_took_the_project_meanwhile(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path, qapp: QApplication,
        qt_async: QtAsync, qtbot: QtBot) -> None:
    add_project(project_dir, port_block, "H")
    with window(qapp, qt_async) as app:
        pid = app.store.get_by_name("H").id
        assert pid is not None
        app.window.select_project(pid)
        app.window.edit_project()                    # opened while H was stopped: the ports are editable
        dialog = app.window.project_dialog
        assert dialog is not None and dialog.port_spins["frontend_port"].isEnabled()
        with LeaseHolder(app_paths().runtime_dir, key_of("H"), "H") as up:   # a terminal starts it now
            dialog.port_spins["frontend_port"].setValue(port_block.frontend + 7)
            dialog.save()
            assert dialog.isVisible()
            assert f"The project was not saved: 'H' is running in `cchub up` (pid {up.pid})" in \
                dialog.error_text("general")
        assert app.store.get(pid).frontend_port == port_block.frontend          # nothing changed under it
        dialog.save()                                                            # its owner ended: now it saves
        assert app.store.get(pid).frontend_port == port_block.frontend + 7
