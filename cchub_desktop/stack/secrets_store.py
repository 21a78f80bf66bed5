"""Per-project secrets: generated once, kept in a 0600 file in a 0700 folder, reused on every start.

The PostgreSQL data lives on in a cache volume, so its password must never change behind the user's back:
a damaged or missing value is an error with a fix-it message, never a silent regeneration. The values never
go to the project database or to a log.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import stat
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cchub_desktop.safe_names import checked_key
from cchub_desktop.stack.errors import StackError

SECRET_FIELDS = ("db_password", "redis_password", "secret_key", "encryption_salt")
# Fields added after the first files were written: a file without one gets it generated and added once (under
# the file lock), then kept; the original fields are never regenerated.
ADDED_FIELDS = ("encryption_salt",)
FILE_VERSION = 1
# what the store's fingerprint covers: the fields as of store schema 2, never to change (a later field must not
# make every recorded fingerprint stale)
FINGERPRINT_FIELDS = ("db_password", "redis_password", "secret_key", "encryption_salt")
CHECK_MODES = sys.platform != "win32"


@dataclass(frozen=True)
class ProjectSecrets:
    """The generated secrets of one project. `repr` never shows the values."""

    db_password: str = field(repr=False)
    redis_password: str = field(repr=False)
    secret_key: str = field(repr=False)
    # ENCRYPTION_SALT of the upstream CommandCenter backend (backend/app/config.py): the PBKDF2 salt of the
    # tokens it stores encrypted, so it must stay the same for the life of the database.
    encryption_salt: str = field(repr=False)

    @classmethod
    def generate(cls) -> ProjectSecrets:
        return cls(db_password=secrets.token_urlsafe(24), redis_password=secrets.token_urlsafe(24),
                   secret_key=secrets.token_urlsafe(48), encryption_salt=secrets.token_urlsafe(24))

    def values(self) -> tuple[str, ...]:
        return tuple(getattr(self, name) for name in SECRET_FIELDS)


def secrets_file(secrets_dir: Path, slug: str) -> Path:
    return Path(secrets_dir) / f"{checked_key(slug)}.json"


def fingerprint(values: ProjectSecrets) -> str:
    """A digest of the secrets that says whether a file is the one the database was made with; it reveals
    nothing of them (they are long random strings)."""
    import hashlib

    joined = "\0".join(getattr(values, name) for name in FINGERPRINT_FIELDS)
    return "sha256:" + hashlib.sha256(joined.encode()).hexdigest()[:32]


def load_checked(secrets_dir: Path, key: str, recorded: str | None, *, made_before: bool,
                 name: str) -> tuple[ProjectSecrets, str | None]:
    """The project's secrets for a start or a database job, and the fingerprint to record when they were
    made (or first seen) now. Never regenerates secrets that a database may have been made with: when the
    store recorded a fingerprint (or the project has run before) and the file is missing or differs, this
    raises StackError with the fixes."""
    path = secrets_file(secrets_dir, key)
    if not path.exists() and (recorded is not None or made_before):
        raise StackError(_missing(path, name), detail="secrets file missing", step="secrets")
    values = load_or_create(secrets_dir, key)
    now = fingerprint(values)
    if recorded is None:
        return values, now
    if now != recorded:
        raise StackError(_mismatch(path, name), detail=f"fingerprint {now} != recorded {recorded}",
                         step="secrets")
    return values, None


def _fixes(path: Path, name: str) -> str:
    return (f"Restore the file from a backup (`cchub backup` keeps a copy next to each dump, named *.secrets.json: "
            f"copy it to {path}), or reset the project's database, which deletes its data: "
            f"`cchub reset-db '{name}'`.")


def _missing(path: Path, name: str) -> str:
    return (f"The passwords of '{name}' are missing ({path} is gone), and its database was made with them: "
            f"new ones would lock it out, so none were made. " + _fixes(path, name))


def _mismatch(path: Path, name: str) -> str:
    return (f"The passwords in {path} are not the ones '{name}''s database was made with (the file was "
            f"replaced). Nothing was started. " + _fixes(path, name))


def load_or_create(secrets_dir: Path, slug: str) -> ProjectSecrets:
    """The project's secrets, created on first use. Raises StackError when the folder or file can be read by
    others, belongs to another user, or is damaged."""
    folder = Path(secrets_dir)
    _ensure_private_dir(folder)
    path = secrets_file(folder, slug)
    if not path.exists():
        _create(path, ProjectSecrets.generate())
    raw = _read_raw(path)
    if any(name not in raw for name in ADDED_FIELDS):
        with _file_lock(path):
            raw = _read_raw(path)   # another process may have added them meanwhile: keep theirs
            missing = [name for name in ADDED_FIELDS if name not in raw]
            if missing:
                fresh = ProjectSecrets.generate()
                raw.update({name: getattr(fresh, name) for name in missing})
                _rewrite(path, raw)
    return _values(path, raw)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock next to the secrets file, held while a field is added (every process that may add
    one takes it, so the field is generated once)."""
    lock_path = path.with_name(f".{path.name}.lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if sys.platform == "win32":
            import msvcrt
            msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
        else:
            import fcntl
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _rewrite(path: Path, data: dict[str, object]) -> None:
    with _written(path, data) as tmp_name:
        os.replace(tmp_name, path)


@contextlib.contextmanager
def _written(path: Path, data: dict[str, object]) -> Iterator[str]:
    """`data` in a new private file beside `path`, synced; yields its name, removes it afterwards if left."""
    fd, tmp_name = tempfile.mkstemp(prefix=".new-", dir=path.parent)  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as tmp:
            json.dump(data, tmp)
            tmp.flush()
            os.fsync(tmp.fileno())
        yield tmp_name
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)


