"""StackLog: bounded, split by service, scrubbed of secrets, on disk with rotation, safe across threads."""

from __future__ import annotations

import threading
from pathlib import Path

from cchub_desktop.stack import LogLine, StackLog

MARKERS = {
    "postgres": ["postgres:15-alpine", "postgres"],
    "redis": ["redis:7-alpine", "redis-server"],
    "backend": ["python:3.11-slim", "pip install", "alembic", "uvicorn"],
    "frontend": ["node:18-alpine", "npm ci", "vite"],
}

# The shape of the Dagger CLI's DAGGER_PROGRESS=plain output: span number, indentation by depth, a
# step (a call) or a log row `[time] | text` of that span.
PLAIN_SESSION = """\
1   : connect
1   : [0.1s] | engine name=dagger-engine version=v0.21.11
2   : Container.from(address: "python:3.11-slim"): Container!
3   :   Container.withExec(args: ["pip", "install", "-r", "requirements.txt"]): Container!
3   :   [1.0s] | Collecting fastapi
4   : start docker-entrypoint.sh postgres
5   : start npx vite --host 0.0.0.0 --port 3000
4   : [0.2s] | LOG:  database system is ready to accept connections
5   : [0.3s] |   VITE v5.4.8  ready in 412 ms
3   :   Container.withExec(args: ["pip", "install", "-r", "requirements.txt"]): Container! DONE [2.0s]
6   : tunnel 0.0.0.0:3010 -> frontend:3000
7   : Container.withExec(args: ["npm", "ci"]): Container!
7   : [0.4s] | added 312 packages
"""


def test_lines_are_split_by_service_from_the_span_prefix() -> None:
    log = StackLog()
    log.begin_session(MARKERS)
    log.write(PLAIN_SESSION)
    by_text = {line.text: line.service for line in log.lines()[1]}
    assert by_text["1   : [0.1s] | engine name=dagger-engine version=v0.21.11"] == "engine"
    assert by_text["3   :   [1.0s] | Collecting fastapi"] == "backend"   # nested span inherits python image
    assert by_text["4   : [0.2s] | LOG:  database system is ready to accept connections"] == "postgres"
    assert by_text["5   : [0.3s] |   VITE v5.4.8  ready in 412 ms"] == "frontend"
    assert by_text["6   : tunnel 0.0.0.0:3010 -> frontend:3000"] == "engine"
    assert by_text["7   : [0.4s] | added 312 packages"] == "frontend"   # a call rendered with its args
    assert log.text("backend").count("pip") == 2


def test_a_new_session_numbers_spans_afresh() -> None:
    log = StackLog()
    log.begin_session(MARKERS)
    log.write("4   : start docker-entrypoint.sh postgres\n")
    log.begin_session(MARKERS)
    log.write("4   : [0.1s] | hello\n")
    assert log.lines()[1][-1].service == "engine"


def test_hub_lines_and_ansi_colours() -> None:
    log = StackLog()
    log.write("[hub] starting Demo\n\x1b[35m2   : \x1b[0mstart npx vite\n")
    lines = log.lines()[1]
    assert [(x.service, x.text) for x in lines] == [("hub", "[hub] starting Demo"),
                                                     ("engine", "2   : start npx vite")]


def test_partial_writes_make_whole_lines() -> None:
    log = StackLog()
    log.write("2   : [0.1s] | hal")
    assert log.lines()[1] == []
    log.write("f a line\nand the next")
    log.flush()
    assert [x.text for x in log.lines()[1]] == ["2   : [0.1s] | half a line", "and the next"]


def test_secret_values_are_scrubbed_even_when_split_across_writes() -> None:
    secret = "s3cr3t-Value_abcdefghij"
    log = StackLog()
    log.add_secrets([secret])
    log.write(f"DATABASE_URL=postgresql://u:{secret[:7]}")
    log.write(f"{secret[7:]}@postgres/db\n")
    log.note(f"[hub] detail: {secret}")
    text = log.text()
    assert secret not in text
    assert "postgresql://u:***@postgres/db" in text


def test_the_buffer_is_bounded_and_cursors_read_only_new_lines() -> None:
    log = StackLog(capacity=100)
    for i in range(250):
        log.write(f"line {i}\n")
    cursor, lines = log.lines()
    assert cursor == 250 and len(lines) == 100 and lines[0].text == "line 150"
    log.write("line 250\n")
    cursor2, new = log.lines(cursor)
    assert cursor2 == 251 and [x.text for x in new] == ["line 250"]
    assert log.lines(cursor2) == (251, [])


def test_the_log_file_is_written_and_rotated(tmp_path: Path) -> None:
    secret = "another-secret-value-123"
    path = tmp_path / "logs" / "project-1.log"
    log = StackLog(path, max_bytes=2000, backup_count=2)
    log.add_secrets([secret])
    for i in range(200):
        log.write(f"{i:04d} output with {secret} in it\n")
    log.close()
    files = sorted(path.parent.iterdir())
    assert [f.name for f in files] == ["project-1.log", "project-1.log.1", "project-1.log.2"]
    text = "".join(f.read_text() for f in files)
    assert "0199 output with *** in it" in path.read_text()
    assert secret not in text


def test_writes_from_many_threads_lose_nothing_and_subscribers_see_every_line() -> None:
    log = StackLog(capacity=10_000)
    seen: list[LogLine] = []
    lock = threading.Lock()

    def collect(line: LogLine) -> None:
        with lock:
            seen.append(line)

    log.subscribe(collect)

    def writer(n: int) -> None:
        for i in range(500):
            log.write(f"{n}:{i}\n")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cursor, lines = log.lines()
    assert cursor == 4000 and len({x.text for x in lines}) == 4000
    assert len(seen) == 4000
    log.unsubscribe(collect)
    log.write("after\n")
    assert len(seen) == 4000
