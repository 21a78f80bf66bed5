"""Application settings: engine, CommandCenter source, base images, tray preferences (JSON file, no Qt).

A missing or damaged file gives the defaults; a value of the wrong type falls back to that field's default,
so one bad hand edit never stops the app. Saving is atomic (temporary file + rename).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_SOURCE_GIT_URL = "https://github.com/PerformanceSuite/CommandCenter"
DEFAULT_SOURCE_GIT_REF = "main"
# PostgreSQL 16 with pgvector: the upstream CommandCenter repository's migration
# backend/alembic/versions/e5bd4ea700b0_enable_pgvector_extension.py runs CREATE EXTENSION vector.
DEFAULT_POSTGRES_IMAGE = "pgvector/pgvector:pg16"
DEFAULT_REDIS_IMAGE = "redis:7-alpine"
DEFAULT_PYTHON_IMAGE = "python:3.11-slim"
DEFAULT_NODE_IMAGE = "node:18-alpine"

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
    notify_running: bool = True
    notify_stopped: bool = True
    notify_failed: bool = True
    start_minimized: bool = False
    start_at_login: bool = False
    close_to_tray_hint_shown: bool = False

    @classmethod
    def load(cls, path: Path) -> AppSettings:
        """The settings in `path`; defaults for a missing or unreadable file and for each bad value."""
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        if not isinstance(raw, dict):
            return cls()
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> AppSettings:
        defaults = cls()
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            if field.name not in raw:
                continue
            value = raw[field.name]
            default = getattr(defaults, field.name)
            if isinstance(default, bool):
                if isinstance(value, bool):
                    values[field.name] = value
            elif isinstance(value, str):
                values[field.name] = value.strip()
        return cls(**values)

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
            os.replace(tmp_name, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise
