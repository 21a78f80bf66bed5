"""Faults as the user sees them: the window and the tray say what happened, the other projects keep running,
and quitting the real app in the middle of a start exits 0 with nothing left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from fake_dagger.fixtures import FakeDagger, free_port_block
from fake_dagger.sdk_helpers import http_get
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from cchub_desktop import ports
from cchub_desktop.paths import app_paths
from cchub_desktop.resources import TrayState
from cchub_desktop.store import ProjectStatus, ProjectStore
from cchub_desktop.ui.project_table_model import Column
from tests import tray_fixtures
from tests.helpers import key_of, wait_for
from tests.tray_fixtures import Desktop

desktop, qt_async, fake_dagger_env = tray_fixtures.desktop, tray_fixtures.qt_async, tray_fixtures.fake_dagger_env
S = ProjectStatus


def start_from_tray(hub: Desktop, name: str) -> int:
    pid = hub.add_project(name)
    hub.click(f"{name} — Stopped", "Start")
    hub.wait_status(pid, S.RUNNING)
    return pid


def test_an_engine_dying_under_a_running_project_shows_in_window_and_tray(desktop: Desktop) -> None:
    bystander = start_from_tray(desktop, "bystander")
    before = {s.pid for s in desktop.fake.journal.sessions()}
    victim = start_from_tray(desktop, "victim")
    (session,) = {s.pid for s in desktop.fake.journal.sessions()} - before
    os.kill(session, signal.SIGKILL)   # the engine behind the victim's session dies
    desktop.wait_status(victim, S.ERROR, timeout=30)

    # the window: the row says Failed (as the tray), its tooltip and an error box say why
    row = desktop.window.model.row_of(victim)
    index = desktop.window.model.index(row, Column.STATUS)
    assert desktop.window.model.data(index) == "Failed"
    tooltip = desktop.window.model.data(index, Qt.ItemDataRole.ToolTipRole)
    assert "ended unexpectedly" in tooltip
    box = desktop.window.error_box
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert box.windowTitle() == "victim stopped unexpectedly" and "ended unexpectedly" in box.text()
    assert "start the project again" in box.text()

    # the tray: the icon turns to the error state, the tooltip and the menu line say it failed
    assert desktop.tray.state == TrayState.ERROR
    assert "1 running, 1 failed" in desktop.tray.tooltip()
    assert desktop.label("victim") == "victim — Failed" and desktop.label("bystander") == "bystander — Running"
    assert next(a.text() for a in desktop.submenu("victim — Failed").actions()) == "Start"
    failed = [m for m in desktop.messages if m[0] == "victim failed"]
    assert failed and "ended unexpectedly" in failed[-1][1]

    # the other project keeps running and answering; nothing of the victim listens
    assert desktop.status(bystander) == S.RUNNING
    assert http_get(desktop.ports[bystander]["frontend"], "/")[0] == 200
    assert desktop.ports_free(victim)


def test_a_failed_start_shows_the_step_and_the_retry_works(desktop: Desktop) -> None:
    desktop.fake.set(exec_fail="npm ci:1:npm ERR! lockfile out of date")
    pid = desktop.add_project("alpha")
    desktop.click("alpha — Stopped", "Start")
    desktop.wait_status(pid, S.ERROR)
    box = desktop.window.error_box
    assert box is not None and "Building the frontend failed: `npm ci` exited with code 1." in box.text()
    assert "lockfile out of date" in box.text()
    box.close()
    assert desktop.ports_free(pid)
    desktop.fake.set(exec_fail=None)   # the user fixed the lockfile
    desktop.click("alpha — Failed", "Start")
    desktop.wait_status(pid, S.RUNNING)
    assert desktop.window.model.row_for(pid).message is None


# ----- the real app, quit (SIGTERM) while a start is in flight ----------------------------------------------

def test_quitting_the_app_while_a_start_is_in_flight_exits_0_and_leaves_nothing(
        fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    fake_dagger_env.set(start_delay=60)   # the first service start hangs until the quit cancels it
    paths = app_paths()
    paths.ensure()
    block = free_port_block()
    store = ProjectStore(paths.db_file)
    store.add("demo", project_dir, **{f"{k}_port": v for k, v in block.as_dict().items()})
    store.close()
    env = {**os.environ, **fake_dagger_env.env(), "QT_QPA_PLATFORM": "offscreen"}
    app = subprocess.Popen([sys.executable, "-m", "cchub_desktop", "--start", "demo", "--no-engine-check"],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = paths.logs_dir / f"{key_of('demo')}.log"   # named after the data key, like its volumes
    try:
        wait_for(lambda: (log.exists() and "start docker-entrypoint.sh postgres" in log.read_text())
                 or app.poll() is not None, timeout=60)
        assert app.poll() is None, app.communicate()[0]
        app.send_signal(signal.SIGTERM)
        out, _ = app.communicate(timeout=60)
    finally:
        if app.poll() is None:
            app.kill()
            app.communicate()
    assert app.returncode == 0, out
    assert "Traceback" not in out
    fake_dagger_env.sessions_exited(15)
    assert fake_dagger_env.journal.running_services() == [] and fake_dagger_env.journal.open_tunnels() == []
    assert all(ports.is_port_free(p) for p in block.as_dict().values())
    store = ProjectStore(paths.db_file)
    assert store.get_by_name("demo").status == "stopped"
    store.close()