def _ensure_private_dir(folder: Path) -> None:
    if not folder.exists():
        try:
            folder.mkdir(mode=0o700, parents=True)
        except FileExistsError:
            pass
        except OSError as exc:
            raise StackError(f"The secrets folder {folder} could not be created: {exc.strerror}. "
                             "Check the permissions of its parent folder.", detail=repr(exc),
                             step="secrets") from exc
        if CHECK_MODES:
            os.chmod(folder, 0o700)
    if not folder.is_dir():
        raise StackError(f"{folder} should be the secrets folder but is not a folder. Move it away and "
                         "start again.", step="secrets")
    _check_private(folder, 0o700, "folder", "chmod 700")


def _check_private(path: Path, wanted: int, kind: str, command: str) -> None:
    if not CHECK_MODES:
        return
    st = path.stat()
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise StackError(f"The secrets {kind} {path} belongs to another user, so the project's passwords "
                         f"could have been changed or read. Make it yours (chown) or remove it.",
                         detail=f"owner uid {st.st_uid}", step="secrets")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise StackError(f"The secrets {kind} {path} can be read by other users (mode {mode:o}). "
                         f"Restrict it with: {command} '{path}' — then start again.",
                         detail=f"mode {mode:o}, wanted {wanted:o}", step="secrets")


def _create(path: Path, values: ProjectSecrets) -> None:
    """Write the file under a temporary name and link it into place: a concurrent creator loses cleanly and
    a crash never leaves a half-written file under the real name."""
    data = {"version": FILE_VERSION, **{name: getattr(values, name) for name in SECRET_FIELDS}}
    with _written(path, data) as tmp_name:
        try:
            os.link(tmp_name, path)
        except FileExistsError:
            pass  # another process created it first: use theirs
        except OSError:
            if not path.exists():
                os.replace(tmp_name, path)


def _damaged(path: Path) -> str:
    return (f"The secrets file {path} is damaged. The project's database was created with the password "
            "in it, so it is not replaced automatically: restore it from a backup, or delete it to start "
            "with new passwords (a database from before will then refuse the new password).")


def _read(path: Path) -> ProjectSecrets:
    return _values(path, _read_raw(path))


def _read_raw(path: Path) -> dict[str, object]:
    _check_private(path, 0o600, "file", "chmod 600")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StackError(_damaged(path), detail=type(exc).__name__, step="secrets") from exc
    if not isinstance(raw, dict):
        raise StackError(_damaged(path), detail="not a JSON object", step="secrets")
    return raw


def _values(path: Path, raw: dict[str, object]) -> ProjectSecrets:
    damaged = _damaged(path)
    values = {name: raw.get(name) for name in SECRET_FIELDS}
    missing = [name for name, value in values.items() if not isinstance(value, str) or len(value) < 16]
    if missing:
        raise StackError(damaged, detail=f"missing or short: {', '.join(missing)}", step="secrets")
    return ProjectSecrets(**{name: str(value) for name, value in values.items()})
