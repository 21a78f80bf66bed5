"""Application settings: engine, CommandCenter source, base images, tray preferences (JSON file, no Qt).

A missing file gives the defaults. A damaged one (not JSON, not a JSON object) is moved aside to
`settings.json.damaged-<time>` before the defaults are used, so the next save cannot overwrite what the user had;
a value of the wrong type falls back to that field's default and the others are kept. Either way the app and
`cchub` say so (`load_settings(...).notices`): one bad hand edit never stops the app, and never goes unsaid.
Saving is atomic (temporary file + rename) and the file is private to the user (0600).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cchub_desktop.file_modes import private_file
from cchub_desktop.settings_rules import HOST_COPY_INTERVAL_RANGE, stored_problem

logger = logging.getLogger(__name__)

DEFAULT_SOURCE_GIT_URL = "https://github.com/PerformanceSuite/CommandCenter"
DEFAULT_SOURCE_GIT_REF = "main"
# PostgreSQL 16 with pgvector: the upstream CommandCenter repository's migration
# backend/alembic/versions/e5bd4ea700b0_enable_pgvector_extension.py runs CREATE EXTENSION vector.
DEFAULT_POSTGRES_IMAGE = "pgvector/pgvector:pg16"
DEFAULT_REDIS_IMAGE = "redis:7-alpine"
DEFAULT_PYTHON_IMAGE = "python:3.11-slim"
DEFAULT_NODE_IMAGE = "node:20-alpine"   # as upstream's frontend/Dockerfile

DEFAULT_HOST_COPY_INTERVAL_MIN = 15

# The environment variables the Dagger CLI (and the SDK that starts it) read.
CLI_BIN_ENV = "_EXPERIMENTAL_DAGGER_CLI_BIN"
RUNNER_HOST_ENV = "_EXPERIMENTAL_DAGGER_RUNNER_HOST"


@dataclass
class AppSettings:
    dagger_cli_path: str = ""
    runner_host: str = ""
    source_git_url: str = DEFAULT_SOURCE_GIT_URL
    source_git_ref: str = DEFAULT_SOURCE_GIT_REF
    source_local_dir: str = ""
    postgres_image: str = DEFAULT_POSTGRES_IMAGE
    redis_image: str = DEFAULT_REDIS_IMAGE
    python_image: str = DEFAULT_PYTHON_IMAGE
    node_image: str = DEFAULT_NODE_IMAGE
    cuda_torch: bool = False   # the backend installs the CUDA torch wheel (~4.4 GB) instead of the CPU-only one
    notify_running: bool = True
    notify_stopped: bool = True
    notify_failed: bool = True
    start_minimized: bool = False
    start_at_login: bool = False
    close_to_tray_hint_shown: bool = False
    # minutes between the host copies of a running project's data (host_copies.py)
    host_copy_interval_min: int = DEFAULT_HOST_COPY_INTERVAL_MIN
    # Quit with stacks running: "ask" (the first time; the answer is kept here), "stop" them, or "leave" them
    # running in their runners for the next window (settings_rules.QUIT_CHOICES)
    on_quit: str = "ask"

    @classmethod
    def load(cls, path: Path) -> AppSettings:
        """The settings in `path` (see `load_settings`); what was wrong with the file goes to the log."""
        loaded = load_settings(path)
        for notice in loaded.notices:
            logger.warning("%s", notice)
        return loaded.settings

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> AppSettings:
        return cls._checked(raw)[0]

    @classmethod
    def _checked(cls, raw: dict[str, Any]) -> tuple[AppSettings, list[str]]:
        """The settings in `raw`, and the fields whose value was of the wrong type (they get the default)."""
        defaults = cls()
        values: dict[str, Any] = {}
        bad: list[str] = []
        for field in dataclasses.fields(cls):
            if field.name not in raw:
                continue
            value = raw[field.name]
            default = getattr(defaults, field.name)
            if isinstance(default, bool):
                if isinstance(value, bool):
                    values[field.name] = value
                else:
                    bad.append(f"{field.name} is {json.dumps(value)[:40]}, not true or false")
            elif isinstance(default, int):
                low, high = HOST_COPY_INTERVAL_RANGE
                if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
                    values[field.name] = value
                else:
                    bad.append(f"{field.name} is {json.dumps(value)[:40]}, not a whole number of minutes from "
                               f"{low} to {high}")
            elif isinstance(value, str):
                problem = stored_problem(field.name, value.strip())
                if problem is None:
                    values[field.name] = value.strip()
                else:   # one set of rules for the dialog and every load (settings_rules.py)
                    bad.append(f"{field.name} is {json.dumps(value)[:60]}: {problem.rstrip('.')}")
            else:
                bad.append(f"{field.name} is {json.dumps(value)[:40]}, not text")
        return cls(**values), bad

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, path: Path) -> None:
        """Write the settings atomically: readers see the old file or the new one, never half of one."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"
        fd, tmp_name = tempfile.mkstemp(prefix=".settings-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as tmp:
                tmp.write(text)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, path)  # mkstemp made it 0600
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise


