"""A real TCP listener for a host tunnel, answering HTTP like the service behind it would.

Every connection gets one HTTP/1.1 response and is closed: `GET /health` answers
`{"status":"healthy"}` (or FAKE_DAGGER_HEALTH_STATUS), any other path a small page naming the service.
Non-HTTP clients (a TCP connect test, a database client) just see an open port.

The server lets the client close first (`Connection: close`, then it waits for EOF; a silent client
gets a reset), so no TIME_WAIT stays on the tunnel's port and the port is free for a new bind as soon
as the tunnel stops.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
from collections.abc import Callable

MAX_REQUEST = 64 * 1024


class AddressInUse(OSError):
    pass


def _reset(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


class TunnelListener:
    def __init__(self, host: str, port: int, describe: Callable[[], str],
                 health_status: Callable[[], int], backend_open: bool = True) -> None:
        self.host = host
        self.backend_open = backend_open
        self._describe = describe
        self._health_status = health_status
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Go's net.Listen does
        try:
            self._sock.bind((host, port))
            self._sock.listen(64)
        except OSError as e:
            self._sock.close()
            raise AddressInUse(e.errno, f"listen tcp {host}:{port}: bind: {(e.strerror or str(e)).lower()}") from e
        self.port: int = self._sock.getsockname()[1]
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, name=f"tunnel-{self.port}", daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            if not self.backend_open:  # nothing listens on that port of the service: reset, as the engine does
                _reset(conn)
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(5.0)
            data = b""
            while b"\r\n\r\n" not in data and len(data) < MAX_REQUEST:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            request_line = data.split(b"\r\n", 1)[0].decode("latin-1")
            parts = request_line.split()
            method, path = (parts[0], parts[1]) if len(parts) >= 2 else ("GET", "/")
            conn.sendall(self._response(method, path))
            conn.settimeout(2.0)
            while conn.recv(4096):  # let the client close first (its side keeps the TIME_WAIT)
                pass
        except OSError:
            _reset(conn)  # client gone or silent: close without leaving TIME_WAIT on the listening port
        finally:
            conn.close()

    def _response(self, method: str, path: str) -> bytes:
        if path.split("?", 1)[0] == "/health":
            status = self._health_status()
            body = json.dumps({"status": "healthy" if status < 400 else "unhealthy"}).encode()
            ctype = "application/json"
        else:
            status = 200
            body = (f"<!doctype html><title>{self._describe()}</title>"
                    f"<p>{self._describe()}</p>\n").encode()
            ctype = "text/html; charset=utf-8"
        reason = {200: "OK", 404: "Not Found", 500: "Internal Server Error", 503: "Service Unavailable"}.get(
            status, "Status")
        head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\nServer: dagger-tunnel\r\n\r\n").encode()
        return head if method == "HEAD" else head + body

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone may not
        self._sock.close()
        self._thread.join(timeout=2.0)
