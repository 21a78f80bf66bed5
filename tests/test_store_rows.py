"""The quick read (store/rows.py, stdlib sqlite3): one schema with the migrations and the SQLModel model, the
same projects as ProjectStore.list(), and `cchub list` through it without SQLAlchemy."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import pytest

from cchub_desktop.paths import app_paths
from cchub_desktop.store import ProjectStatus, ProjectStore, StoreError
from cchub_desktop.store.migrations import MIGRATIONS
from cchub_desktop.store.models import Project
from cchub_desktop.store.rows import COLUMNS, read_projects


def test_the_row_has_every_column_of_the_table_and_of_the_model(tmp_path: Path) -> None:
    db = tmp_path / "p.sqlite3"
    ProjectStore(db, live_port_check=False).close()
    with sqlite3.connect(db) as conn:
        table = [r[1] for r in conn.execute("PRAGMA table_info(project)")]
    conn.close()
    assert list(COLUMNS) == table
    assert set(COLUMNS) == set(Project.model_fields)


def naive(values: dict[str, object]) -> dict[str, object]:
    """SQLite keeps times as naive UTC text; SQLAlchemy sometimes hands back the aware value it wrote."""
    return {k: v.replace(tzinfo=None) if isinstance(v, datetime) else v for k, v in values.items()}


def test_the_quick_read_gives_what_the_store_gives(tmp_path: Path, project_dir: Path) -> None:
    db = tmp_path / "p.sqlite3"
    store = ProjectStore(db, live_port_check=False)
    try:
        b = store.add("beta", str(project_dir), expose_db=True)
        store.add("Alpha", str(project_dir))
        assert b.id is not None
        store.set_status(b.id, ProjectStatus.ERROR, "the frontend did not answer")
        listed = store.list()
    finally:
        store.close()
    rows = read_projects(db)
    assert rows is not None
    assert [r.name for r in rows] == ["Alpha", "beta"]  # ordered by name, case-insensitively, as list()
    for row, project in zip(rows, listed, strict=True):
        assert naive(asdict(row)) == naive(project.model_dump())
        assert row.to_public_dict() == project.to_public_dict()
    assert isinstance(rows[1].created_at, datetime) and rows[1].expose_db is True
    assert rows[1].status == "error" and rows[1].last_error == "the frontend did not answer"


def test_no_file_or_an_older_schema_goes_to_the_store(tmp_path: Path) -> None:
    assert read_projects(tmp_path / "missing.sqlite3") is None
    assert not (tmp_path / "missing.sqlite3").exists()  # the quick read creates nothing
    old = tmp_path / "v1.sqlite3"
    with sqlite3.connect(old) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (1)")
        MIGRATIONS[0][2](conn)
    conn.close()
    assert read_projects(old) is None


def test_a_damaged_file_is_a_store_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"this is not a database" * 200)
    with pytest.raises(StoreError) as caught:
        read_projects(bad)
    assert caught.value.kind == "corrupt"


LIST = ("import json, sys\nfrom cchub_desktop.cli import main\ncode = main(['list', '--json'])\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'sqlmodel', 'sqlalchemy', 'pydantic', 'dagger'})\n"
        "print(json.dumps(heavy), file=sys.stderr)\nsys.exit(code)\n")


def test_cchub_list_reads_without_sqlalchemy(cchub_home: Path, project_dir: Path) -> None:
    env = dict(os.environ, CCHUB_HOME=str(cchub_home))
    first = subprocess.run([sys.executable, "-c", LIST], capture_output=True, text=True, env=env, timeout=60)
    assert first.returncode == 0 and json.loads(first.stdout) == []  # no database yet: the store creates it
    store = ProjectStore(app_paths().db_file, live_port_check=False)
    store.add("Alpha", str(project_dir))
    store.close()
    again = subprocess.run([sys.executable, "-c", LIST], capture_output=True, text=True, env=env, timeout=60)
    assert again.returncode == 0, again.stderr
    assert [p["name"] for p in json.loads(again.stdout)] == ["Alpha"]
    assert json.loads(again.stderr.strip().splitlines()[-1]) == []
