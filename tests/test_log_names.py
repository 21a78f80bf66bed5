"""A project's log can be found by its name: logs/by-name/<name>.log leads to the key-named file the stack
writes, follows a rename, and goes with the project's data."""

from __future__ import annotations

from pathlib import Path

import pytest

from cchub_desktop.log_names import by_name_dir, file_stem, named_log_file
from cchub_desktop.orchestrator import Orchestrator
from cchub_desktop.paths import AppPaths, app_paths
from cchub_desktop.project_data import project_files
from cchub_desktop.settings import AppSettings
from cchub_desktop.store import ProjectStore


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppPaths:
    monkeypatch.setenv("CCHUB_HOME", str(tmp_path / "home"))
    found = app_paths()
    found.ensure()
    return found


def test_the_log_the_stack_writes_reads_under_the_projects_name_and_follows_a_rename(
        paths: AppPaths, tmp_path: Path) -> None:
    (tmp_path / "acme").mkdir()
    store = ProjectStore(paths.db_file)
    try:
        project = store.add("Acme Web", tmp_path / "acme")
        orchestrator = Orchestrator(store, AppSettings(), paths)
        log = orchestrator.log(project.id or 0)
        log.write("[hub] started\n")
        log.close()
        by_name = by_name_dir(paths) / "Acme Web.log"
        assert project.data_key not in by_name.name
        assert by_name.read_text().endswith("[hub] started\n")   # the same file as logs/<key>.log
        assert by_name.resolve() == paths.log_file(project.data_key).resolve()

        renamed = store.update(project.id or 0, name="Acme: staging/2")
        named_log_file(paths, renamed)   # what the next start (window or cchub up) does
        assert not by_name.exists() and not by_name.is_symlink()   # the old name is gone, not left dangling
        assert (by_name_dir(paths) / "Acme_ staging_2.log").read_text().endswith("[hub] started\n")
    finally:
        store.close()


def test_deleting_a_projects_data_takes_its_name_link_and_a_new_project_of_that_name_gets_the_name(
        paths: AppPaths) -> None:
    class Named:
        def __init__(self, name: str, slug: str, data_key: str) -> None:
            self.name, self.slug, self.data_key = name, slug, data_key

    old = Named("Shop", "shop", "p0123456789ab")
    named_log_file(paths, old).write_text("old project\n")
    link = by_name_dir(paths) / "Shop.log"
    assert link in project_files(paths, old.data_key)   # removed with the project's data: no dangling link

    new = Named("Shop", "shop", "pba9876543210")   # the old one removed with its data kept, a new one added
    named_log_file(paths, new).write_text("new project\n")
    assert link.read_text() == "new project\n"
    assert link not in project_files(paths, old.data_key)


def test_names_no_file_takes_become_safe_file_names() -> None:
    assert file_stem("a/b\\c:d*e?f\"g<h>i|j", "x") == "a_b_c_d_e_f_g_h_i_j"
    assert file_stem("..hidden", "slug") == "hidden"
    assert file_stem("...", "slug") == "slug"
    assert len(file_stem("项目" * 100, "slug").encode()) <= 200
