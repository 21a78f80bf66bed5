"""The CommandCenter commit a project builds from (no Qt).

A git source is pinned: at a project's first start the configured ref (Settings → Source) is resolved to a
commit through the engine (GitRef.commit), recorded in the store (source_url/source_ref/source_commit), and
every later start builds `git(url).commit(sha)`. "Update CommandCenter" (`cchub update`, the window, the tray)
moves the pin to the ref's newest commit. A local checkout is never pinned: it is shown with its HEAD and
whether it has uncommitted changes.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dagger

    from cchub_desktop.stack.source_settings import SourceSettings
    from cchub_desktop.store.rows import StoredProject

SHORT = 7
UPDATE_HINT = "Update CommandCenter (or 'cchub update NAME') moves it"

# The upstream commit this release was verified against: on it a fresh database migrates (alembic upgrade heads
# exits 0) and the backend answers /health. A first start from the default source pins it instead of main's
# newest commit. Upstream's next commit, 4f5a0af5 (2026-01-02), adds migration doc1nt3ll001, which does
# `ALTER TYPE linktype ADD VALUE` on a type no migration creates: on an empty database every later commit fails
# its migrations (a database migrated before it upgrades fine). "Update CommandCenter" still moves to the newest.
VERIFIED_URL = "https://github.com/PerformanceSuite/CommandCenter"
VERIFIED_REF = "main"
VERIFIED_COMMIT = "cc1da242b2fcca1215dd2f9cdfd968c9e8e726ed"
VERIFIED_DATE = datetime.fromisoformat("2026-01-02T12:07:54-08:00")


def verified_commit(url: str, ref: str) -> str | None:
    """The verified commit when `url` @ `ref` is the default source, else None (the ref's newest is pinned)."""
    return VERIFIED_COMMIT if (url.rstrip("/").removesuffix(".git"), ref) == (VERIFIED_URL, VERIFIED_REF) else None


def verification_note(commit: str) -> str:
    """'' for the verified commit, else a note that this release was not verified against it."""
    if commit == VERIFIED_COMMIT:
        return " (the commit this release was verified against)"
    return f" (not verified with this release, which was verified against {short(VERIFIED_COMMIT)})"


def short(commit: str) -> str:
    return commit[:SHORT]


def describe_commit(commit: str, date: datetime | None) -> str:
    """'abc1234 (2026-11-30)', or the short hash alone when the date is not known."""
    return f"{short(commit)} ({date.date().isoformat()})" if date is not None else short(commit)


@dataclass(frozen=True)
class SourcePin:
    url: str
    ref: str
    commit: str
    date: datetime | None = None

    def describe(self) -> str:
        return describe_commit(self.commit, self.date)


def pin_of(project: StoredProject) -> SourcePin | None:
    if not project.source_commit:
        return None
    return SourcePin(project.source_url or "", project.source_ref or "", project.source_commit,
                     project.source_commit_date)


def settings_note(pin: SourcePin, url: str, ref: str) -> str:
    """A line for the log when Settings → Source now names another URL or ref than the pin's."""
    if (pin.url, pin.ref) == (url, ref):
        return ""
    return (f"[hub] Settings → Source name {url} @ {ref}; this project stays pinned to {pin.url} @ {pin.ref} "
            f"commit {pin.describe()} until you update it ({UPDATE_HINT} to the newest commit of {ref}).")


def is_commit(text: str) -> bool:
    """A git commit id as the engine gives it: 40 (SHA-1) or 64 (SHA-256) hex digits."""
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text.lower())


async def resolve_commit(client: dagger.Client, url: str, ref: str) -> str:
    """The commit `ref` (a branch, tag, full ref or commit) of the repository at `url` is at now: one query."""
    return await client.git(url).ref(ref).commit()


# ----- local checkouts ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class LocalHead:
    commit: str | None      # None: not a git checkout
    date: datetime | None
    dirty: bool

    def describe(self) -> str:
        if self.commit is None:
            return "local folder (not a git checkout)"
        return f"local checkout at {describe_commit(self.commit, self.date)}" + (
            ", with uncommitted changes" if self.dirty else "")


# A local checkout's own config may name commands git runs on `status` (core.fsmonitor, hooks, clean/process
# filters, an external diff): reading a folder must never run them.
SAFE_GIT = ("-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "-c", "core.untrackedCache=false",
            "-c", "diff.external=", "-c", "core.pager=cat", "--no-optional-locks")
_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"}


def _run_git(folder: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(["git", "-C", str(folder), *SAFE_GIT, *args], capture_output=True, text=True,
                              timeout=10, check=False, env={**os.environ, **_GIT_ENV}, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None


def _no_filters(folder: Path) -> tuple[str, ...]:
    """`-c` options that switch off every clean/smudge/process filter the folder's config names."""
    done = _run_git(folder, "config", "--name-only", "--get-regexp", r"^filter\..*\.(clean|smudge|process)$")
    names = done.stdout.split() if done is not None and done.returncode == 0 else []
    return tuple(part for name in names for part in ("-c", f"{name}="))


def _git(folder: Path, *args: str) -> str | None:
    done = _run_git(folder, *_no_filters(folder), *args)
    return done.stdout if done is not None and done.returncode == 0 else None


def local_head(folder: Path) -> LocalHead:
    """A local checkout's HEAD commit, its commit date and whether it has uncommitted changes."""
    line = _git(folder, "log", "-1", "--format=%H %cI")
    if not line or not line.strip():
        return LocalHead(None, None, False)
    commit, _, when = line.strip().partition(" ")
    try:
        date: datetime | None = datetime.fromisoformat(when)
    except ValueError:
        date = None
    status = _git(folder, "status", "--porcelain")
    return LocalHead(commit, date, bool(status and status.strip()))


def describe_source(project: StoredProject, source: SourceSettings) -> str:
    """What a project builds from, for the plan and the window: the pin, a local HEAD, or 'not pinned yet'."""
    if source.local_dir is not None:
        return local_head(source.local_dir).describe()
    pin = pin_of(project)
    if pin is None:
        verified = verified_commit(source.git_url, source.git_ref)
        if verified is not None:
            pinned = describe_commit(verified, VERIFIED_DATE)
            return f"not pinned yet (the first start pins the verified commit {pinned})"
        return f"not pinned yet (the first start pins {source.git_ref})"
    return f"pinned to {pin.describe()} of {pin.ref}"


# ----- updates ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class UpdateResult:
    project: str
    old: SourcePin | None
    new: SourcePin
    applies_next_start: bool = False

    @property
    def changed(self) -> bool:
        return self.old is None or self.old.commit != self.new.commit

    def message(self) -> str:
        name = f"CommandCenter for '{self.project}'"
        if not self.changed:
            return f"{name}: already at the newest commit {self.new.describe()} of {self.new.ref}."
        before = self.old.describe() if self.old is not None else "not pinned"
        text = f"{name}: {before} → {self.new.describe()}{verification_note(self.new.commit)}"
        if self.applies_next_start:
            text += " (it is running: the new commit applies at its next start)"
        return text
