"""Notice when another process (a `cchub` command, another connection) changed the project database.

SQLite's `PRAGMA data_version` changes on a connection whenever a different connection commits; the query
costs microseconds, so polling it once a second is cheap. One long-lived stdlib connection, read only. No Qt.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path


class StoreWatch:
    def __init__(self, db_file: Path) -> None:
        self._db_file = Path(db_file)
        self._conn: sqlite3.Connection | None = None
        self._version: int | None = None

    def changed(self) -> bool:
        """True when a commit happened since the last call (the first call only takes the baseline)."""
        try:
            if self._conn is None:
                self._conn = sqlite3.connect(f"{self._db_file.as_uri()}?mode=ro", uri=True, timeout=1)
            version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error:
            self.close()   # moved, replaced or locked: try with a new connection next time
            return False
        before, self._version = self._version, version
        return before is not None and version != before

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
            self._version = None
