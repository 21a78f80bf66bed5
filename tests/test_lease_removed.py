"""A lease whose lock file was removed behind its holder's back (a temp-folder cleaner may) still keeps every
other process out: nothing may take, wipe or delete a project whose runner is alive."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
from fake_dagger.fixtures import FakeDagger, FreePortBlock

from cchub_desktop.lease import Lease, LeaseHeld, lease_path, owner_of
from cchub_desktop.paths import app_paths
from cchub_desktop.stack.secrets_store import secrets_file
from tests.cli_process import cchub_module
from tests.helpers import key_of, wait_for
from tests.lease_holder import LeaseHolder
from tests.test_cli_up import Up, add_project

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the guard is Linux's")


def test_a_removed_lock_file_does_not_free_a_live_lease(tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    holder = LeaseHolder(runtime, "k1", "A")
    try:
        lease_path(runtime, "k1").unlink()
        with pytest.raises(LeaseHeld) as refused:
            Lease.acquire(runtime, "k1", "A", "cchub remove")
        assert refused.value.owner.pid == holder.pid
        owner = owner_of(runtime, "k1")
        assert owner is not None and owner.pid == holder.pid
        assert (owner.kind, owner.state) == ("cchub up", "running")   # told by the holder itself
        # the whole leases folder gone: still refused
        lease_path(runtime, "k1").unlink(missing_ok=True)
        lease_path(runtime, "k1").parent.rmdir()
        with pytest.raises(LeaseHeld):
            Lease.acquire(runtime, "k1", "A", "cchub remove")
    finally:
        holder.release()
    with Lease.acquire(runtime, "k1", "A", "cchub remove"):
        pass


def test_the_holder_puts_its_lock_file_back_and_marks_it_to_keep(tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    with Lease.acquire(runtime, "k2", "B", "cchub up", state="starting") as lease:
        path = lease_path(runtime, "k2")
        assert os.stat(path).st_mode & stat.S_ISVTX
        path.unlink()
        lease.set_state("running")
        assert path.exists()
        owner = owner_of(runtime, "k2")
        assert owner is not None and owner.is_me and owner.state == "running"
    assert owner_of(runtime, "k2") is None


def test_many_probes_never_wear_out_the_guard(tmp_path: Path) -> None:
    import threading

    runtime = tmp_path / "run"
    holder = LeaseHolder(runtime, "k3", "C")
    try:
        lease_path(runtime, "k3").unlink()
        for _ in range(200):   # the app probes every project every few seconds
            owner = owner_of(runtime, "k3")
            assert owner is not None and owner.pid == holder.pid
        with pytest.raises(LeaseHeld):
            Lease.acquire(runtime, "k3", "C", "cchub remove")
    finally:
        holder.release()
    lease = Lease.acquire(runtime, "k3", "C", "cchub up")
    lease.release()
    for thread in [t for t in threading.enumerate() if t.name == "lease-guard"]:
        thread.join(30)   # a released guard's thread ends
        assert not thread.is_alive()


def test_cchub_remove_delete_data_cannot_wipe_a_running_cchub_up_whose_lock_was_removed(
        fake_dagger_env: FakeDagger, port_block: FreePortBlock, project_dir: Path) -> None:
    """The red-team scenario as a user runs it: `cchub up A`, a cleaner removes run/leases/*.lock, then
    `cchub remove A --delete-data --yes`: refused, no volume emptied, the passwords kept."""
    add_project(project_dir, port_block, "A")
    up = Up(fake_dagger_env, "A")
    try:
        wait_for(lambda: up.printed("Press Ctrl-C"), 90)
        secrets = secrets_file(app_paths().secrets_dir, key_of("A"))
        kept = secrets.read_bytes()
        for lock in (app_paths().runtime_dir / "leases").glob("*.lock"):
            lock.unlink()
        removed = cchub_module("remove", "A", "--delete-data", "--yes", env=fake_dagger_env.env())
        assert removed.returncode == 1 and f"(pid {up.proc.pid})" in removed.stderr, removed.stderr
        assert "Traceback" not in removed.stderr
        assert [e for e in fake_dagger_env.journal.execs() if "-delete" in " ".join(e["command"])] == []
        assert secrets.read_bytes() == kept
        stopped = cchub_module("stop", "A", env=fake_dagger_env.env())
        assert stopped.returncode == 0, stopped.stderr
        code, _, err = up.finish(60)
    finally:
        if up.proc.poll() is None:
            up.proc.kill()
            up.proc.wait()
    assert code == 0, err
