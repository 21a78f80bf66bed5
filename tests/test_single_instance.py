"""Single instance: a second launch raises the running window and exits 0; stale files after a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtNetwork import QLocalSocket
from pytestqt.qtbot import QtBot

from cchub_desktop.paths import app_paths
from cchub_desktop.settings import AppSettings
from cchub_desktop.store import ProjectStatus
from cchub_desktop.ui.single_instance import LOCK_NAME, SingleInstance, server_name
from tests import tray_fixtures
from tests.helpers import LineReader
from tests.tray_fixtures import Desktop

desktop, qt_async, fake_dagger_env = tray_fixtures.desktop, tray_fixtures.qt_async, tray_fixtures.fake_dagger_env
ENTRY_POINT = Path(sys.executable).with_name("cchub-desktop")


def launch(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([str(ENTRY_POINT), "--no-engine-check", *args], env=env or dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str], qtbot: QtBot, timeout: float = 30.0) -> tuple[int, str]:
    """Wait for a process while Qt keeps serving this test's own sockets."""
    qtbot.waitUntil(lambda: proc.poll() is not None, timeout=int(timeout * 1000))
    _out, err = proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, err


def test_names_differ_per_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = app_paths()
    assert server_name(a) == server_name(app_paths())
    monkeypatch.setenv("CCHUB_HOME", str(tmp_path / "other"))
    b = app_paths()
    assert server_name(a) != server_name(b)
    assert len(server_name(a)) < 80
    assert server_name(a).startswith("cchub-desktop-")


def test_second_launch_raises_the_window_and_exits_0(desktop: Desktop, qtbot: QtBot) -> None:
    instance = SingleInstance(desktop.controller.paths)
    assert instance.acquire()
    instance.activation_requested.connect(desktop.integration.activate)
    try:
        desktop.window.showMinimized()
        qtbot.waitUntil(lambda: desktop.window.isMinimized())
        started = time.monotonic()
        code, err = finish(launch(), qtbot)
        assert code == 0, err
        assert time.monotonic() - started < 20
        assert "already running" in err
        assert desktop.window.isVisible()
        assert not desktop.window.windowState() & Qt.WindowState.WindowMinimized
        desktop.window.hide()  # hidden in the tray: a second launch shows it again
        code, err = finish(launch(), qtbot)
        assert code == 0, err
        assert desktop.window.isVisible()
    finally:
        instance.release()


def test_second_launch_starts_the_projects_it_names(desktop: Desktop, qtbot: QtBot) -> None:
    instance = SingleInstance(desktop.controller.paths)
    assert instance.acquire()
    instance.activation_requested.connect(desktop.integration.activate)
    try:
        pid = desktop.add_project("alpha")
        code, err = finish(launch("--start", "alpha"), qtbot)
        assert code == 0, err
        desktop.wait_status(pid, ProjectStatus.RUNNING)
        # the second process never touched the stack: the running app's orchestrator started it
        assert len(desktop.fake.journal.sessions()) == 1
    finally:
        instance.release()


def test_the_real_app_launched_twice_leaves_one_process(tmp_path: Path, qtbot: QtBot) -> None:
    """No tray here (offscreen): the second launch still raises the first window, and exits 0."""
    paths = app_paths()
    AppSettings(start_minimized=True).save(paths.settings_file)  # no tray: starts minimized
    first = launch("--log-level", "INFO")
    log = LineReader(first.stderr)
    try:
        qtbot.waitUntil(lambda: log.has("window shown") or first.poll() is not None, timeout=60000)
        assert log.has("window shown"), log.text()
        code, err = finish(launch(), qtbot)
        assert code == 0, err
        assert "already running" in err
        qtbot.waitUntil(lambda: log.has("window raised for another launch"), timeout=20000)
        assert first.poll() is None  # the first one still runs: one app
    finally:
        if first.poll() is None:
            first.send_signal(signal.SIGTERM)
        first.wait(timeout=60)
        log.join()
    assert first.returncode == 0, log.text()


CRASH = textwrap.dedent("""
    import os, sys
    from PySide6.QtCore import QCoreApplication
    from cchub_desktop.paths import app_paths
    from cchub_desktop.ui.single_instance import SingleInstance
    app = QCoreApplication([])
    instance = SingleInstance(app_paths())
    assert instance.acquire()
    print(instance.server.fullServerName(), flush=True)
    os._exit(0)  # like a crash: no cleanup, the lock and the socket file stay behind
""")


def test_stale_lock_and_socket_after_a_crash_are_taken_over(qtbot: QtBot) -> None:
    crashed = subprocess.run([sys.executable, "-c", CRASH], capture_output=True, text=True, timeout=60,
                             env=dict(os.environ))
    assert crashed.returncode == 0, crashed.stderr
    socket_file = Path(crashed.stdout.strip())
    paths = app_paths()
    assert (paths.runtime_dir / LOCK_NAME).exists()
    assert socket_file.exists()
    instance = SingleInstance(paths)
    try:
        assert instance.acquire()
        requests: list[list[str]] = []
        instance.activation_requested.connect(requests.append)
        client = QLocalSocket()
        client.connectToServer(instance.name)
        qtbot.waitUntil(lambda: client.state() == QLocalSocket.LocalSocketState.ConnectedState)
        client.write(b'{"action": "show", "start": ["alpha"]}\n')
        qtbot.waitUntil(lambda: requests == [["alpha"]])
        qtbot.waitUntil(lambda: client.bytesAvailable() > 0 or client.state() !=
                        QLocalSocket.LocalSocketState.ConnectedState)
        assert bytes(client.readAll().data()) == b"ok\n"
    finally:
        instance.release()
    assert not socket_file.exists()


def test_a_garbled_request_is_refused(qtbot: QtBot) -> None:
    instance = SingleInstance(app_paths())
    try:
        assert instance.acquire()
        requests: list[list[str]] = []
        instance.activation_requested.connect(requests.append)
        client = QLocalSocket()
        client.connectToServer(instance.name)
        client.write(b"GET / HTTP/1.1\n")
        qtbot.waitUntil(lambda: client.bytesAvailable() > 0)
        assert bytes(client.readAll().data()) == b"error\n"
        assert requests == []
    finally:
        instance.release()


def test_second_instance_in_the_same_data_folder_is_refused() -> None:
    first = SingleInstance(app_paths())
    second = SingleInstance(app_paths())
    try:
        assert first.acquire()
        assert not second.acquire()
    finally:
        first.release()
    assert second.acquire()
    second.release()
