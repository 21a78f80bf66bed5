"""Reading a local CommandCenter checkout (its HEAD and whether it has changes) never runs a command named
by that repository's own config: core.fsmonitor, hooks, clean filters."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from cchub_desktop.stack.source_pin import local_head

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@t", *args], check=True,
                   capture_output=True, timeout=60)


def test_a_hostile_checkout_config_runs_nothing(tmp_path: Path) -> None:
    repo = tmp_path / "checkout"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "a.txt").write_text("one\n")
    (repo / ".gitattributes").write_text("*.txt filter=evil\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "first")
    marker = tmp_path / "ran"
    for key, command in (("core.fsmonitor", f"touch {marker}-fsmonitor; false"),
                         ("filter.evil.clean", f"touch {marker}-filter; cat"),
                         ("filter.evil.process", f"touch {marker}-process; false")):
        git(repo, "config", key, command)
    (repo / "a.txt").write_text("two\n")   # a change: status would run the clean filter on it
    head = local_head(repo)
    assert head.commit is not None and len(head.commit) == 40
    assert head.dirty
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("ran")) == []
