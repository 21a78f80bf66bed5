"""The host copy of each project's data: the files in the app's data folder that outlive the engine.

Engine cache volumes can be pruned (the engine's garbage collection, `local-cache prune`, a reset or another
engine), so the runner copies each project's data here: a pg_dump of its database and, when the stack has one,
an archive of the backend's rag_storage. One folder per data key under `<data>/host-copies/` (all 0700), files
0600. A copy is numbered (its generation); its files are written under temporary names, flushed to disk and
renamed, and its manifest (`copy-NNNNNN.json`) is written last the same way: a copy without a manifest never
happened, and a crash leaves at most a temporary file that the next copy removes. The last KEEP copies are kept.
`status.json` says how the latest attempt went. No Qt and no Dagger here.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cchub_desktop.file_modes import PRIVATE_FILE, make_private_folder
from cchub_desktop.safe_names import checked_key

FOLDER = "host-copies"
KEEP = 3
TEMP_PREFIX = ".tmp-"
RETIRED_PREFIX = "retired-"
DUMP_SUFFIX = ".sql"
RAG_SUFFIX = ".rag.tar.gz"


def copies_root(data_dir: Path) -> Path:
    return Path(data_dir) / FOLDER


def copies_dir(data_dir: Path, data_key: str) -> Path:
    """The folder of one project's copies (named after its data key, never its name)."""
    return copies_root(data_dir) / checked_key(data_key)


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


@dataclass(frozen=True)
class HostCopy:
    number: int
    taken_at: datetime
    dump: Path
    rag: Path | None
    size: int
    reason: str = ""

    def describe(self) -> str:
        return f"copy {self.number}, {human_size(self.size)}"

    def as_dict(self) -> dict[str, Any]:
        return {"number": self.number, "time": self.taken_at.isoformat(timespec="seconds"), "size": self.size,
                "reason": self.reason}


@dataclass(frozen=True)
class CopyStatus:
    """How the latest copy attempt went."""

    ok: bool
    at: datetime
    message: str
    number: int | None = None


def _name(number: int) -> str:
    return f"copy-{number:06d}"


def list_copies(folder: Path) -> list[HostCopy]:
    """The complete copies in `folder` (those with a manifest and their files), newest first."""
    found: list[HostCopy] = []
    for manifest in Path(folder).glob("copy-*.json"):
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
            number = int(data["number"])
            dump = manifest.with_name(_name(number) + DUMP_SUFFIX)
            rag = manifest.with_name(_name(number) + RAG_SUFFIX) if data.get("rag") else None
            if not dump.is_file() or (rag is not None and not rag.is_file()):
                continue
            found.append(HostCopy(number, datetime.fromisoformat(str(data["time"])), dump, rag,
                                  int(data["size"]), str(data.get("reason", ""))))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return sorted(found, key=lambda c: c.number, reverse=True)


def newest_copy(folder: Path) -> HostCopy | None:
    copies = list_copies(folder)
    return copies[0] if copies else None


def _durable_rename(source: Path, dest: Path) -> None:
    """Flush `source` to disk, make it 0600 and rename it to `dest` (then flush the folder's entry)."""
    if sys.platform != "win32":
        os.chmod(source, PRIVATE_FILE)
    with source.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(source, dest)
    if sys.platform != "win32":
        fd = os.open(dest.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    temp = path.with_name(TEMP_PREFIX + path.name)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out)
    _durable_rename(temp, path)


class NewCopy:
    """One copy being written: the engine exports into `dump_temp` (and `rag_temp`); `commit` makes it a copy,
    `discard` removes what was written."""

    def __init__(self, folder: Path, reason: str) -> None:
        self.folder = Path(folder)
        self.reason = reason
        make_private_folder(self.folder.parent)
        make_private_folder(self.folder)
        remove_temporaries(self.folder)
        existing = [c.number for c in list_copies(self.folder)]
        self.number = max(existing, default=0) + 1
        self.dump_temp = self.folder / f"{TEMP_PREFIX}{_name(self.number)}{DUMP_SUFFIX}"
        self.rag_temp = self.folder / f"{TEMP_PREFIX}{_name(self.number)}{RAG_SUFFIX}"

    def commit(self, now: datetime | None = None, keep: int = KEEP) -> HostCopy:
        base = self.folder / _name(self.number)
        dump = base.with_name(base.name + DUMP_SUFFIX)
        _durable_rename(self.dump_temp, dump)
        rag: Path | None = None
        if self.rag_temp.exists():
            rag = base.with_name(base.name + RAG_SUFFIX)
            _durable_rename(self.rag_temp, rag)
        size = dump.stat().st_size + (rag.stat().st_size if rag is not None else 0)
        taken = (now or datetime.now().astimezone()).replace(microsecond=0)
        _write_json(base.with_name(base.name + ".json"),
                    {"number": self.number, "time": taken.isoformat(timespec="seconds"), "size": size,
                     "rag": rag is not None, "reason": self.reason})
        copy = HostCopy(self.number, taken, dump, rag, size, self.reason)
        prune(self.folder, keep)
        return copy

    def discard(self) -> None:
        for path in (self.dump_temp, self.rag_temp):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def remove_temporaries(folder: Path) -> None:
    """What an interrupted copy left (temporary files): never a copy, so removed."""
    leftovers = [*Path(folder).glob(TEMP_PREFIX + "*"), *Path(folder).glob("." + TEMP_PREFIX + "*")]
    for path in leftovers:
        with contextlib.suppress(OSError):
            path.unlink()


