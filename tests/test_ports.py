"""Port blocks: the lowest free block, live conflicts, and who holds a port."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cchub_desktop import ports
from cchub_desktop.store import ProjectStore
from tests.helpers import free_block_number, listen_on


def test_block_numbers_follow_the_hub_table() -> None:
    assert ports.block(0) == ports.PortBlock(backend=8000, frontend=3000, postgres=5432, redis=6379)
    assert ports.block(1) == ports.PortBlock(backend=8010, frontend=3010, postgres=5442, redis=6389)
    assert ports.block(2).as_dict() == {"backend": 8020, "frontend": 3020, "postgres": 5452, "redis": 6399}
    assert ports.block(1).ports_to_bind(expose_db=False) == [8010, 3010]
    assert ports.block(1).ports_to_bind(expose_db=True) == [8010, 3010, 5442, 6389]


def test_next_free_block_skips_ports_of_other_projects() -> None:
    taken = set(ports.block(0).as_dict().values()) | {3020}  # block 2 is half taken
    assert ports.next_free_block(taken, live_check=False) == ports.block(1)
    taken |= set(ports.block(1).as_dict().values())
    assert ports.next_free_block(taken, live_check=False) == ports.block(3)


def test_allocation_skips_a_block_whose_port_another_process_holds() -> None:
    n = free_block_number(count=2)
    taken = {p for k in range(n) for p in ports.block(k).as_dict().values()}  # blocks below n: projects
    with listen_on(ports.block(n).frontend):
        assert ports.next_free_block(taken) == ports.block(n + 1)
    assert ports.next_free_block(taken) == ports.block(n)


def test_database_ports_count_only_when_exposed() -> None:
    n = free_block_number(count=2)
    taken = {p for k in range(n) for p in ports.block(k).as_dict().values()}
    with listen_on(ports.block(n).postgres):  # e.g. a local PostgreSQL
        assert ports.next_free_block(taken, expose_db=False) == ports.block(n)
        assert ports.next_free_block(taken, expose_db=True) == ports.block(n + 1)


def test_store_reuses_the_lowest_freed_block(tmp_path: Path, project_dir: Path) -> None:
    store = ProjectStore(tmp_path / "p.sqlite3", live_port_check=False)
    a = store.add("a", str(project_dir))
    b = store.add("b", str(project_dir))
    c = store.add("c", str(project_dir))
    assert [p.backend_port for p in (a, b, c)] == [8000, 8010, 8020]
    assert b.id is not None
    store.remove(b.id)
    d = store.add("d", str(project_dir))
    assert (d.backend_port, d.frontend_port, d.postgres_port, d.redis_port) == (8010, 3010, 5442, 6389)
    assert store.add("e", str(project_dir)).backend_port == 8030


def test_live_allocation_in_store_skips_a_held_block(tmp_path: Path, project_dir: Path) -> None:
    n = free_block_number(count=2)
    store = ProjectStore(tmp_path / "p.sqlite3")
    # fill blocks below n with fake projects whose ports are recorded (not bound)
    store.live_port_check = False
    for k in range(n):
        b = ports.block(k)
        store.add(f"p{k}", str(project_dir), backend_port=b.backend, frontend_port=b.frontend,
                  postgres_port=b.postgres, redis_port=b.redis)
    store.live_port_check = True
    with listen_on(ports.block(n).backend, host="0.0.0.0"):
        assert store.add("new", str(project_dir)).backend_port == ports.block(n + 1).backend


def test_port_holder_names_the_process() -> None:
    port = ports.block(free_block_number()).backend
    with listen_on(port):
        holder = ports.port_holder(port)
        assert holder is not None and f"(pid {os.getpid()})" in holder
        (conflict,) = ports.find_conflicts({"backend": port})
        assert conflict.port == port and conflict.holder == holder
        assert f"Port {port} (backend) is already in use by {holder}" in conflict.message()
    assert ports.port_holder(port) is None
    assert ports.find_conflicts({"backend": port}) == []


def test_is_port_free_sees_listeners_on_either_address() -> None:
    port = ports.block(free_block_number()).frontend
    assert ports.is_port_free(port)
    with listen_on(port, host="127.0.0.1"):
        assert not ports.is_port_free(port)
    with listen_on(port, host="0.0.0.0"):
        assert not ports.is_port_free(port)
    assert ports.is_port_free(port)


def test_block_out_of_range() -> None:
    with pytest.raises(ValueError):
        ports.block(-1)
    assert ports.block(ports.max_block()).redis <= 65535


def test_a_listener_on_ipv6_loopback_counts_as_taken() -> None:
    import socket

    port = ports.block(free_block_number()).frontend
    try:
        sock = socket.socket(socket.AF_INET6)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(("::1", port))
    except OSError:
        pytest.skip("this machine has no IPv6 loopback")
    sock.listen()
    with sock:
        # the browser may resolve localhost to ::1 and reach this program instead of the stack
        assert not ports.is_port_free(port)
    assert ports.is_port_free(port)
