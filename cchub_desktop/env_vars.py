"""Environment variables of the backend (and worker): for all projects and per project, each plain or secret.

Names and plain values live in `environment.json` in the app's data folder (0600). A secret's value never
goes there, nor to the project database, a plan or a log: it is kept in the desktop's keyring where one
answers (the `keyring` package: Secret Service, macOS Keychain, Windows Credential Locker), else in a 0600
file in the secrets folder, and reaches the containers only as a Dagger secret. A change applies at the
project's next start. No Qt, no Dagger.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cchub_desktop.file_modes import make_private_folder
from cchub_desktop.paths import AppPaths

ALL = "all"                       # the scope of variables for all projects (else a project's data key)
KEYRING_SERVICE = "CommandCenter Hub"
KEY_SHAPE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MAX_VALUE = 32_768
# set by the stack itself (stack/recipe.py): a user's variable must not replace them
RESERVED = frozenset({
    "DATABASE_URL", "POSTGRES_USER", "POSTGRES_DB", "POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_PASSWORD",
    "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "SECRET_KEY", "ENCRYPTION_SALT", "PYTHONUNBUFFERED",
    "WORKSPACE_DIR", "ENVIRONMENT", "CORS_ORIGINS", "PGDATA", "REDIS_PASSWORD",
})


class EnvError(Exception):
    """A bad key or value, or a store that cannot be read or written: one line for the user."""


def check_key(key: str) -> str:
    if not KEY_SHAPE.match(key):
        shown = key.encode("unicode_escape").decode("ascii")
        raise EnvError(f"'{shown}' is not a variable name: use letters, digits and _, not starting with a digit "
                       "(at most 128 characters)")
    if key.upper() in RESERVED:
        raise EnvError(f"{key} is set by the stack itself (its database, Redis or secrets); choose another name")
    return key


def check_value(key: str, value: str) -> str:
    bad = next((ch for ch in value if ch in "\n\r\0" or (not ch.isprintable() and ch != "\t")), None)
    if bad is not None:
        raise EnvError(f"the value of {key} contains a control character (U+{ord(bad):04X}, e.g. a newline); "
                       "give it on one line")
    if len(value) > MAX_VALUE:
        raise EnvError(f"the value of {key} is {len(value)} characters long; the limit is {MAX_VALUE}")
    return value


@dataclass(frozen=True)
class Variable:
    key: str
    secret: bool
    scope: str                    # ALL or a project's data key
    value: str = field(default="", repr=False)   # plain: the value; secret: "" unless resolved


@dataclass(frozen=True)
class ProjectEnvironment:
    """What a project's backend gets: all-projects variables overridden by the project's own."""

    plain: tuple[tuple[str, str], ...] = ()
    secret: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    problem: str = ""   # why the variables could not be read (a start refuses; a backup does not need them)

    def secret_names(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.secret)


NO_ENVIRONMENT = ProjectEnvironment()


def _keyring() -> object | None:
    """The desktop's keyring when one answers, else None (no `keyring` package, or only its fail/null one)."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    try:
        ring = keyring.get_keyring()
    except Exception:   # a broken backend configuration: use the file
        return None
    if isinstance(ring, fail.Keyring) or type(ring).__module__.startswith("keyring.backends.null"):
        return None
    return ring


class EnvironmentStore:
    def __init__(self, paths: AppPaths) -> None:
        self.paths = paths
        self.file = paths.data_dir / "environment.json"
        self.secrets_file = paths.secrets_dir / "environment.json"

    # ----- reading -------------------------------------------------------------------------------------------

    def _read(self, path: Path) -> dict[str, dict[str, object]]:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise EnvError(f"{path} cannot be read ({type(exc).__name__}); fix or remove it") from exc
        return raw if isinstance(raw, dict) else {}

    def variables(self, scope: str) -> list[Variable]:
        entries = self._read(self.file).get(scope, {})
        out = []
        for key, entry in sorted(entries.items()):
            if isinstance(entry, dict):
                secret = bool(entry.get("secret"))
                out.append(Variable(key, secret, scope, "" if secret else str(entry.get("value", ""))))
        return out

    def for_project(self, data_key: str) -> ProjectEnvironment:
        """The variables a start of this project passes, secret values resolved. EnvError when a secret's
        value is missing from its store."""
        merged = {v.key: v for v in self.variables(ALL)}
        merged.update({v.key: v for v in self.variables(data_key)})
        plain = tuple((k, v.value) for k, v in sorted(merged.items()) if not v.secret)
        secret = tuple((k, self.secret_value(v.scope, k)) for k, v in sorted(merged.items()) if v.secret)
        return ProjectEnvironment(plain, secret)

    def secret_value(self, scope: str, key: str) -> str:
        ring = _keyring()
        value: str | None = None
        if ring is not None:
            with contextlib.suppress(Exception):
                value = ring.get_password(KEYRING_SERVICE, f"{scope}/{key}")  # type: ignore[attr-defined]
        if value is None:
            value = _as_str(self._read(self.secrets_file).get(scope, {}).get(key))
        if value is None:
            raise EnvError(f"the value of the secret variable {key} is missing from the keyring and the secrets "
                           f"folder; set it again: cchub env NAME --secret {key}")
        return value

    # ----- writing -------------------------------------------------------------------------------------------

    def set(self, scope: str, key: str, value: str, *, secret: bool) -> str:
        """Store a variable; returns where a secret went ("keyring" or "secrets folder")."""
        check_key(key)
        check_value(key, value)
        where = ""
        if secret:
            where = self._store_secret(scope, key, value)
        else:
            self._forget_secret(scope, key)
        data = self._read(self.file)
        data.setdefault(scope, {})[key] = {"secret": True} if secret else {"value": value}
        _write_private(self.file, data)
        return where

    def unset(self, scope: str, key: str) -> bool:
        data = self._read(self.file)
        found = data.get(scope, {}).pop(key, None) is not None
        if found:
            if not data[scope]:
                del data[scope]
            _write_private(self.file, data)
        self._forget_secret(scope, key)
        return found

    def _store_secret(self, scope: str, key: str, value: str) -> str:
        ring = _keyring()
        if ring is not None:
            try:
                ring.set_password(KEYRING_SERVICE, f"{scope}/{key}", value)  # type: ignore[attr-defined]
                self._forget_file_secret(scope, key)
                return "keyring"
            except Exception:   # locked, refused, gone away: the file keeps it
                pass
        make_private_folder(self.paths.secrets_dir)
        data = self._read(self.secrets_file)
        data.setdefault(scope, {})[key] = value
        _write_private(self.secrets_file, data)
        return "secrets folder"

    def _forget_secret(self, scope: str, key: str) -> None:
        ring = _keyring()
        if ring is not None:
            with contextlib.suppress(Exception):
                ring.delete_password(KEYRING_SERVICE, f"{scope}/{key}")  # type: ignore[attr-defined]
        self._forget_file_secret(scope, key)

    def _forget_file_secret(self, scope: str, key: str) -> None:
        data = self._read(self.secrets_file)
        if data.get(scope, {}).pop(key, None) is not None:
            _write_private(self.secrets_file, data)


def _as_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _write_private(path: Path, data: object) -> None:
    """Write JSON under a temporary 0600 name, then move it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".new-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def describe(variables: list[Variable]) -> Iterator[str]:
    for v in variables:
        yield f"{v.key}=<secret>" if v.secret else f"{v.key}={v.value}"
