"""Runs a qasync loop on a QApplication with real socket I/O (httpx, as the Dagger SDK does), then exits.

PySide6 6.12.0 with qasync 0.28 aborts at interpreter exit after this ("Fatal Python error: bool_dealloc").
tests/test_exit_guard.py runs it in a subprocess and requires exit code 0.
"""

import asyncio
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import qasync
from PySide6.QtWidgets import QApplication


class Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


async def fetch_many(url: str) -> int:
    async with httpx.AsyncClient() as client:
        codes = [(await client.get(url)).status_code for _ in range(50)]
    reader, writer = await asyncio.open_connection("127.0.0.1", int(url.rsplit(":", 1)[1].strip("/")))
    writer.write(b"GET / HTTP/1.0\r\n\r\n")
    await writer.drain()
    await reader.read()
    writer.close()
    await writer.wait_closed()
    return codes.count(200)


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    app = QApplication(sys.argv)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        ok = loop.run_until_complete(fetch_many(f"http://127.0.0.1:{server.server_address[1]}/"))
    server.shutdown()
    print(f"ok={ok}", flush=True)


main()
