"""SourceSettings: where a project's CommandCenter source comes from. A module of its own, light (no secrets,
images or host copies), so the engine check in the window reads it without loading a project's configuration."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cchub_desktop.settings import AppSettings

if TYPE_CHECKING:
    from cchub_desktop.store.rows import StoredProject


@dataclass(frozen=True)
class SourceSettings:
    """Where the CommandCenter source comes from: a local checkout when `local_dir` is set, else git."""

    git_url: str
    git_ref: str
    local_dir: Path | None = None
    commit: str | None = None     # the project's pinned commit (git only)
    commit_date: datetime | None = None

    @classmethod
    def from_settings(cls, settings: AppSettings) -> SourceSettings:
        local = settings.source_local_dir.strip()
        return cls(git_url=settings.source_git_url.strip(), git_ref=settings.source_git_ref.strip() or "main",
                   local_dir=Path(local).expanduser() if local else None)

    def describe(self) -> str:
        if self.local_dir is not None:
            return f"local checkout {self.local_dir}"
        if self.commit:
            from cchub_desktop.stack.source_pin import describe_commit

            return f"git {self.git_url} @ {self.git_ref}, commit {describe_commit(self.commit, self.commit_date)}"
        return f"git {self.git_url} @ {self.git_ref}"

    @classmethod
    def for_project(cls, project: StoredProject, settings: AppSettings) -> tuple[SourceSettings, str]:
        """The source of a start: a git source keeps the project's pin (its URL, ref and commit) once it has
        one, whatever Settings name now; with a note for the log when they differ."""
        source = cls.from_settings(settings)
        if source.local_dir is not None or not project.source_commit:
            return source, ""
        from cchub_desktop.stack.source_pin import pin_of, settings_note

        pin = pin_of(project)
        assert pin is not None
        return (cls(git_url=pin.url or source.git_url, git_ref=pin.ref or source.git_ref, commit=pin.commit,
                    commit_date=pin.date),
                settings_note(pin, source.git_url, source.git_ref))
