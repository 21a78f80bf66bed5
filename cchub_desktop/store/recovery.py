"""When the project database cannot be used: keep the bad file, restore a backup or start fresh."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

_SIDECARS = ("-wal", "-shm", "-journal")


def list_backups(db_file: Path) -> list[Path]:
    """Copies made before migrations (`projects.sqlite3.vN-<time>.bak`), newest first."""
    found = db_file.parent.glob(f"{db_file.name}.v*.bak")
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def set_aside(db_file: Path) -> Path:
    """Move the database and its WAL/SHM files aside, under a name that says when; returns the kept copy."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    kept = db_file.with_name(f"{db_file.name}.damaged-{stamp}")
    number = 2
    while any(kept.with_name(kept.name + s).exists() for s in ("", *_SIDECARS)):   # two in one second
        kept = db_file.with_name(f"{db_file.name}.damaged-{stamp}-{number}")
        number += 1
    if db_file.exists():
        db_file.rename(kept)
    for suffix in _SIDECARS:
        side = db_file.with_name(db_file.name + suffix)
        if side.exists():
            side.rename(kept.with_name(kept.name + suffix))
    return kept


def restore_backup(db_file: Path, backup: Path) -> Path:
    """Put `backup` in place of the database; the current file is kept aside. Returns where it was kept."""
    if not backup.is_file():
        raise FileNotFoundError(f"backup {backup} does not exist")
    kept = set_aside(db_file)
    shutil.copy2(backup, db_file)
    return kept


def start_fresh(db_file: Path) -> Path:
    """Keep the current database aside so the app starts with an empty one. Returns where it was kept."""
    return set_aside(db_file)
