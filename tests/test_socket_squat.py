"""Another local user cannot squat the single-instance socket: the app's socket lives in a folder only the
user can use, and both ends check that the process at the other end is the user's (a real second user:
`nobody`, through setpriv)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from cchub_desktop.instance_handover import peer_is_me

SETPRIV = shutil.which("setpriv")
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or os.getuid() != 0 or SETPRIV is None,
                                reason="needs Linux, root and setpriv to act as another user")

SQUATTER = textwrap.dedent("""
    import os, socket, sys, threading
    folder, record = sys.argv[1], sys.argv[2]
    os.makedirs(folder, exist_ok=True)
    os.chmod(folder, 0o777)
    servers = []
    for path in sys.argv[3:]:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        os.chmod(path, 0o777)
        s.listen(8)
        servers.append(s)
    def serve(s):
        while True:
            try:
                conn, _ = s.accept()
            except OSError:
                return
            with conn, open(record, "ab") as out:
                out.write(conn.recv(65536))
                conn.sendall(b"ok\\n")
    for s in servers:
        threading.Thread(target=serve, args=(s,), daemon=True).start()
    print("ready", flush=True)
    sys.stdin.read()
""")

PROBE = textwrap.dedent("""
    import sys
    from cchub_desktop.instance_handover import hand_over_early, socket_path
    from cchub_desktop.paths import app_paths
    print(socket_path(app_paths()))
    print(hand_over_early(app_paths(), ["A"]))
""")


def as_nobody(*args: str) -> list[str]:
    assert SETPRIV is not None
    return [SETPRIV, "--reuid=nobody", "--regid=nogroup", "--clear-groups", *args]


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A temp folder every user may write to, like /tmp."""
    folder = Path(tempfile.mkdtemp(prefix="cchub-shared-", dir="/tmp"))
    folder.chmod(0o1777)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_socket_squatted_by_another_user_gets_no_request(shared_tmp: Path) -> None:
    import hashlib

    from cchub_desktop.instance_handover import server_name
    from cchub_desktop.paths import app_paths

    folder = shared_tmp / f"cchub-desktop-{os.getuid()}"
    digest = hashlib.sha256(f"{os.getuid()}\0{app_paths().data_dir}".encode()).hexdigest()[:16]
    record = shared_tmp / "heard"
    # where the app would listen were the folder its own, and where it listened before (the shared temp folder)
    targets = [str(folder / f"instance-{digest}"), str(shared_tmp / server_name(app_paths()))]
    squat = subprocess.Popen(as_nobody("/usr/bin/python3", "-c", SQUATTER, str(folder), str(record), *targets),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert squat.stdout is not None and squat.stdout.readline().strip() == "ready"
        env = {**os.environ, "TMPDIR": str(shared_tmp)}
        probe = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60)
        assert probe.returncode == 0, probe.stderr
        where, handed = probe.stdout.split()
        assert handed == "False"
        assert not where.startswith(str(folder))   # the other user's folder is not trusted
        assert not record.exists(), "the other user's socket heard a request"
    finally:
        assert squat.stdin is not None
        squat.stdin.close()
        assert squat.wait(30) == 0


def test_a_connection_from_another_user_is_told_apart(shared_tmp: Path) -> None:
    path = shared_tmp / "listen"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    path.chmod(0o777)
    server.listen(2)
    try:
        connect = f"import socket; s = socket.socket(socket.AF_UNIX); s.connect({str(path)!r})"
        client = subprocess.run(as_nobody("/usr/bin/python3", "-c", connect), capture_output=True, text=True,
                                timeout=30)
        assert client.returncode == 0, client.stderr
        theirs, _ = server.accept()
        with theirs:
            assert not peer_is_me(theirs.fileno())
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as mine:
            mine.connect(str(path))
            ours, _ = server.accept()
            with ours:
                assert peer_is_me(ours.fileno())
    finally:
        server.close()


def test_a_runtime_folder_made_by_another_user_is_not_a_traceback(shared_tmp: Path, tmp_path: Path) -> None:
    """No XDG_RUNTIME_DIR, and `runtime-<uid>` in the temp folder made first by someone else: `cchub list`
    still works (a private runtime folder is used instead)."""
    made = subprocess.run(as_nobody("mkdir", "-m", "0777", str(shared_tmp / f"runtime-{os.getuid()}")),
                          capture_output=True, text=True, timeout=30)
    assert made.returncode == 0, made.stderr
    env = {k: v for k, v in os.environ.items() if k not in ("CCHUB_HOME", "XDG_RUNTIME_DIR")}
    env.update(TMPDIR=str(shared_tmp), HOME=str(tmp_path / "home"), XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_STATE_HOME=str(tmp_path / "state"),
               XDG_CACHE_HOME=str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, "-m", "cchub_desktop.cli", "list"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    # and the app: it starts (its self-test builds the window, the single-instance socket and the leases)
    app = subprocess.run([sys.executable, "-m", "cchub_desktop", "--self-test", "--no-engine-check"],
                         env={**env, "QT_QPA_PLATFORM": "offscreen"}, capture_output=True, text=True, timeout=120)
    assert app.returncode == 0 and "Traceback" not in app.stderr, app.stderr
    assert "self-test ok" in app.stdout
