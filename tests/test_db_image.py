"""The database image of a project: recorded at the first start, kept on later starts, and never a new
PostgreSQL major on a volume an older one initialised."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_plan import make_project

from cchub_desktop.paths import app_paths
from cchub_desktop.settings import DEFAULT_POSTGRES_IMAGE, AppSettings
from cchub_desktop.stack import CommandCenterConfig, build_plan
from cchub_desktop.stack.db_image import choose_db_image, image_major, pin_db_image


@pytest.mark.parametrize(("image", "major"), [
    ("postgres:15-alpine", 15), ("pgvector/pgvector:pg16", 16), ("postgres:16.2", 16),
    ("docker.io/library/postgres:17", 17), ("postgres", None), ("postgres:latest", None),
    ("registry.local:5000/pg@sha256:abc", None)])
def test_the_major_is_read_from_the_tag(image: str, major: int | None) -> None:
    assert image_major(image) == major


def test_the_first_start_records_the_settings_image_and_later_starts_keep_it(project_dir: Path) -> None:
    store, pid = make_project(project_dir)
    project = pin_db_image(store, store.get(pid), DEFAULT_POSTGRES_IMAGE)
    assert (project.db_image, project.db_major) == ("pgvector/pgvector:pg16", 16)
    # Settings change afterwards: the recorded image stays, in the store and in what the stack runs
    later = pin_db_image(store, store.get(pid), "postgres:17")
    assert (later.db_image, later.db_major) == ("pgvector/pgvector:pg16", 16)
    config = CommandCenterConfig.from_project(later, AppSettings(postgres_image="postgres:17"), app_paths())
    assert build_plan(config).service("postgres").image == "pgvector/pgvector:pg16"
    assert config.db_image is not None and "explicit upgrade" in config.db_image.note
    assert "PostgreSQL 17" in config.db_image.note and "PostgreSQL 16" in config.db_image.note


def test_two_processes_recording_at_once_agree_on_the_first(project_dir: Path) -> None:
    store, pid = make_project(project_dir)
    stale = store.get(pid)           # both read the project before either recorded
    first = pin_db_image(store, stale, "pgvector/pgvector:pg16")
    second = pin_db_image(store, stale, "postgres:17")
    assert first.db_image == second.db_image == "pgvector/pgvector:pg16"


def test_a_started_schema_1_project_keeps_postgres_15(project_dir: Path) -> None:
    """Schema-1 projects that had been started are migrated as postgres:15-alpine/15: the new default
    (PostgreSQL 16 with pgvector) must not reach their volume."""
    store, pid = make_project(project_dir)
    store.record_db_image(pid, "postgres:15-alpine", 15)   # what migration 2 writes for them
    config = CommandCenterConfig.from_project(pin_db_image(store, store.get(pid), DEFAULT_POSTGRES_IMAGE),
                                              AppSettings(), app_paths())
    assert config.images.postgres == "postgres:15-alpine"
    assert build_plan(config).service("postgres").image == "postgres:15-alpine"
    assert config.db_image is not None and "keeping postgres:15-alpine" in config.db_image.note


def test_same_major_other_image_keeps_the_recorded_one_and_says_so() -> None:
    choice = choose_db_image("postgres:16", 16, "pgvector/pgvector:pg16")
    assert choice.image == "postgres:16" and "keeps using" in choice.note
    assert choose_db_image(None, None, "postgres:16").needs_record
