"""A second launch hands over to the running app before it imports Qt, SQLModel or the SDK."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from cchub_desktop.instance_handover import hand_over_early, socket_path
from cchub_desktop.paths import app_paths
from cchub_desktop.ui.single_instance import SingleInstance

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="a named pipe on Windows: the Qt client hands over")

SECOND_LAUNCH = """
import json, sys
sys.argv = ["cchub-desktop", *sys.argv[1:]]
from cchub_desktop.__main__ import main
code = main()
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"PySide6", "shiboken6", "sqlmodel", "sqlalchemy", "dagger"})
# what a second launch no longer imports (each costs it milliseconds: benchmarks/README.md, second launch)
stdlib = sorted(set(sys.modules) & {"argparse", "dataclasses", "inspect", "logging"})
print(json.dumps({"code": code, "heavy": heavy, "stdlib": stdlib}))
"""


@posix_only
def test_the_early_client_finds_the_socket_qt_listens_on(qtbot: QtBot) -> None:
    instance = SingleInstance(app_paths())
    try:
        assert instance.acquire() and instance.listening_on is not None
        assert socket_path(app_paths()) == Path(instance.listening_on)
    finally:
        instance.release()


@posix_only
@pytest.mark.parametrize(("args", "stdlib"), [
    (["--start", "alpha", "--start=b c"], []),   # a desktop launch has none: no argparse, dataclasses, logging
    (["--log-level", "DEBUG", "--start", "alpha", "--st", "b c"], ["argparse"]),   # others: argparse reads them
])
def test_a_second_launch_hands_over_with_the_stdlib_only(qtbot: QtBot, args: list[str], stdlib: list[str]) -> None:
    instance = SingleInstance(app_paths())
    requests: list[list[str]] = []
    instance.activation_requested.connect(requests.append)
    try:
        assert instance.acquire()
        started = time.monotonic()
        second = subprocess.Popen([sys.executable, "-c", SECOND_LAUNCH, *args],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
        qtbot.waitUntil(lambda: second.poll() is not None, timeout=30000)  # this process's loop answers it
        out, err = second.communicate()
        elapsed = time.monotonic() - started
    finally:
        instance.release()
    assert second.returncode == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    assert report == {"code": 0, "heavy": [], "stdlib": stdlib}, err
    assert "already running: its window was raised" in err
    assert requests == [["alpha", "b c"]]
    assert elapsed < 20


@posix_only
def test_a_socket_left_by_a_crash_is_not_an_app(tmp_path: Path) -> None:
    """Connection refused on a leftover socket file: the launch goes on to take the lock itself."""
    path = socket_path(app_paths())
    assert path is not None and not path.exists()
    left = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    left.bind(str(path))
    left.close()  # the file stays, nobody listens
    try:
        assert path.exists()
        started = time.monotonic()
        assert hand_over_early(app_paths(), ["alpha"]) is False
        assert time.monotonic() - started < 1.0
    finally:
        path.unlink()


def test_without_a_running_app_nothing_is_sent() -> None:
    assert hand_over_early(app_paths()) is False
