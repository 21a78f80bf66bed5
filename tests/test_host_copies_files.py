"""The host copies' files (host_copies.py), without an engine: a copy is whole or absent, the last few are kept,
the interval setting is checked, and `cchub doctor` warns about projects with no copy or a failed one."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from cchub_desktop import host_copies
from cchub_desktop.host_copies import CopyStatus, NewCopy
from cchub_desktop.settings import DEFAULT_HOST_COPY_INTERVAL_MIN, load_settings

DUMP = "--\n-- PostgreSQL database dump\n--\nCREATE TABLE public.notes (id integer);\n"


def write_copy(folder: Path, text: str = DUMP) -> host_copies.HostCopy:
    new = NewCopy(folder, "stop")
    new.dump_temp.write_text(text)
    return new.commit()


def test_a_copy_is_whole_or_absent_an_interrupted_one_is_never_a_copy(tmp_path: Path) -> None:
    folder = tmp_path / "host-copies" / "key1"
    first = write_copy(folder)
    # a copy interrupted half-way (the process killed while the engine exported the dump)
    crashed = NewCopy(folder, "periodic")
    crashed.dump_temp.write_text(DUMP[:10])
    assert [c.number for c in host_copies.list_copies(folder)] == [1]        # not a copy
    assert host_copies.newest_copy(folder) == first
    second = write_copy(folder)                                              # the next copy cleans it up
    assert second.number == 2
    assert sorted(p.name for p in folder.iterdir()) == [
        "copy-000001.json", "copy-000001.sql", "copy-000002.json", "copy-000002.sql"]
    # a dump whose manifest is missing (killed between the two renames) is not a copy either
    (folder / "copy-000002.json").unlink()
    assert [c.number for c in host_copies.list_copies(folder)] == [1]


def test_a_discarded_copy_leaves_no_file(tmp_path: Path) -> None:
    folder = tmp_path / "host-copies" / "key1"
    new = NewCopy(folder, "stop")
    new.dump_temp.write_text(DUMP)
    new.discard()
    assert list(folder.iterdir()) == []


def test_the_last_few_copies_are_kept_private(tmp_path: Path) -> None:
    folder = tmp_path / "host-copies" / "key1"
    for _ in range(5):
        write_copy(folder)
    assert [c.number for c in host_copies.list_copies(folder)] == [5, 4, 3]
    assert len(list(folder.iterdir())) == 6
    assert {p.stat().st_mode & 0o777 for p in folder.iterdir()} == {0o600}
    assert folder.stat().st_mode & 0o777 == 0o700 and folder.parent.stat().st_mode & 0o777 == 0o700


def test_the_summary_says_ok_failed_or_none(tmp_path: Path) -> None:
    assert host_copies.summary(tmp_path, "key1")["state"] == "none"
    folder = host_copies.copies_dir(tmp_path, "key1")
    copy = write_copy(folder)
    host_copies.write_status(folder, CopyStatus(True, copy.taken_at, "saved", 1))
    ok = host_copies.summary(tmp_path, "key1")
    assert (ok["state"], ok["number"], ok["size"]) == ("ok", 1, len(DUMP))
    host_copies.write_status(folder, CopyStatus(False, datetime.now().astimezone(), "the engine is gone"))
    failed = host_copies.summary(tmp_path, "key1")
    assert (failed["state"], failed["number"], failed["error"]) == ("failed", 1, "the engine is gone")


@pytest.mark.parametrize(("value", "expected", "noticed"), [
    (30, 30, False), (0, DEFAULT_HOST_COPY_INTERVAL_MIN, True), (100000, DEFAULT_HOST_COPY_INTERVAL_MIN, True),
    ("15", DEFAULT_HOST_COPY_INTERVAL_MIN, True), (True, DEFAULT_HOST_COPY_INTERVAL_MIN, True)])
def test_the_copy_interval_setting_is_checked(tmp_path: Path, value: object, expected: int, noticed: bool) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"host_copy_interval_min": value, "runner_host": "tcp://x:1"}))
    loaded = load_settings(path)
    assert loaded.settings.host_copy_interval_min == expected
    assert loaded.settings.runner_host == "tcp://x:1"              # the other settings are kept
    assert bool(loaded.notices) == noticed
    if noticed:
        assert "host_copy_interval_min" in loaded.notices[0] and "minutes from 1 to 1440" in loaded.notices[0]


def test_doctor_warns_about_projects_without_a_copy_or_with_a_failed_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cchub_desktop.cli import main as cchub
    from cchub_desktop.paths import app_paths
    from cchub_desktop.store import ProjectStore

    paths = app_paths()
    paths.ensure()
    store = ProjectStore(paths.db_file)
    folders = {}
    for name in ("Copied", "Never", "Broken"):
        project_dir = tmp_path / name
        project_dir.mkdir()
        folders[name] = host_copies.copies_dir(paths.data_dir, store.add(name, project_dir).data_key)
    store.close()
    write_copy(folders["Copied"])
    write_copy(folders["Broken"])
    host_copies.write_status(folders["Broken"], CopyStatus(False, datetime.now().astimezone(), "pg_dump failed."))
    cchub(["doctor"])
    out = capsys.readouterr().out
    assert "local-cache prune" in out and str(host_copies.copies_root(paths.data_dir)) in out
    assert "'Never' has no host copy of its data yet" in out
    assert "the latest host copy of 'Broken' failed" in out and "pg_dump failed." in out
    assert "'Copied'" not in out
