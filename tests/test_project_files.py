"""Removing a project with its data deletes every log file it has: its log with rotated copies, and the
database jobs' log that earlier versions wrote beside it (now they write the project's own log)."""

from __future__ import annotations

from pathlib import Path

from cchub_desktop.paths import app_paths
from cchub_desktop.project_data import _unlink_all, project_files


def test_remove_with_data_deletes_the_projects_logs_old_and_new_and_nobody_elses(cchub_home: Path) -> None:
    paths = app_paths()
    paths.ensure()
    mine = ["k1.log", "k1.log.1", "k1-database.log", "k1-database.log.2"]
    others = ["k12.log", "k2-database.log"]
    for name in mine + others:
        (paths.logs_dir / name).write_text("a line\n", encoding="utf-8")
    _unlink_all(project_files(paths, "k1"))
    assert sorted(p.name for p in paths.logs_dir.iterdir()) == sorted(others)
