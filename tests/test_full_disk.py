"""A full disk, a read-only folder, a file where a folder belongs: `cchub` says one line and exits 1, and
what it writes is whole or not there at all (no 0-byte passwords copy next to a dump, no `.part` left)."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_dagger.fixtures import FakeDagger, FreePortBlock

from cchub_desktop.atomic_files import clean_stale_parts, write_private
from cchub_desktop.stack.backup import secrets_copy_of, write_secrets_copy
from cchub_desktop.stack.secrets_store import ProjectSecrets
from tests.cli_process import cchub_module


def cchub(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return cchub_module(*args, env={"CCHUB_HOME": str(home)})


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A real, small file system (tmpfs of 256 KiB); skipped where this user cannot mount one."""
    where = Path("/tmp") / f"cchub-small-{uuid.uuid4().hex[:8]}"
    where.mkdir()
    mounted = (shutil.which("mount") is not None and os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(where)], capture_output=True,
        timeout=30).returncode == 0)
    if not mounted:
        where.rmdir()
        pytest.skip("cannot mount a small file system here")
    try:
        yield where
    finally:
        assert subprocess.run(["umount", str(where)], capture_output=True, timeout=30).returncode == 0
        where.rmdir()


def fill(folder: Path) -> None:
    try:
        with (folder / "filler").open("wb") as out:
            while True:
                out.write(b"\0" * 4096)
                out.flush()
    except OSError as exc:
        assert exc.errno == errno.ENOSPC


def test_cchub_add_on_a_full_disk_says_so_in_one_line(small_fs: Path, project_dir: Path) -> None:
    home = small_fs / "home"
    assert cchub("list", home=home).returncode == 0
    fill(small_fs)
    line = one_line(cchub("add", "A", str(project_dir), home=home))
    assert line.startswith("cchub: ")
    assert "space" in line.lower() or "full" in line.lower()


def test_a_secrets_copy_on_a_full_disk_is_whole_or_absent(small_fs: Path) -> None:
    dump = small_fs / "p-2026.sql"
    dump.write_text("-- PostgreSQL database dump\n")
    fill(small_fs)
    with pytest.raises(OSError) as failed:
        write_secrets_copy(dump, ProjectSecrets.generate())
    assert failed.value.errno == errno.ENOSPC
    assert not secrets_copy_of(dump).exists()
    assert [p.name for p in small_fs.iterdir() if p.name.endswith(".part")] == []


def test_a_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "x.json"
    write_private(target, b"old")
    assert (target.stat().st_mode & 0o777) == 0o600

    def no_space(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", no_space)
    with pytest.raises(OSError):
        write_private(target, b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


def test_parts_a_killed_job_left_are_cleaned_at_the_next_start(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert cchub("list", home=home).returncode == 0
    backups = home / "data" / "backups"
    old, fresh = backups / ".p1-2026.sql.part", backups / ".p2-2026.sql.part"
    old.write_text("half a dump")
    fresh.write_text("a dump being written now")
    settings_left = home / ".settings-abc.tmp"
    settings_left.write_text("{")
    check_left = backups / ".my-project-upgrade-check.sql"   # a whole dump an upgrade killed while checking left
    check_left.write_text("-- PostgreSQL database dump")
    for path in (old, settings_left, check_left):
        os.utime(path, (1, 1))
    assert cchub("list", home=home).returncode == 0
    assert not old.exists() and fresh.exists() and not settings_left.exists() and not check_left.exists()
    assert clean_stale_parts(backups, older_than_s=-1) == [fresh]


@pytest.mark.parametrize("in_the_way", ["", "logs", "run", "data/backups", "run/leases", "data"])
def test_a_file_where_a_folder_belongs_is_one_line(tmp_path: Path, project_dir: Path, in_the_way: str) -> None:
    home = tmp_path / "home"
    if in_the_way:
        home.mkdir()
        blocker = home / in_the_way
        blocker.parent.mkdir(parents=True, exist_ok=True)
    else:
        blocker = home
    blocker.write_text("not a folder")
    for args in (("list",), ("add", "A", str(project_dir)), ("remove", "A")):
        done = cchub(*args, home=home)
        assert done.returncode in (0, 1) and "Traceback" not in done.stderr, done.stderr
        if done.returncode == 1:
            one_line(done)
    assert blocker.read_text() == "not a folder"


@pytest.mark.parametrize("in_the_way", ["", "logs", "run"])
def test_the_app_with_a_file_where_a_folder_belongs_says_one_line(tmp_path: Path, in_the_way: str) -> None:
    home = tmp_path / "home"
    blocker = home / in_the_way if in_the_way else home
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder")
    done = subprocess.run([sys.executable, "-m", "cchub_desktop", "--self-test", "--no-engine-check"],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "CCHUB_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"{blocker}: a file is in the way where a folder is needed" in done.stderr


def test_a_log_on_a_full_disk_closes_without_an_error(small_fs: Path) -> None:
    from cchub_desktop.stack.logs import StackLog

    log = StackLog(small_fs / "p.log")
    log.note("before the disk filled")
    fill(small_fs)
    for number in range(200):
        log.note(f"line {number} " + "z" * 4000)
    log.close()   # flushing the last lines fails on the full disk: said nowhere, raised nowhere
    assert log.lines()[1][-1].text.startswith("line 199 ")


def test_a_read_only_home_says_read_only_and_where(small_fs: Path, project_dir: Path) -> None:
    home = small_fs / "home"
    assert cchub("add", "A", str(project_dir), home=home).returncode == 0
    assert subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], capture_output=True,
                          timeout=30).returncode == 0
    try:
        for args in (("list",), ("remove", "A")):
            line = one_line(cchub(*args, home=home))
            assert "read-only" in line and str(home / "data") in line
    finally:
        assert subprocess.run(["mount", "-o", "remount,rw", str(small_fs)], capture_output=True,
                              timeout=30).returncode == 0


def test_cchub_up_on_a_disk_that_fills_while_it_runs_ends_in_lines_not_a_traceback(
        small_fs: Path, project_dir: Path, fake_dagger_env: FakeDagger, port_block: FreePortBlock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The red-team scenario: `cchub up A` runs, the disk of its home fills, Ctrl-C: the runner stops the stack
    and ends with one line (no space left, and where), no traceback."""
    from tests.helpers import wait_for
    from tests.test_cli_up import Up, add_project

    monkeypatch.setenv("CCHUB_HOME", str(small_fs / "home"))
    add_project(project_dir, port_block, "A")
    up = Up(fake_dagger_env, "A")
    try:
        wait_for(lambda: up.printed("Press Ctrl-C"), 90)
        assert up.proc.poll() is None, up.finish(10)
        fill(small_fs)
        up.proc.send_signal(signal.SIGINT)   # Ctrl-C
        code, _, err = up.finish(120)
    finally:
        if up.proc.poll() is None:
            up.proc.kill()
            up.proc.wait()
    assert code == 1 and "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "no space left" in lines[0] and str(small_fs) in lines[0], err
    fake_dagger_env.sessions_exited(60)   # the stack was stopped all the same: no session left
