"""Single instance: a second launch raises the running window and exits 0; stale files after a crash."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtNetwork import QLocalSocket
from pytestqt.qtbot import QtBot

from cchub_desktop.instance_handover import MAX_MESSAGE, encode_request
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
    print(instance.listening_on, flush=True)
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


# ----- the stdlib server (POSIX) ------------------------------------------------------------------------------

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="a named pipe on Windows: QLocalServer there")

WITHOUT_QTNETWORK = textwrap.dedent("""
    import json, sys, threading
    from PySide6.QtCore import QCoreApplication, QTimer
    from cchub_desktop.instance_handover import encode_request, hand_over_early, send_request
    from cchub_desktop.paths import app_paths
    from cchub_desktop.ui.single_instance import SingleInstance
    app = QCoreApplication([])
    instance = SingleInstance(app_paths())
    assert instance.acquire()
    heard = []
    instance.activation_requested.connect(lambda names: heard.append(["show", names]))
    instance.lifecycle_requested.connect(lambda start, stop: (heard.append(["lifecycle", start, stop]), app.quit()))
    answers = []
    def client():   # a second launch, then `cchub stop`, as their own processes would
        answers.append(hand_over_early(app_paths(), ["alpha"]))
        answers.append(send_request(app_paths(), encode_request(stop=["beta"], show=False)))
    threading.Thread(target=client, daemon=True).start()
    QTimer.singleShot(30000, app.quit)
    app.exec()
    instance.release()
    print(json.dumps({"heard": heard, "answers": answers,
                      "qtnetwork": sorted(m for m in sys.modules if "QtNetwork" in m)}))
""")


@posix_only
def test_the_server_answers_without_loading_qtnetwork() -> None:
    """QtNetwork (~2.8 MB of libraries) is not loaded by the app's single instance on POSIX."""
    done = subprocess.run([sys.executable, "-c", WITHOUT_QTNETWORK], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"heard": [["show", ["alpha"]], ["lifecycle", [], ["beta"]]], "answers": [True, True],
                      "qtnetwork": []}, done.stderr


def ask(path: str, data: bytes, qtbot: QtBot) -> bytes:
    """Send `data` with a plain socket and read until the server closes the connection (this test's Qt loop
    runs the server meanwhile)."""
    reply = bytearray()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.connect(path)
        client.sendall(data)
        client.setblocking(False)

        def closed() -> bool:
            try:
                chunk = client.recv(4096)
            except BlockingIOError:
                return False
            reply.extend(chunk)
            return not chunk

        qtbot.waitUntil(closed, timeout=10_000)
    return bytes(reply)


@posix_only
def test_a_lifecycle_request_from_cchub_is_answered_and_signalled(qtbot: QtBot) -> None:
    instance = SingleInstance(app_paths())
    try:
        assert instance.acquire() and instance.listening_on is not None
        heard: list[tuple[list[str], list[str]]] = []
        instance.lifecycle_requested.connect(lambda start, stop: heard.append((start, stop)))
        line = encode_request(["a"], stop=["b", "c d"], show=False)
        assert ask(instance.listening_on, line, qtbot) == b"ok\n"
        assert heard == [(["a"], ["b", "c d"])]
        # a line in two pieces, the second after a pause, is one request
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(instance.listening_on)
            client.sendall(line[:10])
            qtbot.waitUntil(lambda: instance.server is not None and instance.server.clients() == 1)
            assert ask(instance.listening_on, b"not json\n", qtbot) == b"error\n"   # others are served meanwhile
            client.sendall(line[10:])
            client.settimeout(10)
            qtbot.waitUntil(lambda: len(heard) == 2)
            assert client.recv(16) == b"ok\n"
    finally:
        instance.release()


@posix_only
def test_a_message_over_the_limit_is_hung_up_on(qtbot: QtBot) -> None:
    instance = SingleInstance(app_paths())
    try:
        assert instance.acquire() and instance.listening_on is not None
        heard: list[list[str]] = []
        instance.activation_requested.connect(heard.append)
        assert ask(instance.listening_on, b"x" * (MAX_MESSAGE + 10), qtbot) == b""   # no newline, too long
        assert instance.server is not None and instance.server.clients() == 0
        assert heard == []
        assert ask(instance.listening_on, encode_request(), qtbot) == b"ok\n"   # and it still serves
    finally:
        instance.release()


@posix_only
def test_a_client_gone_before_its_line_is_forgotten(qtbot: QtBot) -> None:
    instance = SingleInstance(app_paths())
    try:
        assert instance.acquire() and instance.listening_on is not None and instance.server is not None
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.connect(instance.listening_on)
        client.sendall(b'{"action": ')
        qtbot.waitUntil(lambda: instance.server is not None and instance.server.clients() == 1)
        client.close()
        qtbot.waitUntil(lambda: instance.server is not None and instance.server.clients() == 0)
    finally:
        instance.release()


@posix_only
def test_release_leaves_a_socket_another_run_made_since(qtbot: QtBot) -> None:
    """Only the socket file this run made is removed when it quits."""
    instance = SingleInstance(app_paths())
    assert instance.acquire() and instance.listening_on is not None
    path = Path(instance.listening_on)
    path.unlink()
    other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    other.bind(str(path))
    try:
        instance.release()
        assert path.exists()
    finally:
        other.close()
        path.unlink()


def test_the_qlocalserver_used_on_windows_speaks_the_same_protocol(qtbot: QtBot, tmp_path: Path) -> None:
    """Windows keeps a QLocalServer (a named pipe); its code is the same on every platform, so it runs here."""
    from cchub_desktop.ui.single_instance import QtLineServer

    lines: list[bytes] = []
    server = QtLineServer(lambda line: (lines.append(line), (b"ok\n", None))[1])
    assert server.listen(str(tmp_path / "pipe")) is None
    try:
        client = QLocalSocket()
        client.connectToServer(server.address())
        qtbot.waitUntil(lambda: client.state() == QLocalSocket.LocalSocketState.ConnectedState)
        client.write(b'{"action": "show"}\nrest')
        qtbot.waitUntil(lambda: client.bytesAvailable() > 0)
        assert bytes(client.readAll().data()) == b"ok\n"
        assert lines == [b'{"action": "show"}']
    finally:
        server.close()
