"""The check after a database upgrade reads two plain-SQL dumps line by line (stack/db_upgrade.py
file_inventory: tables and the rows of their COPY blocks). How long that takes, and how much memory it holds,
for a dump of ROWS rows, next to a bare `for line in file` over the same file in the same run (the floor any
line reader pays) and, for memory, the size of the file (what reading it whole would hold).

    .venv/bin/python -m benchmarks.db_upgrade_check [--rows N] [--runs N] [--json]
"""

from __future__ import annotations

import argparse
import tempfile
import tracemalloc
from pathlib import Path

from benchmarks.common import Row, fmt, median, print_rows, spread, time_ms
from cchub_desktop.stack.db_upgrade import file_inventory

TABLES = 8


def write_dump(path: Path, rows: int) -> None:
    """A dump shaped like pg_dump's plain format: per table a CREATE TABLE and a COPY block of tab-separated
    rows (an id, a name, a timestamp, a short text)."""
    per_table = rows // TABLES
    with path.open("w", encoding="utf-8") as fh:
        fh.write("--\n-- PostgreSQL database dump\n--\n\nSET statement_timeout = 0;\n\n")
        for t in range(TABLES):
            fh.write(f"CREATE TABLE public.table_{t} (\n    id integer NOT NULL,\n    name character varying(255),\n"
                     "    created_at timestamp with time zone,\n    body text\n);\n\n")
            fh.write(f"COPY public.table_{t} (id, name, created_at, body) FROM stdin;\n")
            for i in range(per_table):
                fh.write(f"{i}\tname {i}\t2026-12-03 06:00:00+00\tsome text of row {i} in table {t}\n")
            fh.write("\\.\n\n")
        fh.write("--\n-- PostgreSQL database dump complete\n--\n")


def bare_read(path: Path) -> int:
    n = 0
    with path.open(encoding="utf-8", errors="replace") as fh:
        for _line in fh:
            n += 1
    return n


def peak_kb(fn: object) -> float:
    tracemalloc.start()
    fn()  # type: ignore[operator]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1024


def run(rows: int, runs: int) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "dump.sql"
        write_dump(dump, rows)
        size_mb = dump.stat().st_size / 1e6
        found = file_inventory(dump)
        assert sum(found.values()) == rows // TABLES * TABLES and len(found) == TABLES
        check = time_ms(lambda: file_inventory(dump), runs)
        floor = time_ms(lambda: bare_read(dump), runs)
        mem = peak_kb(lambda: file_inventory(dump))
    section = f"upgrade check: a {size_mb:.0f} MB dump, {rows:,} rows"
    return [
        Row(section, "inventory of one dump", median(check), "ms", runs, spread(check),
            f"bare line loop {fmt(median(floor))} ms", median(check) / median(floor),
            note="file_inventory (tables + COPY row counts) vs `for line in file` on the same file"),
        Row(section, "peak Python memory of the inventory", mem, "KiB", 1, "",
            f"file size {size_mb * 1000:.0f} KB", mem / (size_mb * 1000 / 1.024)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    print_rows(run(args.rows, args.runs), args.json)


if __name__ == "__main__":
    main()
