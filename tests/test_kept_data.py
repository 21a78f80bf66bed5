"""The data a removed project left (its volumes, passwords, host copies and logs) is listed by `cchub kept-data`
and deleted by `cchub kept-data --delete`: the volumes emptied through the engine first, then the files; when
the engine cannot empty them, nothing is deleted and the item stays listed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_dagger.fixtures import FakeDagger

from cchub_desktop.paths import app_paths
from cchub_desktop.stack.secrets_store import secrets_file
from tests.test_host_copy import ROWS, run_with_rows, setup


def _removed_with_data(fake: FakeDagger, folder: Path) -> tuple[str, Path, object]:
    """Alpha ran, wrote rows, stopped (one host copy) and was removed keeping its data."""
    from cchub_desktop.cli import main as cchub

    hub, pid, volumes, key, copies = setup(fake, folder)

    run_with_rows(hub, pid, volumes, f"cchub-{key}-pgdata")
    assert cchub(["remove", "Alpha"]) == 0
    return key, copies, volumes


def _listed(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    from cchub_desktop.cli import main as cchub

    capsys.readouterr()
    assert cchub(["kept-data", "--json"]) == 0
    listed: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return listed


def test_a_removed_projects_kept_data_is_listed_and_deleted_whole(
        fake_dagger_env: FakeDagger, project_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cchub_desktop.cli import main as cchub

    key, copies, volumes = _removed_with_data(fake_dagger_env, project_dir)
    volume = f"cchub-{key}-pgdata"
    paths = app_paths()
    [item] = _listed(capsys)
    assert item["key"] == key and item["name"] == "Alpha" and item["kind"] == "removed project"
    assert item["host_copies"] == 1 and volume in item["volumes"]   # type: ignore[operator]
    assert volumes.tables(volume) == ROWS   # type: ignore[attr-defined]

    assert cchub(["kept-data", "--delete", "alpha", "--yes"]) == 0
    assert "Deleted 'Alpha', removed" in capsys.readouterr().out
    assert not volumes.exists(volume)   # type: ignore[attr-defined]
    assert not copies.exists()
    assert not secrets_file(paths.secrets_dir, key).exists()
    assert not any(p.exists() for p in paths.log_files(key))
    assert _listed(capsys) == []
    # nothing is left to adopt either
    assert cchub(["add", "Alpha", str(project_dir), "--adopt-data"]) == 1
    assert "no removed project named 'Alpha' left data" in capsys.readouterr().err


def test_when_the_engine_cannot_empty_the_volumes_nothing_is_deleted(
        fake_dagger_env: FakeDagger, project_dir: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from cchub_desktop.cli import main as cchub

    key, copies, volumes = _removed_with_data(fake_dagger_env, project_dir)
    volume = f"cchub-{key}-pgdata"
    paths = app_paths()
    monkeypatch.setenv("FAKE_DAGGER_EXEC_FAIL", "-mindepth 1 -delete:1:find: cannot delete: Permission denied")
    capsys.readouterr()
    assert cchub(["kept-data", "--delete", key, "--yes", "--json"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out.strip().splitlines()[-1])["error"].startswith(
        "The engine could not empty the volumes of Alpha's kept data, so nothing was deleted")
    assert err.startswith("cchub: The engine could not empty") and "Permission denied" in err   # the engine's words
    assert "Traceback" not in err
    assert volumes.tables(volume) == ROWS   # type: ignore[attr-defined]
    assert copies.exists() and secrets_file(paths.secrets_dir, key).exists()
    [item] = _listed(capsys)
    assert item["key"] == key
    # and it can still be adopted
    assert cchub(["add", "Alpha", str(project_dir), "--adopt-data"]) == 0


def test_bad_choices_are_one_line_and_delete_nothing(
        fake_dagger_env: FakeDagger, project_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cchub_desktop.cli import main as cchub

    key, copies, _ = _removed_with_data(fake_dagger_env, project_dir)
    # a second removed project of the same name: the name alone no longer says which
    assert cchub(["add", "Alpha", str(project_dir)]) == 0
    from cchub_desktop.store import ProjectStore

    store = ProjectStore(app_paths().db_file)
    try:
        pid = store.get_by_name("Alpha").id
        assert pid is not None
        store.record_secrets(pid, "fingerprint")
        second = store.get(pid).data_key
    finally:
        store.close()
    assert cchub(["remove", "Alpha"]) == 0
    capsys.readouterr()
    for choice, expected in (("Alpha", "2 removed projects named 'Alpha' left data; name one by its key ("),
                             ("Nope", "no kept data named 'Nope' (see 'cchub kept-data')")):
        assert cchub(["kept-data", "--delete", choice, "--yes"]) == 1
        err = capsys.readouterr().err
        assert expected in err and "nothing was deleted" in err and len(err.strip().splitlines()) == 1
    assert {key, second} <= set(err_keys := [str(i["key"]) for i in _listed(capsys)]), err_keys
    # not from a terminal and without --yes: refused, nothing deleted
    assert cchub(["kept-data", "--delete", key]) == 1
    assert "needs --yes" in capsys.readouterr().err
    assert copies.exists()
