"""One engine session: the objects, the running services, the journal, the log stream and the faults."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from graphql import GraphQLError

from . import dirs
from .execs import ExecContext, ExecHook, ExecResult, default_exec, untrusted_proxy_ca
from .faults import Faults
from .journal import JournalWriter
from .objects import Obj, Registry
from .progress import PlainProgress
from .state import ContainerSpec, Mount, container_spec, exec_command
from .volumes import PgVolumes, Server, mount_options

Cancelled = Callable[[], bool]


class Canceled(GraphQLError):
    def __init__(self) -> None:
        super().__init__("context canceled")


def exec_error(command: list[str], result: ExecResult) -> GraphQLError:
    """The error the SDK turns into dagger.ExecError (all four extension keys are required)."""
    return GraphQLError(
        f'process "{" ".join(command)}" did not complete successfully: exit code: {result.exit_code}',
        extensions={"_type": "EXEC_ERROR", "cmd": list(command), "exitCode": result.exit_code,
                    "stdout": result.stdout, "stderr": result.stderr},
    )


class Session:
    def __init__(self, faults: Faults, journal: JournalWriter, progress: PlainProgress,
                 hook: ExecHook | None = None) -> None:
        from .services import ServiceRuntime  # services needs Session; import here to keep one direction

        self.faults = faults
        self.journal = journal
        self.progress = progress
        self.hook = hook
        self.registry = Registry()
        self.shutting_down = threading.Event()
        self.services = ServiceRuntime(self)
        self.volumes = PgVolumes.from_env()
        self._exec_cache: dict[str, ExecResult] = {}
        self._exec_locks: dict[str, threading.Lock] = {}
        self._uploaded: set[str] = set()
        self._lock = threading.Lock()
        self._die_on_count = 0

    # -- faults ---------------------------------------------------------------------------------------------
    def crash(self, reason: str) -> None:
        """Die abruptly like an engine crash: no cleanup, listeners closed by the OS."""
        self.journal.write("session", event="crash", reason=reason)
        os.kill(os.getpid(), signal.SIGKILL)

    def check_die_on(self, type_name: str, field_name: str) -> None:
        rule = self.faults.die_on
        if rule is None or not rule.matches(type_name, field_name):
            return
        with self._lock:
            self._die_on_count += 1
            hit = self._die_on_count == rule.nth
        if hit:
            self.crash(f"FAKE_DAGGER_DIE_ON={type_name}.{field_name}:{rule.nth}")

    def wait(self, seconds: float, cancelled: Cancelled) -> None:
        """Sleep `seconds`, but raise Canceled as soon as the client goes away or the session ends."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self.shutting_down.wait(min(left, 0.05)) or cancelled():
                raise Canceled()

    # -- containers -----------------------------------------------------------------------------------------
    def upload_host_dirs(self, ctr: Obj) -> None:
        """Account for (and journal) each host folder a container uses, once per session."""
        host_dirs = [node for ref in _referenced(self.registry, ctr) for node in ref.chain()
                     if node.kind == "Directory" and node.parent is not None and node.parent.kind == "Host"]
        for obj in host_dirs:
            with self._lock:
                if obj.digest in self._uploaded:
                    continue
                self._uploaded.add(obj.digest)
            tree = dirs.tree_of(self.registry, obj)
            files, size = dirs.size_of(tree)
            self.journal.write("upload", path=obj.args["path"], files=files, bytes=size,
                               exclude=list(obj.args.get("exclude") or []),
                               include=list(obj.args.get("include") or []))

    def evaluate(self, ctr: Obj, cancelled: Cancelled) -> tuple[ContainerSpec, ExecResult]:
        """Run every withExec of a container chain that has not run yet; the last exec's result."""
        spec = container_spec(self.registry, ctr)
        self.upload_host_dirs(ctr)
        last = ExecResult()
        for exec_obj, before in spec.execs:
            with self._lock:
                lock = self._exec_locks.setdefault(exec_obj.digest, threading.Lock())
            with lock:
                cached = self._exec_cache.get(exec_obj.digest)
                if cached is None:
                    cached = self._run_exec(exec_obj, before, cancelled)
                    self._exec_cache[exec_obj.digest] = cached
            last = cached
        return spec, last

    def _run_exec(self, exec_obj: Obj, spec: ContainerSpec, cancelled: Cancelled) -> ExecResult:
        try:
            for alias, svc in spec.bindings.items():
                self.services.start(svc, cancelled, reason=f"binding {alias}", owner=exec_obj.digest)
            return self._exec(exec_obj, spec, cancelled)
        finally:
            self.services.release(exec_obj.digest)  # services bound for this exec only stop after it

    def _exec(self, exec_obj: Obj, spec: ContainerSpec, cancelled: Cancelled) -> ExecResult:
        command = exec_command(spec, exec_obj.args)
        span = self.progress.open("exec " + " ".join(command))
        try:
            self.wait(self.faults.exec_delay, cancelled)
        except Canceled:
            self.progress.close(span, "context canceled")
            raise
        server = self.bound_server(spec, command)
        ctx = ExecContext(command, spec.image, spec.workdir, dict(spec.env), sorted(spec.secret_env), spec.user,
                          read_file=lambda path: self._file_or_none(exec_obj.parent, path, cancelled),
                          database=self.volumes.tables(server.volume) if server else None,
                          server_major=self.volumes.image_major(server.image) if server else None,
                          comment=self.volumes.comment(server.volume) if server else None,
                          folders=spec.folders())
        result = (self.hook(ctx) if self.hook else None) or default_exec(ctx)
        if self.faults.engine_ca:
            result = untrusted_proxy_ca(ctx) or result
        rule = self.faults.exec_failure(command)
        if rule is not None:
            result = ExecResult(rule.exit_code, "", rule.stderr)
        if not self.faults.quiet_execs:
            self.progress.log(span, result.stdout)
            self.progress.log(span, result.stderr)
        if self.faults.exec_tail_delay:   # a long build: its output streams while it still runs
            try:
                self.wait(self.faults.exec_tail_delay, cancelled)
            except Canceled:
                self.progress.close(span, "context canceled")
                raise
        expect = exec_obj.args.get("expect", "SUCCESS")
        failed = (expect == "SUCCESS" and result.exit_code != 0) or (expect == "FAILURE" and result.exit_code == 0)
        extra = {"server": server.as_record()} if server else {}
        # copies: what the command's container had copied in (its inputs, besides the image and the steps)
        self.journal.write("exec", command=command, image=spec.image, workdir=spec.workdir,
                           exit_code=result.exit_code, failed=failed, container_id=exec_obj.id,
                           copies=list(spec.copies), **extra)
        if not failed and result.exit_code == 0:
            self._volume_effects(spec, command, server, result)
        if failed:
            error = exec_error(command, result)
            self.progress.close(span, error.message)
            raise error
        self.progress.close(span)
        return result

    def bound_server(self, spec: ContainerSpec, command: list[str]) -> Server | None:
        """The PostgreSQL (image, volume) a pg_dump/psql reaches through its --host binding, when volumes
        persist (volumes.py)."""
        from .execs import _option, service_kind

        if not self.volumes.enabled or not command or command[0] not in ("pg_dump", "psql"):
            return None
        bound = spec.bindings.get(_option(command, "-h", "--host") or "")
        if bound is None:
            return None
        svc = self.services.spec(bound)
        if svc.container is None:
            return None
        ctr = container_spec(self.registry, svc.container)
        mount = pg_mount(ctr)
        if service_kind(ctr.image, svc.command) != "postgres" or mount is None:
            return None
        return Server(ctr.image, self.volumes.identity(mount.source, mount_options(mount.sharing, mount.owner,
                                                                                      ctr.image)))

    def _volume_effects(self, spec: ContainerSpec, command: list[str], server: Server | None,
                        result: ExecResult) -> None:
        if not self.volumes.enabled:
            return
        if server is not None and result.database is not None:
            self.volumes.set_tables(server.volume, result.database)
        if server is not None and result.comment is not None:
            self.volumes.set_comment(server.volume, result.comment)
        if command[:2] == ["sh", "-c"] and len(command) > 2:
            words = command[2].split()
            if words[:1] == ["find"] and "-delete" in words and len(words) > 1:
                for mount in spec.mounts:
                    if mount.kind == "cache" and mount.path.rstrip("/") == words[1].rstrip("/"):
                        self.volumes.wipe(self.volumes.identity(mount.source,
                                                                mount_options(mount.sharing, mount.owner,
                                                                                              spec.image)))

    def container_file(self, ctr: Obj, path: str, cancelled: Cancelled) -> bytes:
        """A file in a container: written by withNewFile/withFile, an exec's redirect, or a mount."""
        for node in reversed(ctr.chain()):
            a = node.args
            if node.field == "withNewFile" and a["path"] == path:
                return str(a["contents"]).encode()
            if node.field in {"withFile", "withMountedFile"} and a["path"] == path:
                return self.file_bytes(self.registry.load(a["source"], "File"), cancelled)
            if node.field == "withExec" and path in (a.get("redirectStdout"), a.get("redirectStderr")):
                _, result = self.evaluate(node, cancelled)
                return (result.stdout if a.get("redirectStdout") == path else result.stderr).encode()
            if node.field == "withExec":
                _, result = self.evaluate(node, cancelled)
                if path in result.files:  # written by the command (e.g. pg_dump -f)
                    return result.files[path]
        for node in reversed(ctr.chain()):
            a = node.args
            if node.field in {"withMountedDirectory", "withDirectory"} and path.startswith(a["path"].rstrip("/") + "/"):
                rel = path[len(a["path"].rstrip("/")) + 1:]
                tree = dirs.tree_of(self.registry, self.registry.load(a["source"], "Directory"))
                if tree.get(rel) is not None:
                    return dirs.read(tree[rel])
        raise GraphQLError(f"failed to read file {path}: open {path}: no such file or directory")

    def _file_or_none(self, ctr: Obj | None, path: str, cancelled: Cancelled) -> bytes | None:
        if ctr is None or ctr.kind != "Container":
            return None
        try:
            return self.container_file(ctr, path, cancelled)
        except GraphQLError:
            return None

    def file_bytes(self, file_obj: Obj, cancelled: Cancelled) -> bytes:
        parent = file_obj.parent
        if parent is not None and parent.kind == "Container":
            self.evaluate(parent, cancelled)
            return self.container_file(parent, str(file_obj.args["path"]), cancelled)
        return dirs.file_bytes(self.registry, file_obj)

    def export_file(self, file_obj: Obj, dest: str, cancelled: Cancelled) -> str:
        data = self.file_bytes(file_obj, cancelled)
        target = Path(dest).absolute()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return str(target)


def pg_mount(ctr: ContainerSpec) -> Mount | None:
    """The cache mount holding a PostgreSQL container's data: the one mounted where PGDATA is (or its
    default folder)."""
    data = ctr.env.get("PGDATA", "/var/lib/postgresql/data")
    for mount in ctr.mounts:
        if mount.kind == "cache" and (data == mount.path or data.startswith(mount.path.rstrip("/") + "/")):
            return mount
    return None


def _referenced(registry: Registry, obj: Obj) -> list[Obj]:
    """Objects passed by ID anywhere in the chain (directories, caches, secrets), recursively."""
    out: list[Obj] = []
    seen: set[str] = set()
    todo = [obj]
    while todo:
        for node in todo.pop().chain():
            for key in ("source", "cache", "secret"):
                ref = node.args.get(key)
                if isinstance(ref, str) and ref not in seen and node.kind in {"Container", "Directory"}:
                    seen.add(ref)
                    try:
                        target = registry.load(ref)
                    except GraphQLError:
                        continue
                    out.append(target)
                    todo.append(target)
    return out
