"""The source check: a local CommandCenter checkout in upstream's shape passes; each broken shape gives one
line that says what is wrong and how to fix it; a start refuses a broken checkout before any engine work."""

from __future__ import annotations

import asyncio
import os
import posixpath
import subprocess
import sys
from pathlib import Path

import pytest
from commandcenter_tree import FILES, LIB, write_commandcenter_tree
from fake_dagger.fixtures import FakeDagger, FreePortBlock

from cchub_desktop.settings import AppSettings
from cchub_desktop.stack.recipe import build_recipe
from cchub_desktop.stack.source_check import check_local_tree, editable_paths

PGVECTOR = "pgvector/pgvector:pg16"


def test_a_tree_in_upstreams_shape_passes(tmp_path: Path) -> None:
    report = check_local_tree(write_commandcenter_tree(tmp_path / "cc"), PGVECTOR)
    assert report.ok, report.lines()
    assert "expected shape" in report.lines()[0]


def test_a_missing_lockfile_is_one_line_with_the_fix(tmp_path: Path) -> None:
    root = write_commandcenter_tree(tmp_path / "cc")
    (root / "frontend" / "package-lock.json").unlink()
    (line,) = check_local_tree(root, PGVECTOR).lines()
    assert "frontend/package-lock.json is missing" in line and "npm install" in line


def test_an_editable_path_that_does_not_resolve_is_named_with_the_fix(tmp_path: Path) -> None:
    root = write_commandcenter_tree(tmp_path / "cc")
    (root / "libs" / LIB / "pyproject.toml").unlink()
    (root / "libs" / LIB).rmdir()
    (line,) = check_local_tree(root, PGVECTOR).lines()
    assert f"-e ../libs/{LIB}" in line and "does not exist" in line and "full checkout" in line


def test_an_extension_the_image_lacks_names_the_migration_and_an_image_that_has_it(tmp_path: Path) -> None:
    root = write_commandcenter_tree(tmp_path / "cc")
    (line,) = check_local_tree(root, "postgres:15-alpine").lines()
    assert "0001_enable_vector.py" in line and "'vector'" in line and "postgres:15-alpine" in line
    assert "pgvector/pgvector:pg16" in line
    # create_extension(...) spelling (alembic op helpers) is found too
    (root / "backend/alembic/versions/0001_enable_vector.py").write_text("op.create_extension('vector')\n")
    assert not check_local_tree(root, "postgres:16").ok


def test_the_fixture_and_the_recipe_agree_on_the_source_layout(tmp_path: Path) -> None:
    """Fails when the recipe's copies and the fixture's shape drift apart: every folder the recipe copies
    exists in the tree, and every editable path of backend/requirements.txt, resolved from the backend's
    workdir in the container, lands inside a folder the recipe copied."""
    root = write_commandcenter_tree(tmp_path / "cc")
    from test_plan import config_for  # the same project setup as the plan tests

    project = tmp_path / "project"
    project.mkdir()
    backend = build_recipe(config_for(project)).service("backend")
    assert backend.workdir is not None
    for copy in (*backend.sources, *backend.late_sources):
        assert ((root / copy.subdir).is_file() if copy.file else (root / copy.subdir).is_dir()), copy
    targets = editable_paths(FILES["backend/requirements.txt"])
    assert targets
    for target in targets:
        in_container = posixpath.normpath(posixpath.join(backend.workdir, target))
        assert any(in_container.startswith(c.path + "/") for c in backend.sources), in_container


def test_a_start_refuses_a_broken_checkout_before_any_engine_session(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path, tmp_path: Path) -> None:
    from test_stack import make_config

    from cchub_desktop.stack import CommandCenterStack, StackError, StackLog

    root = write_commandcenter_tree(tmp_path / "cc")
    (root / "frontend" / "package-lock.json").unlink()
    settings = AppSettings(source_local_dir=str(root))
    config = make_config(project_dir, port_block, settings=settings)
    with pytest.raises(StackError) as info:
        asyncio.run(CommandCenterStack(config, settings, StackLog()).start())
    assert "package-lock.json is missing" in info.value.user_message and "npm install" in info.value.user_message
    assert fake_dagger_env.journal.sessions() == []


def test_cchub_check_source_prints_one_line_per_problem_and_exits_1(tmp_path: Path) -> None:
    root = write_commandcenter_tree(tmp_path / "cc")
    (root / "backend" / "alembic.ini").unlink()
    home = tmp_path / "home"
    env = {**os.environ, "CCHUB_HOME": str(home)}
    code = ("from cchub_desktop.paths import app_paths; from cchub_desktop.settings import AppSettings;"
            f"p = app_paths(); p.ensure(); AppSettings(source_local_dir={str(root)!r},"
            " postgres_image='postgres:16').save(p.settings_file)")
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    done = subprocess.run([sys.executable, "-m", "cchub_desktop.cli", "check-source"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    fails = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
    assert len(fails) == 2 and "backend/alembic.ini is missing" in done.stdout and "'vector'" in done.stdout
    assert done.stdout.count("fix:") == 2