def prune(folder: Path, keep: int = KEEP) -> None:
    """Keep the newest `keep` copies; delete the files of older ones (manifest first)."""
    for old in list_copies(folder)[keep:]:
        base = old.dump.with_name(_name(old.number))
        for path in (base.with_name(base.name + ".json"), old.dump, old.rag):
            if path is not None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()


def write_status(folder: Path, status: CopyStatus) -> None:
    make_private_folder(Path(folder).parent)
    make_private_folder(folder)
    _write_json(Path(folder) / "status.json", {"ok": status.ok, "time": status.at.isoformat(timespec="seconds"),
                                               "message": status.message, "number": status.number})


def read_status(folder: Path) -> CopyStatus | None:
    try:
        data = json.loads((Path(folder) / "status.json").read_text(encoding="utf-8"))
        number = data.get("number")
        return CopyStatus(bool(data["ok"]), datetime.fromisoformat(str(data["time"])), str(data["message"]),
                          int(number) if number is not None else None)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def summary(data_dir: Path, data_key: str) -> dict[str, Any]:
    """For `cchub list --json` (`host_copy`): the last copy (time, size) and how the latest attempt went:
    state "ok", "failed" (older copies kept) or "none"."""
    folder = copies_dir(data_dir, data_key)
    last = newest_copy(folder)
    status = read_status(folder)
    state = "none" if last is None and status is None else ("failed" if status is not None and not status.ok
                                                            else "ok")
    result: dict[str, Any] = {"state": state, "copies": len(list_copies(folder)), "folder": str(folder)}
    if last is not None:
        result.update(time=last.taken_at.isoformat(timespec="seconds"), size=last.size, number=last.number)
    if status is not None and not status.ok:
        result.update(error=status.message, failed_at=status.at.isoformat(timespec="seconds"))
    return result


def retire_copies(folder: Path, label: str, now: datetime | None = None) -> Path | None:
    """Move the project's copies into a subfolder that is never restored from automatically (reset-db keeps the
    data it replaced there); returns it, or None when there was nothing to move."""
    folder = Path(folder)
    items = [p for p in folder.glob("copy-*") if p.is_file()]
    if not items:
        return None
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    target = folder / f"{RETIRED_PREFIX}{label}-{stamp}"
    make_private_folder(target)
    for path in items:
        os.replace(path, target / path.name)
    with contextlib.suppress(FileNotFoundError):
        (folder / "status.json").unlink()
    return target


def delete_copies(data_dir: Path, data_key: str) -> None:
    """Delete every copy of a project (remove --delete-data)."""
    shutil.rmtree(copies_dir(data_dir, data_key), ignore_errors=True)


ENGINE_GC_NOTE = ("The Dagger engine treats project volumes as a cache: its garbage collection prunes those unused "
                  "for 48 h once its caches pass 512 MB, and 'dagger core engine local-cache prune' removes every "
                  "one not in use. The app copies each project's data to {root} at every stop and every {minutes} "
                  "min while it runs, and restores the newest copy at the next start when the engine discarded the "
                  "volume.")


def doctor_notes(data_dir: Path, projects: list[tuple[str, str]], interval_min: int) -> list[str]:
    """`cchub doctor`'s warnings about the host copies: how the app protects the data, then each project
    (name, data key) that has no copy or whose latest copy failed, with what to do."""
    notes = [ENGINE_GC_NOTE.format(root=copies_root(data_dir), minutes=interval_min)]
    for name, key in projects:
        folder = copies_dir(data_dir, key)
        last = newest_copy(folder)
        status = read_status(folder)
        if status is not None and not status.ok:
            newest = (f"its newest copy is {last.describe()} of {last.taken_at:%Y-%m-%d %H:%M}" if last is not None
                      else "it has no copy")
            notes.append(f"warning: the latest host copy of '{name}' failed ({status.at:%Y-%m-%d %H:%M}: "
                         f"{status.message}); {newest}. Start and stop it once the engine works, or run "
                         f"'cchub backup \"{name}\"'.")
        elif last is None:
            notes.append(f"warning: '{name}' has no host copy of its data yet (one is made when it stops): if the "
                         "engine prunes its volume first, its database is lost.")
    return notes
