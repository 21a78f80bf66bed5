"""A damaged install (a module of the app or of a library it needs cannot be imported) says so in one box and
exits 1: no traceback, the painted window closed, the projects and the single-instance socket left as they were."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cchub_desktop.paths import app_paths
from cchub_desktop.store import ProjectStore
from cchub_desktop.store.rows import read_projects

PROBE = Path(__file__).with_name("broken_install_probe.py")


@pytest.mark.parametrize("projects", [0, 2], ids=["first-launch", "window-painted-first"])
def test_a_missing_module_is_one_line_in_a_box_not_a_traceback(projects: int, cchub_home: Path,
                                                                 tmp_path: Path) -> None:
    if projects:
        from fake_dagger.fixtures import free_port_block

        paths = app_paths()
        paths.ensure()
        store = ProjectStore(paths.db_file)
        for i in range(projects):
            (tmp_path / f"p{i}").mkdir()
            b = free_port_block()
            store.add(f"Project {i}", tmp_path / f"p{i}", backend_port=b.backend, frontend_port=b.frontend,
                      postgres_port=b.postgres, redis_port=b.redis)
        store.close()
    env = dict(os.environ, CCHUB_HOME=str(cchub_home), QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, str(PROBE), "cchub_desktop.ui.tray_integration", "--no-engine-check"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads([line for line in proc.stdout.splitlines() if line.startswith("{")][-1])
    assert report["exit"] == 1
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    [(title, text)] = report["boxes"]   # one box, one line: what, and what to do
    assert title == "CommandCenter Hub cannot start"
    assert "cchub_desktop.ui.tray_integration is missing" in text and "Reinstall CommandCenter Hub" in text
    assert "\n" not in text
    if projects:
        rows = read_projects(app_paths().db_file)
        assert rows is not None and len(rows) == projects   # nothing lost
    # the next launch is not refused as "already running": the single instance was released
    again = subprocess.run([sys.executable, "-m", "cchub_desktop", "--self-test"], env=env, capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 0, again.stderr[-3000:]
