"""Port blocks for projects: allocation, live conflicts, and which process holds a port.

Block 0 is the Hub default 8000/3000/5432/6379; block n adds 10·n to each port. A new project takes the
lowest block none of whose ports is used by another project or bound on this machine right now.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

BASE_PORTS = {"backend": 8000, "frontend": 3000, "postgres": 5432, "redis": 6379}
BLOCK_STEP = 10
MIN_PORT = 1024
MAX_PORT = 65535
ROLE_LABELS = {"backend": "backend", "frontend": "frontend", "postgres": "PostgreSQL", "redis": "Redis"}


@dataclass(frozen=True)
class PortBlock:
    backend: int
    frontend: int
    postgres: int
    redis: int

    def as_dict(self) -> dict[str, int]:
        return {"backend": self.backend, "frontend": self.frontend,
                "postgres": self.postgres, "redis": self.redis}

    def ports_to_bind(self, expose_db: bool) -> list[int]:
        """The host ports a running stack listens on: the database ports only when exposed."""
        ports = [self.backend, self.frontend]
        if expose_db:
            ports += [self.postgres, self.redis]
        return ports


def block(n: int) -> PortBlock:
    if n < 0:
        raise ValueError("block numbers start at 0")
    return PortBlock(**{role: base + BLOCK_STEP * n for role, base in BASE_PORTS.items()})


def max_block() -> int:
    return (MAX_PORT - max(BASE_PORTS.values())) // BLOCK_STEP


def _bind_ok(family: socket.AddressFamily, host: str, port: int) -> bool:
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # Servers set SO_REUSEADDR, so a port with only TIME_WAIT leftovers counts as free;
        # Linux still refuses the bind when another socket is listening on it.
        if sys.platform != "win32":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            # no IPv6 on this machine: nothing can listen there either
            return family == socket.AF_INET6 and exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT)
    return True


def is_port_free(port: int) -> bool:
    """True when a listener could bind the port on 127.0.0.1, 0.0.0.0 and, where the machine has IPv6, ::1
    and :: — a browser asked for http://localhost:PORT may try ::1 first and reach another program there."""
    checks = [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET, "0.0.0.0")]
    if socket.has_ipv6:
        checks += [(socket.AF_INET6, "::1"), (socket.AF_INET6, "::")]
    return all(_bind_ok(family, host, port) for family, host in checks)


def next_free_block(taken: Iterable[int], expose_db: bool = False, live_check: bool = True) -> PortBlock:
    """The lowest block none of whose ports is taken by another project or, where the project will bind
    it, by a live socket on this machine."""
    taken_set = set(taken)
    for n in range(max_block() + 1):
        candidate = block(n)
        if taken_set.intersection(candidate.as_dict().values()):
            continue
        if live_check and not all(is_port_free(p) for p in candidate.ports_to_bind(expose_db)):
            continue
        return candidate
    raise RuntimeError("no free port block is left between 1024 and 65535")


def next_free_port(start: int, taken: Iterable[int]) -> int:
    """The lowest port from `start` up that no project uses and nothing on this machine holds now (what
    "Change ports" fills in for a port that is taken)."""
    avoid = set(taken)
    for port in range(max(start, MIN_PORT), MAX_PORT + 1):
        if port not in avoid and is_port_free(port):
            return port
    raise RuntimeError(f"no free port is left between {start} and {MAX_PORT}")


@dataclass(frozen=True)
class PortConflict:
    port: int
    role: str
    holder: str | None

    def message(self) -> str:
        label = ROLE_LABELS.get(self.role, self.role)
        who = f" by {self.holder}" if self.holder else " by another program"
        return (f"Port {self.port} ({label}) is already in use{who}. "
                f"Stop that program or give this project another {label} port.")


def find_conflicts(ports: Mapping[str, int]) -> list[PortConflict]:
    """Live bind test for each role's port; names the holder where the OS tells."""
    return [PortConflict(port, role, port_holder(port))
            for role, port in ports.items() if not is_port_free(port)]


def port_holder(port: int) -> str | None:
    """'name (pid N)' of the process listening on the TCP port, where the OS lets us see it."""
    if sys.platform.startswith("linux"):
        return _linux_port_holder(port)
    return _lsof_port_holder(port)


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10:
                continue
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                inodes.add(inode)
    return inodes


def _linux_port_holder(port: int) -> str | None:
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"{fd_dir}/{fd}") in targets:
                    return f"{_process_name(pid)} (pid {pid})"
            except OSError:
                continue
    return None


def _process_name(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() or "process"
    except OSError:
        return "process"


def _lsof_port_holder(port: int) -> str | None:
    lsof = shutil.which("lsof")
    if not lsof:
        return None
    try:
        out = subprocess.run([lsof, "-nP", f"-iTCP:{port}", "-sTCP:LISTEN", "-Fpc"],
                             capture_output=True, text=True, timeout=3).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    pid = name = None
    for line in out.splitlines():
        if line.startswith("p"):
            pid = line[1:]
        elif line.startswith("c"):
            name = line[1:]
        if pid and name:
            return f"{name} (pid {pid})"
    return None
