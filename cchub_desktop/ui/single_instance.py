"""One app per user and data folder: a second launch hands over to the running one and exits.

The first process takes a lock file in the runtime folder (QLockFile: a lock left by a crashed process is
recognised as stale and taken over) and then listens on a local socket whose name is derived from the user and
the data folder, so two CCHUB_HOME folders are two independent apps. A stale socket left by a crash is removed
before listening: only the lock holder ever listens.

A later launch fails to take the lock, connects, sends one JSON line (`{"action": "show", "start": [...]}`)
and waits for "ok": the running app raises its window (and starts the projects named with --start). The name
and the request line are defined in instance_handover.py, whose Qt-free client __main__ and `cchub` use.

On POSIX the server is a plain Unix socket (the standard `socket` module), non-blocking, read when Qt's event
loop says it is readable (QSocketNotifier): QtNetwork, ~2.8 MB of libraries for one socket, is not loaded. On
Windows, where the name is a named pipe, it is a QLocalServer (QtNetwork imported there only).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QLockFile, QObject, QSocketNotifier, Signal

from cchub_desktop.instance_handover import (
    MAX_MESSAGE,
    HandoverRequest,
    encode_request,
    parse_request,
    peer_is_me,
    send_request,
    server_name,
    socket_path,
)
from cchub_desktop.paths import AppPaths

if TYPE_CHECKING:
    from PySide6.QtNetwork import QLocalServer, QLocalSocket

logger = logging.getLogger(__name__)
LOCK_NAME = "instance.lock"
HANDOVER_TIMEOUT_S = 10.0
MAX_CLIENTS = 16   # connections open at once; more are hung up on (a client sends one line and goes)
__all__ = ["LOCK_NAME", "SingleInstance", "server_name"]  # the name and the request: instance_handover.py

# a request line -> the reply line, and what to do once it is written and the connection closed
LineHandler = Callable[[bytes], tuple[bytes, Callable[[], None] | None]]


class SingleInstance(QObject):
    """`acquire()` once at launch: True means this process is the app; False means hand over and exit."""

    activation_requested = Signal(list)  # names of projects to start (may be empty)
    lifecycle_requested = Signal(list, list)  # start, stop: from `cchub start/stop`, without raising the window

    def __init__(self, paths: AppPaths, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.paths = paths
        path = socket_path(paths, create=True)   # POSIX: a socket in a folder only this user can use
        self._posix = path is not None
        self.name = server_name(paths) if path is None else str(path)
        self._lock: QLockFile | None = None
        self.server: UnixLineServer | QtLineServer | None = None

    @property
    def listening_on(self) -> str | None:
        """The socket's path (POSIX) or the pipe's full name (Windows) while listening, else None."""
        return self.server.address() if self.server is not None else None

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
        server: UnixLineServer | QtLineServer
        server = UnixLineServer(self._answer, self) if self._posix else QtLineServer(self._answer, self)
        problem = server.listen(self.name)
        if problem is not None:
            logger.warning("single instance: cannot listen on %s (%s); a second launch will not find this "
                           "window", self.name, problem)
            server.close()
            server.deleteLater()
            return
        self.server = server

    def _answer(self, line: bytes) -> tuple[bytes, Callable[[], None] | None]:
        """One request line from another launch or `cchub`: the reply, and the signal to emit once it is sent
        (a slot that raises the window or starts a stack never delays the client's "ok")."""
        request = parse_request(line)
        if request is None:
            return b"error\n", None
        return b"ok\n", lambda: self._emit(request)

    def _emit(self, request: HandoverRequest) -> None:
        if request.show:
            logger.info("another launch asked to show the window")
            self.activation_requested.emit(request.start)
        else:
            logger.info("cchub asked to start %s and stop %s", request.start, request.stop)
            self.lifecycle_requested.emit(request.start, request.stop)

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
        if self._posix:
            return send_request(self.paths, message, min(budget_s, 2.0))
        return _qt_send(self.name, message, budget_s)


class UnixLineServer(QObject):
    """A listening Unix socket on the Qt loop: each connection of this user's processes sends one line and gets
    one reply line, then is closed. Non-blocking throughout; nothing waits on a client."""

    def __init__(self, answer: LineHandler, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._answer = answer
        self._sock: socket.socket | None = None
        self._notifier: QSocketNotifier | None = None
        self._path = ""
        self._inode: tuple[int, int] | None = None   # the socket file this server made (removed at close)
        self._clients: dict[int, tuple[socket.socket, QSocketNotifier, bytearray]] = {}

    def address(self) -> str:
        return self._path

    def clients(self) -> int:
        """Connections open now (each waiting for the rest of its line)."""
        return len(self._clients)

    def listen(self, path: str) -> str | None:
        """Listen on `path`, replacing a socket file a crashed run left (the caller holds the lock). None when
        listening, else what went wrong."""
        with contextlib.suppress(FileNotFoundError):
            if os.path.isdir(path) and not os.path.islink(path):
                return f"{path} is a folder"
            os.unlink(path)   # a socket file left by a crashed run
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(path)
            os.chmod(path, 0o600)   # only this user (the folder is private too); nobody connects before listen
            info = os.stat(path)
            sock.listen(8)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            return exc.strerror or str(exc)
        self._sock, self._path, self._inode = sock, path, (info.st_dev, info.st_ino)
        notifier = QSocketNotifier(sock.fileno(), QSocketNotifier.Type.Read, self)
        notifier.activated.connect(lambda *_args: self._accept())
        self._notifier = notifier
        return None

    def _accept(self) -> None:
        while self._sock is not None:
            try:
                conn, _addr = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:   # out of file descriptors: the connections wait in the backlog
                logger.warning("single instance: cannot accept a connection (%s)", exc)
                return
            if not peer_is_me(conn.fileno()):   # not this user's process: hang up at once
                logger.warning("single instance: refused a connection from another user's process")
                conn.close()
                continue
            if len(self._clients) >= MAX_CLIENTS:
                conn.close()
                continue
            conn.setblocking(False)
            notifier = QSocketNotifier(conn.fileno(), QSocketNotifier.Type.Read, self)
            self._clients[conn.fileno()] = (conn, notifier, bytearray())
            notifier.activated.connect(lambda *_args, c=conn: self._read(c))
            self._read(conn)   # it may have written before we looked

    def _read(self, conn: socket.socket) -> None:
        client = self._clients.get(conn.fileno())
        if client is None or client[0] is not conn:
            return
        buffer = client[2]
        while True:
            try:
                chunk = conn.recv(4096)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._drop(conn)
                return
            if not chunk:   # the client went away before its line was whole
                self._drop(conn)
                return
            buffer += chunk
            if b"\n" in buffer:
                self._reply(conn, bytes(buffer.split(b"\n", 1)[0]))
                return
            if len(buffer) > MAX_MESSAGE:
                self._drop(conn)
                return

    def _reply(self, conn: socket.socket, line: bytes) -> None:
        answer, then = self._answer(line)
        with contextlib.suppress(OSError):
            conn.send(answer)   # a few bytes into an empty socket buffer: never partial
        self._drop(conn)
        if then is not None:
            then()

    def _drop(self, conn: socket.socket) -> None:
        client = self._clients.pop(conn.fileno(), None)
        if client is not None:
            notifier = client[1]
            notifier.setEnabled(False)
            notifier.deleteLater()
        with contextlib.suppress(OSError):   # what it sent after its line: unread data would reset its connection
            drained = 0
            while drained <= MAX_MESSAGE and (chunk := conn.recv(4096)):
                drained += len(chunk)
        conn.close()

    def close(self) -> None:
        for conn, _notifier, _buffer in list(self._clients.values()):
            self._drop(conn)
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier.deleteLater()
            self._notifier = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            with contextlib.suppress(OSError):
                info = os.stat(self._path)
                if (info.st_dev, info.st_ino) == self._inode:   # ours, not one a later run made since
                    os.unlink(self._path)


class QtLineServer(QObject):
    """The same server on a QLocalServer: a named pipe on Windows, where a Unix socket is not what the client
    finds. QtNetwork is imported here only."""

    def __init__(self, answer: LineHandler, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._answer = answer
        self._server: QLocalServer | None = None
        self._buffers: dict[QLocalSocket, bytes] = {}

    def address(self) -> str:
        return self._server.fullServerName() if self._server is not None else ""

    def listen(self, name: str) -> str | None:
        from PySide6.QtNetwork import QLocalServer

        QLocalServer.removeServer(name)  # a socket file left by a crashed run
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        server.setMaxPendingConnections(8)
        if not server.listen(name):
            return server.errorString()
        server.newConnection.connect(self._accept)
        self._server = server
        return None

    def _accept(self) -> None:
        assert self._server is not None
        while self._server.hasPendingConnections():
            sock = self._server.nextPendingConnection()
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
        self._buffers[sock] = b""
        answer, then = self._answer(data.split(b"\n", 1)[0])
        sock.write(answer)
        sock.flush()
        sock.disconnectFromServer()
        if then is not None:
            then()

    def _forget(self, sock: QLocalSocket) -> None:
        self._buffers.pop(sock, None)
        sock.deleteLater()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None


def _qt_send(name: str, message: bytes, budget_s: float) -> bool:
    """Send one request line over a QLocalSocket (Windows: a named pipe); True once it answered "ok"."""
    from PySide6.QtNetwork import QLocalSocket

    sock = QLocalSocket()
    try:
        sock.connectToServer(name)
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
