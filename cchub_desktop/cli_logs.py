"""`cchub logs NAME` and `cchub open NAME`: read a project's log, open its frontend (or API) in the browser.

`logs` reads the rotating file every owner of the project writes (the app or a `cchub up`:
"<date> <time>,<ms> <service> <text>"), so it works wherever the stack runs and after it has stopped; `-f`
follows the file as it grows (and starts over when it is rotated) until Ctrl-C. No Qt, no Dagger, no SQLModel.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import signal
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cchub_desktop.cli_project import CliError, find_row
from cchub_desktop.paths import app_paths

# logging's default asctime, then the service padded to 8, then the text (stack/logs.py writes it)
FILE_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d{3} (\S+)\s*? (.*)$")
# the services a stack's log names (stack/recipe.py) and the app's own sources; others found in a file count too
KNOWN_SERVICES = ("postgres", "redis", "nats", "backend", "worker", "beat", "frontend", "hub", "engine")
BACKUPS = 3          # rotated files kept next to the log (stack/logs.py DEFAULT_BACKUPS)
FOLLOW_POLL_S = 0.25


@dataclass(frozen=True)
class FileLine:
    stamp: str      # "2026-12-05 02:22:31"
    service: str
    text: str

    def render(self) -> str:
        return f"{self.stamp} {self.service:>8} | {self.text}"


def parse(raw: str) -> FileLine | None:
    match = FILE_LINE.match(raw)
    if match is None:
        return None
    stamp, service, text = match.groups()
    return FileLine(stamp, service, text.lstrip(" "))


def log_file_of(data_key: str) -> Path:
    return app_paths().log_file(data_key)   # the key checked first


def read_lines(log_file: Path, raws: Iterable[str]) -> Iterator[FileLine]:
    """Lines of the file format; a line without the prefix continues the one before (a traceback)."""
    last: FileLine | None = None
    for raw in raws:
        raw = raw.rstrip("\n")
        line = parse(raw)
        if line is None:
            if last is not None and raw.strip():
                yield FileLine(last.stamp, last.service, raw)
            continue
        last = line
        yield line


def history(log_file: Path) -> Iterator[FileLine]:
    """Every line of the file and its rotated predecessors, oldest first."""
    for number in range(BACKUPS, -1, -1):
        path = log_file if number == 0 else log_file.with_name(f"{log_file.name}.{number}")
        with contextlib.suppress(OSError), path.open(encoding="utf-8", errors="replace") as handle:
            yield from read_lines(path, handle)


SINCE_SPAN = re.compile(r"^(\d+)([smhd])$")


def since_stamp(text: str) -> str:
    """"10m", "2h", "1d", "30s" ago, or a local date and time ("2026-12-05 14:00", "2026-12-05T14:00:00"), as
    the log file's stamp to compare with."""
    from datetime import datetime, timedelta

    span = SINCE_SPAN.match(text.strip())
    if span:
        amount, unit = int(span.group(1)), span.group(2)
        unit_name = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[unit]
        when = datetime.now() - timedelta(**{unit_name: amount})
    else:
        try:
            when = datetime.fromisoformat(text.strip())
        except ValueError:
            raise CliError(f"--since takes a time like 10m, 2h, 1d or 2026-12-05 14:00 (got '{text}')") from None
        if when.tzinfo is not None:
            when = when.astimezone().replace(tzinfo=None)
    return when.strftime("%Y-%m-%d %H:%M:%S")


def _check_service(service: str | None, name: str, seen: set[str]) -> None:
    if service is None or service in KNOWN_SERVICES or service in seen:
        return
    known = ", ".join(dict.fromkeys([*KNOWN_SERVICES, *sorted(seen)]))
    raise CliError(f"no service named '{service}' in the log of '{name}'; use one of: {known}")


def cmd_logs(args: argparse.Namespace) -> int:
    if args.lines is not None and args.lines < 0:
        raise CliError(f"-n takes a number of lines, 0 or more (got {args.lines})")
    since = since_stamp(args.since) if args.since else None
    row = find_row(args.project)
    log_file = log_file_of(row.data_key)
    seen: set[str] = set()
    tail: deque[FileLine] = deque(maxlen=args.lines)   # maxlen None: every line
    for line in history(log_file):
        seen.add(line.service)
        if (args.service is None or line.service == args.service) and (since is None or line.stamp >= since):
            tail.append(line)
    _check_service(args.service, row.name, seen)
    if not seen and not args.follow:
        print(f"'{row.name}' has no log yet: it has not been started.", file=sys.stderr)
        return 0
    for line in tail:
        print(line.render())
    sys.stdout.flush()
    if args.follow:
        follow(log_file, args.service)
    return 0


def follow(log_file: Path, service: str | None) -> None:
    """Print the lines appended to the file until Ctrl-C or SIGTERM (which end it normally)."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        offset = _size(log_file)
        pending = b""
        while True:
            size = _size(log_file)
            if size < offset:   # rotated: the new file starts from its beginning
                offset, pending = 0, b""
            if size > offset:
                with contextlib.suppress(OSError), log_file.open("rb") as handle:
                    handle.seek(offset)
                    data = handle.read(size - offset)
                    offset += len(data)
                    pending += data
                complete, _, pending = pending.rpartition(b"\n")
                if complete:
                    raws = complete.decode("utf-8", errors="replace").split("\n")
                    for line in read_lines(log_file, raws):
                        if service is None or line.service == service:
                            print(line.render())
                    sys.stdout.flush()
            time.sleep(FOLLOW_POLL_S)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def cmd_open(args: argparse.Namespace) -> int:
    import webbrowser

    from cchub_desktop.lease import live_status, owner_of

    row = find_row(args.project)
    port = row.backend_port if args.api else row.frontend_port
    url = f"http://localhost:{port}" + ("/docs" if args.api else "")
    status = live_status(row.status, owner_of(app_paths().runtime_dir, row.data_key))
    if status != "running":
        raise CliError(f"'{row.name}' is {status}, so {url} does not answer; start it first: "
                       f"cchub start \"{row.name}\"")
    try:
        opened = webbrowser.open(url)
    except webbrowser.Error:
        opened = False
    if opened:
        print(f"Opened {url}")
    else:
        print(f"No web browser found here: open {url} yourself.")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("logs", help="print a project's log (-f: follow it)")
    p.add_argument("project")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines until Ctrl-C")
    p.add_argument("--service", metavar="S", help="only this service's lines: postgres, redis, backend, "
                                                  "frontend, hub (the app's own), engine")
    p.add_argument("-n", "--lines", type=int, metavar="N", help="only the last N lines (default: all)")
    p.add_argument("--since", metavar="T", help="only lines since T: 10m, 2h, 1d ago, or a local date and time")
    p.set_defaults(handler=cmd_logs)

    p = sub.add_parser("open", help="open a running project's frontend in the browser")
    p.add_argument("project")
    p.add_argument("--api", action="store_true", help="open the backend's API docs instead")
    p.set_defaults(handler=cmd_open)
