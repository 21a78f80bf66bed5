"""Every file and folder the app uses, from platformdirs; CCHUB_HOME moves all of them under one folder."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import NamedTuple

import platformdirs

from cchub_desktop import APP_ID
from cchub_desktop.atomic_files import clean_stale_parts
from cchub_desktop.file_modes import make_private_folder
from cchub_desktop.safe_names import checked_key

HOME_ENV = "CCHUB_HOME"


class AppPaths(NamedTuple):
    """Immutable; a NamedTuple rather than a dataclass: a second launch reads these before anything else, and
    `dataclasses` (with `inspect`) would cost it ~4 ms of its ~60 (benchmarks/README.md, second launch)."""

    data_dir: Path
    db_file: Path
    secrets_dir: Path
    logs_dir: Path
    backups_dir: Path
    settings_file: Path
    runtime_dir: Path

    def log_file(self, data_key: str, kind: str = "") -> Path:
        """A project's log file (`kind` "database" for its database jobs); the key is checked first."""
        return self.logs_dir / f"{checked_key(data_key)}{'-' + kind if kind else ''}.log"

    def log_files(self, data_key: str) -> list[Path]:
        """Every log file of a project: its log with rotated copies, and the database jobs' log that earlier
        versions wrote beside it (with its rotated copies); the first two may not exist."""
        key = checked_key(data_key)
        return [self.log_file(key), *self.logs_dir.glob(f"{key}.log.*"),
                self.log_file(key, "database"), *self.logs_dir.glob(f"{key}-database.log.*")]

    def logs_size(self, data_key: str) -> int:
        """Bytes in the project's log files (those that exist)."""
        total = 0
        for path in self.log_files(data_key):
            try:
                total += path.stat().st_size
            except OSError:
                continue
        return total

    def ensure(self) -> None:
        """Create every folder. The data, logs, backups and runtime folders are private to the user (0700),
        and tightened to it if found wider. The secrets folder is created 0700 too, but an existing one keeps
        its mode: if it was opened to others, starting a stack refuses and says how to fix it, rather than
        this quietly hiding that the passwords may have been read."""
        self.settings_file.parent.mkdir(parents=True, exist_ok=True)
        for folder in (self.data_dir, self.logs_dir, self.backups_dir, self.runtime_dir):
            make_private_folder(folder)
        clean_stale_parts(self.backups_dir)   # left by a killed backup or upgrade
        clean_stale_parts(self.backups_dir, pattern=".*-upgrade-check.sql")   # an upgrade killed while checking
        clean_stale_parts(self.data_dir)
        clean_stale_parts(self.settings_file.parent, pattern=".settings-*.tmp")   # a killed settings save
        if not self.secrets_dir.exists():
            self.secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(self.secrets_dir, 0o700)  # mkdir's mode is masked by the umask


def _under(home: Path) -> AppPaths:
    data = home / "data"
    return AppPaths(
        data_dir=data,
        db_file=data / "projects.sqlite3",
        secrets_dir=data / "secrets",
        logs_dir=home / "logs",
        backups_dir=data / "backups",
        settings_file=home / "settings.json",
        runtime_dir=home / "run",
    )


def app_paths() -> AppPaths:
    """The paths in force now: under $CCHUB_HOME when set, else the platform's user folders."""
    home = os.environ.get(HOME_ENV, "").strip()
    if home:
        return _under(Path(home).expanduser().resolve())
    dirs = platformdirs.PlatformDirs(APP_ID, appauthor=False)
    data = Path(dirs.user_data_dir)
    with warnings.catch_warnings():  # no XDG_RUNTIME_DIR (a bare session): platformdirs falls back itself
        warnings.simplefilter("ignore")
        try:
            runtime = Path(dirs.user_runtime_dir)
        except OSError:   # its fallback in the shared temp folder is another user's: use a private one
            runtime = data / "run"
    return AppPaths(
        data_dir=data,
        db_file=data / "projects.sqlite3",
        secrets_dir=data / "secrets",
        logs_dir=Path(dirs.user_log_dir),
        backups_dir=data / "backups",
        settings_file=Path(dirs.user_config_dir) / "settings.json",
        runtime_dir=runtime,
    )
