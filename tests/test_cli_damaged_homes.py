"""`cchub` driven with random arguments against randomly damaged homes (files where folders belong, a full
or read-only small file system where this machine can make one): it only ever exits 0, 1 or 2, never prints a traceback,
and a command that fails changes no byte of the store, the secrets or the backups."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cli_process import cchub_module

IN_THE_WAY = ["logs", "run", "run/leases", "data/backups", "data/secrets"]
NAMES = st.sampled_from(["A", "B", "../x", "", "-x", "a\nb", "Ünï", "A" * 300])
WORDS = st.sampled_from(["--json", "--yes", "--delete-data", "--name", "--backend-port", "0", "70000", "8000",
                         "--expose-db", "--help", "--bogus", "DIR", "../../etc"])
COMMANDS = st.one_of(
    st.tuples(st.just("list"), st.lists(WORDS, max_size=2)),
    st.tuples(st.just("add"), st.lists(st.one_of(NAMES, WORDS), max_size=4)),
    st.tuples(st.just("edit"), st.lists(st.one_of(NAMES, WORDS), max_size=4)),
    st.tuples(st.just("remove"), st.lists(st.one_of(NAMES, WORDS), max_size=3)),
    st.tuples(st.just("plan"), st.lists(NAMES, max_size=1)),
    st.tuples(st.just("stop"), st.lists(NAMES, max_size=1)),
    st.tuples(st.sampled_from(["frobnicate", "--version", ""]), st.lists(WORDS, max_size=2)),
)


def cchub(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cchub_module(*args, env={"CCHUB_HOME": str(home)})


def kept_bytes(home: Path) -> dict[str, bytes]:
    """The store, the secrets and the backups, byte for byte."""
    found: dict[str, bytes] = {}
    data = home / "data"
    for path in sorted(data.rglob("*")) if data.is_dir() else []:
        if path.is_file() and not path.name.endswith("-shm"):
            content = path.read_bytes()
            if path.name.endswith("-wal") and not content:   # SQLite's empty side file holds nothing
                continue
            found[str(path.relative_to(home))] = content
    return found


@pytest.fixture
def small_fs() -> Iterator[Path | None]:
    """A small real file system to fill, or None where this user cannot mount one."""
    where = Path("/tmp") / f"cchub-prop-{uuid.uuid4().hex[:8]}"
    where.mkdir()
    ok = (os.geteuid() == 0 and shutil.which("mount") is not None and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(where)], capture_output=True,
        timeout=30).returncode == 0)
    try:
        yield where if ok else None
    finally:
        if ok:
            assert subprocess.run(["umount", str(where)], capture_output=True, timeout=30).returncode == 0
        where.rmdir()


def remount(where: Path, mode: str) -> bool:
    return subprocess.run(["mount", "-o", f"remount,{mode}", str(where)], capture_output=True,
                          timeout=30).returncode == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=COMMANDS, damage=st.sampled_from([None, "full", "read-only", *IN_THE_WAY]))
def test_random_commands_on_damaged_homes(tmp_path: Path, project_dir: Path, small_fs: Path | None,
                                          command: tuple[str, list[str]], damage: str | None) -> None:
    on_small = damage in ("full", "read-only") and small_fs is not None
    base = (small_fs if on_small and small_fs is not None else tmp_path) / f"home-{uuid.uuid4().hex[:8]}"
    read_only = False
    try:
        assert cchub(base, "add", "A", str(project_dir)).returncode == 0
        if damage == "full" and small_fs is not None:
            try:
                with (small_fs / f"filler-{uuid.uuid4().hex[:8]}").open("wb") as out:
                    while True:
                        out.write(b"\0" * 65536)
                        out.flush()
            except OSError:
                pass
        elif damage == "read-only" and small_fs is not None:   # every folder unwritable, even for root
            read_only = remount(small_fs, "ro")
            assert read_only
        elif damage in IN_THE_WAY:
            target = base / damage
            shutil.rmtree(target, ignore_errors=True)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("in the way")
        before = kept_bytes(base)
        name, rest = command
        args = [a.replace("DIR", str(project_dir)) for a in ([name] if name else []) + rest]
        done = cchub(base, *args)
        assert done.returncode in (0, 1, 2), (args, done.returncode, done.stderr)
        assert "Traceback" not in done.stderr, (args, done.stderr)
        if done.returncode != 0:
            assert kept_bytes(base) == before, args
    finally:
        if read_only and small_fs is not None:
            assert remount(small_fs, "rw")
        shutil.rmtree(base, ignore_errors=True)
        if small_fs is not None:
            for filler in small_fs.glob("filler-*"):
                filler.unlink()
