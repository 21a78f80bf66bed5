"""PostgreSQL data on cache volumes, kept across sessions as the engine keeps cache volumes (opt-in).

With FAKE_DAGGER_VOLUMES_DIR set, every cache volume a PostgreSQL service runs on has a JSON file there:
the major version that initialised it (its PG_VERSION), the image that did, and its tables with their row
counts. Then, as with the real server:

- PostgreSQL started on an empty volume initialises it with its image's major (read from the tag);
  started on a volume another major initialised, it exits with "database files are incompatible with
  server" (the start fails);
- `pg_dump --host=ALIAS` (ALIAS bound to such a service) dumps that volume's tables (CREATE TABLE and a
  COPY block with one line per row); `psql --host=ALIAS --file=F` runs F against it: DROP TABLE, CREATE
  TABLE, COPY ... FROM stdin (rows up to `\\.`) and INSERT INTO change the tables. Nothing is written when
  the command fails (psql --single-transaction is all or nothing; a failure injected with
  FAKE_DAGGER_EXEC_FAIL counts as a failure);
- `sh -c "find M -mindepth 1 -delete"` with a cache volume mounted at M empties that volume (as the
  engine's prune does; a test can also call `PgVolumes.wipe(volume)`);
- as on the real engine (Dagger v0.21.8), a volume is one per name, sharing mode and owner: the mount
  options PostgreSQL first ran it with are kept (`<volume>.mount`), and a mount of the same name with other
  options (e.g. no owner) reaches another, empty volume (named `<name>@<sharing>/<owner>` here);
- `psql --host=ALIAS -c "COMMENT ON DATABASE d IS '...'"` sets the database's comment (kept with the volume,
  gone with it), and a `psql -c` query using shobj_description answers `<comment>|<number of tables>`.

Without the variable nothing persists and pg_dump/psql answer as before (execs.py).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_MAJOR = re.compile(r"^(?:pg)?(\d{1,2})(?:[.\-_]|$)")
FULL_VERSION = {15: "15.8", 16: "16.4", 17: "17.0"}


def image_major(image: str | None) -> int | None:
    """postgres:15-alpine -> 15, pgvector/pgvector:pg16 -> 16; None without a version tag."""
    last = (image or "").split("@", 1)[0].rsplit("/", 1)[-1]
    if ":" not in last:
        return None
    match = _MAJOR.match(last.split(":", 1)[1])
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class Server:
    """The PostgreSQL a client command reached: its image and the volume it runs on."""

    image: str | None
    volume: str

    def as_record(self) -> dict[str, Any]:
        return {"image": self.image, "volume": self.volume}


# The `postgres` user of the images the app names, as their /etc/passwd has it: the official Alpine images
# make it 70, the Debian-based ones (postgres:16, pgvector/pgvector:pg16) 999.
POSTGRES_UIDS = {"alpine": "70:70", "debian": "999:999"}


def resolved_owner(owner: str, image: str | None) -> str:
    """A mount's owner as the engine keeps it: a user name resolved to uid:gid through the image's
    /etc/passwd (seen on Dagger v0.21.8: `owner: "postgres"` became `owner: "100:100"` in an image whose
    postgres user is 100). Only `postgres` is known here; other names and numbers are kept as given."""
    if owner != "postgres":
        return owner
    return POSTGRES_UIDS["alpine" if "alpine" in (image or "") else "debian"]


def mount_options(sharing: str | None, owner: str, image: str | None = None) -> str:
    """A cache mount's options as the engine tells volumes apart by them (no sharing given: SHARED): the
    sharing mode and the owner's uid:gid in the mounting container's image (resolved_owner), so the same
    volume name mounted with owner `postgres` from images whose postgres user differs reaches two volumes."""
    return f"{sharing or 'SHARED'}/{resolved_owner(owner, image)}"


class PgVolumes:
    def __init__(self, root: str | None) -> None:
        self.root = Path(root) if root else None

    @classmethod
    def from_env(cls) -> PgVolumes:
        return cls(os.environ.get("FAKE_DAGGER_VOLUMES_DIR"))

    @property
    def enabled(self) -> bool:
        return self.root is not None

    def _file(self, volume: str) -> Path:
        assert self.root is not None
        return self.root / (re.sub(r"[^A-Za-z0-9_.-]", "_", volume) + ".json")

    def read(self, volume: str) -> dict[str, Any] | None:
        if self.root is None:
            return None
        try:
            data: dict[str, Any] = json.loads(self._file(volume).read_text())
        except FileNotFoundError:
            return None
        return data

    def write(self, volume: str, data: dict[str, Any]) -> None:
        if self.root is None:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        target = self._file(volume)
        partial = target.with_suffix(".part")
        partial.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.replace(partial, target)

    def seed(self, volume: str, image: str, tables: dict[str, int]) -> None:
        """A volume as `image` initialised it, holding `tables` (name -> rows)."""
        self.write(volume, {"pg_major": image_major(image), "initialised_by": image, "tables": dict(tables)})

    def exists(self, volume: str) -> bool:
        return self.read(volume) is not None

    def wipe(self, volume: str) -> None:
        if self.root is not None:
            self._file(volume).unlink(missing_ok=True)
            self._options_file(volume).unlink(missing_ok=True)

    def _options_file(self, volume: str) -> Path:
        return self._file(volume).with_suffix(".mount")

    def identity(self, name: str, options: str) -> str:
        """The volume a mount of `name` with `options` (mount_options) reaches: `name` itself unless PostgreSQL
        made it with other options."""
        if self.root is None or not self.exists(name):
            return name
        try:
            made_with = self._options_file(name).read_text()
        except FileNotFoundError:
            return name
        return name if made_with == options else f"{name}@{options}"

    def _keep_options(self, volume: str, options: str | None) -> None:
        if options and not self._options_file(volume).exists():
            self._options_file(volume).write_text(options)

    def open_server(self, image: str | None, volume: str, options: str | None = None) -> str | None:
        """PostgreSQL starting on `volume` (mounted with `options`): initialise an empty one; the server's error
        text when another major initialised it, else None."""
        if self.root is None:
            return None
        major = image_major(image)
        data = self.read(volume)
        if data is None:
            self._options_file(volume).unlink(missing_ok=True)
            self.write(volume, {"pg_major": major, "initialised_by": image, "tables": {}})
        self._keep_options(volume, options)   # the options that made it (a seeded one: its first server's)
        if data is None:
            return None
        had = data.get("pg_major")
        if had is not None and major is not None and had != major:
            return ("FATAL:  database files are incompatible with server\n"
                    f"DETAIL:  The data directory was initialized by PostgreSQL version {had}, which is not "
                    f"compatible with this version {FULL_VERSION.get(major, f'{major}.0')}.\n")
        return None

    @staticmethod
    def image_major(image: str | None) -> int | None:
        return image_major(image)

    def tables(self, volume: str) -> dict[str, int]:
        data = self.read(volume) or {}
        return {str(k): int(v) for k, v in (data.get("tables") or {}).items()}

    def set_tables(self, volume: str, tables: dict[str, int]) -> None:
        data = self.read(volume) or {"pg_major": None, "initialised_by": None}
        data["tables"] = dict(tables)
        self.write(volume, data)

    def comment(self, volume: str) -> str | None:
        """The database's COMMENT ON DATABASE (None: none set)."""
        value = (self.read(volume) or {}).get("comment")
        return None if value is None else str(value)

    def set_comment(self, volume: str, comment: str) -> None:
        data = self.read(volume) or {"pg_major": None, "initialised_by": None, "tables": {}}
        data["comment"] = comment
        self.write(volume, data)


