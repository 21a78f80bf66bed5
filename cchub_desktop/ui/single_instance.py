"""One app per user and data folder: a second launch hands over to the running one and exits.

The first process takes a lock file in the runtime folder (QLockFile: a lock left by a crashed process is
recognised as stale and taken over) and then listens on a QLocalServer whose name is derived from the user
and the data folder, so two CCHUB_HOME folders are two independent apps. A stale socket left by a crash is
removed before listening: only the lock holder ever listens.

A later launch fails to take the lock, connects, sends one JSON line (`{"action": "show", "start": [...]}`)
and waits for "ok": the running app raises its window (and starts the projects named with --start). The name
and the request line are defined in instance_handover.py, whose Qt-free client __main__ tries first.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from PySide6.QtCore import QLockFile, QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from cchub_desktop.instance_handover import (
    MAX_MESSAGE,
    encode_request,
    parse_request,
    peer_is_me,
    server_name,
    socket_path,
)
from cchub_desktop.paths import AppPaths

logger = logging.getLogger(__name__)
LOCK_NAME = "instance.lock"
HANDOVER_TIMEOUT_S = 10.0
__all__ = ["LOCK_NAME", "SingleInstance", "server_name"]  # the name and the request: instance_handover.py


class SingleInstance(QObject):
    """`acquire()` once at launch: True means this process is the app; False means hand over and exit."""

    activation_requested = Signal(list)  # names of projects to start (may be empty)
    lifecycle_requested = Signal(list, list)  # start, stop: from `cchub start/stop`, without raising the window

    def __init__(self, paths: AppPaths, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.paths = paths
        path = socket_path(paths, create=True)   # POSIX: a socket in a folder only this user can use
        self.name = server_name(paths) if path is None else str(path)
        self._lock: QLockFile | None = None
        self.server: QLocalServer | None = None
        self._buffers: dict[QLocalSocket, bytes] = {}

    # ----- the first process ------------------------------------------------------------------------------

    def acquire(self) -> bool:
        """Take the lock and listen. False when another live process of this app holds the lock."""
        runtime = self.paths.runtime_dir
        try:
            runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            logger.warning("single instance disabled: %s cannot be created (%s)", runtime, exc)
            return True
        lock = QLockFile(str(runtime / LOCK_NAME))
        lock.setStaleLockTime(0)  # never stale by age: only when its process is gone
        if not lock.tryLock(0):
            if lock.error() == QLockFile.LockError.LockFailedError:
                return False
            logger.warning("single instance disabled: the lock %s could not be taken (%s)",
                           runtime / LOCK_NAME, lock.error().name)
            return True
        self._lock = lock
        self._listen()
        return True

    def _listen(self) -> None:
        QLocalServer.removeServer(self.name)  # a socket file left by a crashed run
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        server.setMaxPendingConnections(8)
        if not server.listen(self.name):
            logger.warning("single instance: cannot listen on %s (%s); a second launch will not find this "
                           "window", self.name, server.errorString())
            return
        server.newConnection.connect(self._accept)
        self.server = server

    def _accept(self) -> None:
        assert self.server is not None
        while self.server.hasPendingConnections():
            sock = self.server.nextPendingConnection()
            if not peer_is_me(int(sock.socketDescriptor())):   # not this user's process: hang up at once
                logger.warning("single instance: refused a connection from another user's process")
                sock.abort()
                sock.deleteLater()
                continue
            self._buffers[sock] = b""
            sock.readyRead.connect(lambda s=sock: self._read(s))
            sock.disconnected.connect(lambda s=sock: self._forget(s))
            if sock.bytesAvailable():
                self._read(sock)

    def _read(self, sock: QLocalSocket) -> None:
        data = self._buffers.get(sock, b"") + bytes(sock.readAll().data())
        if b"\n" not in data:
            if len(data) > MAX_MESSAGE:
                sock.abort()
            else:
                self._buffers[sock] = data
            return
        line = data.split(b"\n", 1)[0]
        self._buffers[sock] = b""
        request = parse_request(line)
        sock.write(b"ok\n" if request is not None else b"error\n")
        sock.flush()
        sock.disconnectFromServer()
        if request is None:
            return
        if request.show:
            logger.info("another launch asked to show the window")
            self.activation_requested.emit(request.start)
        else:
            logger.info("cchub asked to start %s and stop %s", request.start, request.stop)
            self.lifecycle_requested.emit(request.start, request.stop)

    def _forget(self, sock: QLocalSocket) -> None:
        self._buffers.pop(sock, None)
        sock.deleteLater()

    def release(self) -> None:
        """Stop listening and drop the lock (at the very end of quitting)."""
        if self.server is not None:
            self.server.close()
            self.server = None
        if self._lock is not None:
            self._lock.unlock()
            self._lock = None

    # ----- a later launch ---------------------------------------------------------------------------------

    def hand_over(self, start: Sequence[str] = (), timeout_s: float = HANDOVER_TIMEOUT_S) -> bool:
        """Ask the running app to show its window; True once it confirmed. Retries while it is starting up
        (it holds the lock but may not listen yet)."""
        message = encode_request(start)
        deadline = time.monotonic() + timeout_s
        while True:
            if self._send(message, max(0.1, deadline - time.monotonic())):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def _send(self, message: bytes, budget_s: float) -> bool:
        sock = QLocalSocket()
        try:
            sock.connectToServer(self.name)
            ms = int(min(budget_s, 2.0) * 1000)
            if not sock.waitForConnected(ms):
                return False
            if not peer_is_me(int(sock.socketDescriptor())):   # another user's socket: tell it nothing
                return False
            sock.write(message)
            if not sock.waitForBytesWritten(ms):
                return False
            reply = b""
            while b"\n" not in reply and sock.waitForReadyRead(ms):
                reply += bytes(sock.readAll().data())
            return reply.startswith(b"ok")
        finally:
            sock.abort()