@dataclass(frozen=True)
class LoadedSettings:
    settings: AppSettings
    notices: tuple[str, ...] = ()   # what was wrong with the file and what was done, one line each
    kept: Path | None = None        # where a damaged file was moved


def load_settings(path: Path) -> LoadedSettings:
    """The settings in `path`, with what was wrong with the file. A missing file gives the defaults silently;
    a damaged one is moved aside (`kept`) and gives the defaults; a field of the wrong type gets its default
    and the other fields are kept. Each case is one notice that says what happened and what to do."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return LoadedSettings(AppSettings())
    except OSError as exc:
        return LoadedSettings(AppSettings(), (
            f"The settings file {path} cannot be read ({exc.strerror or exc}), so the defaults are used. "
            "Check its permissions; saving the settings replaces it.",))
    private_file(path)
    try:
        raw = json.loads(data.decode("utf-8"))
    except ValueError as exc:   # also bytes that are not UTF-8
        return _set_aside(path, f"not valid JSON: {_short(exc)}")
    if not isinstance(raw, dict):
        return _set_aside(path, f"a JSON {_JSON_KINDS.get(type(raw), 'value')}, not an object of settings")
    settings, bad = AppSettings._checked(raw)
    if not bad:
        return LoadedSettings(settings)
    return LoadedSettings(settings, (
        f"The settings file {path} has values that cannot be used ({'; '.join(bad)}): the defaults are used for "
        f"{'it' if len(bad) == 1 else 'them'} and the other settings are kept. Fix the file, or set "
        f"{'it' if len(bad) == 1 else 'them'} again in Settings.",))


_JSON_KINDS: dict[type, str] = {list: "list", str: "string", int: "number", float: "number", bool: "boolean",
                                type(None): "null"}


def _short(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg.removesuffix(' at')} at line {exc.lineno}, column {exc.colno}"
    return str(exc)[:80]


def _set_aside(path: Path, why: str) -> LoadedSettings:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    kept = path.with_name(f"{path.name}.damaged-{stamp}")
    number = 2
    while kept.exists():
        kept = path.with_name(f"{path.name}.damaged-{stamp}-{number}")
        number += 1
    try:
        path.rename(kept)
    except OSError as exc:
        return LoadedSettings(AppSettings(), (
            f"The settings file {path} is damaged ({why}) and could not be moved aside ({exc.strerror or exc}): "
            "the defaults are used, and saving the settings will replace it. Copy it somewhere first if it "
            "matters.",))
    return LoadedSettings(AppSettings(), (
        f"The settings file {path} was damaged ({why}): it was moved to {kept} and the defaults are used. "
        "Choose your settings again in Settings, or fix that copy and put it back.",), kept)


def load_for_cli(path: Path) -> AppSettings:
    """For `cchub`: the settings, each notice printed as one line on stderr."""
    loaded = load_settings(path)
    for notice in loaded.notices:
        print(f"cchub: {notice}", file=sys.stderr)
    return loaded.settings