def dump_tables(tables: dict[str, int]) -> str:
    """The table part of a plain-format dump: each table dropped, created and filled by a COPY block."""
    out = []
    for name, rows in sorted(tables.items()):
        out.append(f"DROP TABLE IF EXISTS {name};\nCREATE TABLE {name} (\n    id integer NOT NULL\n);\n\n"
                   f"COPY {name} (id) FROM stdin;\n" + "".join(f"{i}\n" for i in range(1, rows + 1)) + "\\.\n\n")
    return "".join(out)


_NAME = r"((?:\"?[\w]+\"?\.)?\"?[\w]+\"?)"
_DROP = re.compile(r"^DROP TABLE (?:IF EXISTS )?" + _NAME, re.IGNORECASE)
_CREATE = re.compile(r"^CREATE TABLE (?:IF NOT EXISTS )?" + _NAME, re.IGNORECASE)
_COPY = re.compile(r"^COPY " + _NAME + r".* FROM stdin;", re.IGNORECASE)
_INSERT = re.compile(r"^INSERT INTO " + _NAME, re.IGNORECASE)


def _qualified(name: str) -> str:
    name = name.replace('"', "")
    return name if "." in name else f"public.{name}"


def run_script(script: str, tables: dict[str, int]) -> dict[str, int]:
    """The tables after running a SQL script on them (the statements a plain dump uses)."""
    result = dict(tables)
    lines = script.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if match := _DROP.match(line):
            result.pop(_qualified(match.group(1)), None)
        elif match := _CREATE.match(line):
            result.setdefault(_qualified(match.group(1)), 0)
        elif match := _COPY.match(line):
            name = _qualified(match.group(1))
            while i < len(lines) and lines[i] != "\\.":
                result[name] = result.get(name, 0) + 1
                i += 1
            i += 1
        elif match := _INSERT.match(line):
            name = _qualified(match.group(1))
            result[name] = result.get(name, 0) + 1
    return result
