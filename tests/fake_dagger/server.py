"""The session's GraphQL endpoint: POST /query on 127.0.0.1, Basic auth with the session token.

Answers are always HTTP 200 with `errors` in the body (an HTTP 500 would make the SDK retry), except
401 for a wrong token and 404 for another path, as the engine does.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from graphql import GraphQLError, graphql_sync, parse
from graphql.language import FieldNode, OperationDefinitionNode

from .resolvers import RequestContext, resolve
from .schema import schema
from .session import Session


def _top_fields(query: str) -> list[str]:
    try:
        doc = parse(query)
    except GraphQLError:
        return []
    return [sel.name.value for d in doc.definitions if isinstance(d, OperationDefinitionNode)
            for sel in d.selection_set.selections if isinstance(sel, FieldNode)]


class _Handler(BaseHTTPRequestHandler):
    server: EngineHTTPServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client went away (e.g. it cancelled Service.up)

    def do_GET(self) -> None:
        self._send(404, b"404 page not found\n", "text/plain")

    def do_POST(self) -> None:
        with self.server.in_flight():
            self._post()

    def _post(self) -> None:
        if self.path.split("?", 1)[0] != "/query":
            self._send(404, b"404 page not found\n", "text/plain")
            return
        expected = "Basic " + base64.b64encode(f"{self.server.token}:".encode()).decode()
        if not hmac.compare_digest(self.headers.get("Authorization", ""), expected):
            self._send(401, b'{"message":"unauthorized"}')
            return
        length = int(self.headers.get("Content-Length") or 0)
        started = time.monotonic()
        try:
            request = json.loads(self.rfile.read(length) or b"{}")
            query = str(request.get("query") or "")
            ctx = RequestContext(self.server.session, self._client_gone)
            result = graphql_sync(schema(), query, variable_values=request.get("variables"),
                                  operation_name=request.get("operationName"), field_resolver=resolve,
                                  type_resolver=lambda value, *_: getattr(value, "kind", None),
                                  context_value=ctx)
            payload: dict[str, Any] = dict(result.formatted)
        except Exception as e:  # never a 500: the SDK would retry it
            query, payload = "", {"data": None, "errors": [{"message": f"internal engine error: {e}"}]}
        errors = payload.get("errors") or []
        self.server.session.journal.write(
            "request", fields=_top_fields(query), ms=round((time.monotonic() - started) * 1000, 2),
            errors=len(errors))
        for err in errors:
            self.server.session.journal.write("error", message=err.get("message"),
                                              exec_error=(err.get("extensions") or {}).get("_type") == "EXEC_ERROR")
        self._send(200, json.dumps(payload).encode())

    def _client_gone(self) -> bool:
        """True once the client closed its end (a cancelled request)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            return bool(self.connection.recv(1, socket.MSG_PEEK) == b"")
        except (OSError, ValueError):
            return True


class EngineHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # the SDK resolves a call's ID arguments concurrently, one connection each: a stack of seven services
    # starting three at a time opens dozens at once, more than socketserver's default backlog of 5 (the
    # overflow was refused as "Failed to execute request")
    request_queue_size = 128

    def __init__(self, session: Session, token: str) -> None:
        self.session = session
        self.token = token
        self._busy = 0
        self._idle = threading.Condition()
        super().__init__(("127.0.0.1", 0), _Handler)

    @contextlib.contextmanager
    def in_flight(self) -> Iterator[None]:
        with self._idle:
            self._busy += 1
        try:
            yield
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait for requests still running (e.g. a start being cancelled) to finish and journal."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1},
                                  name="graphql", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.shutdown()
        with contextlib.suppress(OSError):
            self.socket.shutdown(socket.SHUT_RDWR)
        self.server_close()
