"""A start that failed in the database migrations, said in one line: the revision and the first error line.

Alembic prints `Running upgrade <from> -> <to>, <title>` before each revision; the revision that failed is the
last one it started. The error is the first `module.Error: text` line of the traceback's end (e.g.
`asyncpg.exceptions.UndefinedObjectError: type "linktype" does not exist`).
"""

from __future__ import annotations

import re

from cchub_desktop.stack.source_pin import VERIFIED_COMMIT, short

_RUNNING = re.compile(r"Running upgrade (?P<src>\S*)\s*->\s*(?P<rev>[^\s,]+)")
_ERROR = re.compile(r"^(?:[\w.]+\.)?\w*(?:Error|Exception|Failure)\b.*?:\s*\S")


def migration_failure(command: str, output: str) -> str | None:
    """One line for a failed `alembic upgrade` in `command`, from its `output`; None when it is not that."""
    if "alembic upgrade" not in command:
        return None
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if not any("alembic" in line or _RUNNING.search(line) for line in lines) and not any(
            _ERROR.match(line) for line in lines):
        return None
    revisions = [m.group("rev") for line in lines if (m := _RUNNING.search(line))]
    errors = [line for line in lines if _ERROR.match(line)]
    if not errors and not revisions:
        return None
    # the last exception line of a chained traceback is the one raised last; its first line is the cause named
    error = errors[-1] if errors else lines[-1]
    at = f" at revision {revisions[-1]}" if revisions else ""
    return (f"The database migrations failed{at}: {error[:300]}. See the backend's log for the whole output; a "
            f"new database migrates at the verified commit {short(VERIFIED_COMMIT)}.")
