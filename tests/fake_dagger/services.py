"""Running services and host tunnels of one session.

A container service runs from `start()` until `stop()` or the end of the session, printing its startup
lines and then a line every FAKE_DAGGER_LOG_INTERVAL seconds on its `start <command>` span. A host
tunnel really listens on 0.0.0.0:<frontend port> (like the engine) and starts its upstream service if
it is not running yet. Services are keyed by ID, so starting the same service twice is a no-op.

Stopping a container service ends every running service bound to it (and theirs), and a host tunnel to a
service that ended stops listening until it is stopped and started again: Dagger v0.21.8 does both (a
dependent's `asService` ends in ERROR the moment its binding stops; its tunnel's host port refuses). A
stopped service starts again under the same hostname.

A service started only because something needed it (a tunnel's upstream, a binding of a service or of
an exec) has that something as its `owner` and stops with it, as the engine releases such services; an
explicit `start()` takes it over from its owner.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError

from .execs import STARTUP_LINES, ExecResult, heartbeat_line, service_kind
from .faults import ExecFailRule
from .objects import Obj
from .progress import Span
from .state import ContainerSpec, ServiceSpec, container_spec, service_spec
from .tunnel_http import AddressInUse, TunnelListener

if TYPE_CHECKING:
    from .session import Cancelled, Session

TUNNEL_HOST = "0.0.0.0"  # the engine's host tunnels listen on every interface


def _describe(hostname: str, port: int, kind: str) -> str:
    return f"{hostname} port {port} ({kind})"


@dataclass
class Running:
    spec: ServiceSpec
    kind: str
    span: Span | None
    ports: list[tuple[int, int]]  # (port seen by clients, port of the service)
    listeners: list[TunnelListener] = field(default_factory=list)
    owner: str | None = None  # digest of what started it implicitly (None: an explicit start)
    ticks: int = 0


class ServiceRuntime:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._running: dict[str, Running] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._ticker: threading.Thread | None = None

    # -- queries ----------------------------------------------------------------------------------------
    def get(self, svc: Obj) -> Running | None:
        with self._lock:
            return self._running.get(svc.digest)

    def spec(self, svc: Obj) -> ServiceSpec:
        return service_spec(self.session.registry, svc)

    def exposed_ports(self, spec: ServiceSpec) -> list[dict[str, Any]]:
        if spec.container is None:
            return []
        return container_spec(self.session.registry, spec.container).exposed_ports

    # -- start / stop -----------------------------------------------------------------------------------
    def start(self, svc: Obj, cancelled: Cancelled, reason: str = "start", owner: str | None = None) -> Running:
        with self._lock:
            key_lock = self._locks.setdefault(svc.digest, threading.Lock())
        with key_lock:
            running = self.get(svc)
            if running is not None:
                if owner is None:
                    running.owner = None
                return running
            spec = self.spec(svc)
            try:
                running = self._start_tunnel(spec, cancelled, reason) if spec.is_tunnel \
                    else self._start_container(spec, cancelled, reason)
            except BaseException:
                self.release(svc.digest)  # whatever it started for itself
                raise
            running.owner = owner
            with self._lock:
                self._running[svc.digest] = running
            self._ensure_ticker()
            return running

    def _start_container(self, spec: ServiceSpec, cancelled: Cancelled, reason: str) -> Running:
        s = self.session
        assert spec.container is not None
        ctr, _ = s.evaluate(spec.container, cancelled)  # build steps first; their ExecError propagates
        for alias, bound in ctr.bindings.items():
            self.start(bound, cancelled, reason=f"binding {alias}", owner=spec.obj.digest)
        kind = service_kind(ctr.image, spec.command)
        record: dict[str, Any] = {"service_id": spec.obj.id, "hostname": spec.hostname, "command": spec.command,
                                  "service_kind": kind, "reason": reason, **ctr.summary()}
        span = s.progress.open("start " + " ".join(spec.command))
        try:
            s.wait(s.faults.start_delay, cancelled)
        except GraphQLError as e:
            s.progress.close(span, e.message)
            s.journal.write("service", event="start-cancelled", **record)
            raise
        rule = s.faults.exec_failure(spec.command)
        refused = self._pg_refusal(ctr) if kind == "postgres" and rule is None else None
        if refused is not None:
            rule = ExecFailRule("", 1, refused)
        if rule is not None:
            from .session import exec_error

            error = exec_error(spec.command, ExecResult(rule.exit_code, "", rule.stderr))
            if not s.faults.quiet_execs:
                s.progress.log(span, rule.stderr)
            s.progress.close(span, error.message)
            s.journal.write("service", event="start-failed", error=error.message, **record)
            raise error
        s.progress.log_lines(span, STARTUP_LINES[kind])
        ports = [(p["port"], p["port"]) for p in ctr.exposed_ports]
        s.journal.write("service", event="start", ports=[p for p, _ in ports], **record)
        return Running(spec, kind, span, ports)

    def _pg_refusal(self, ctr: ContainerSpec) -> str | None:
        """PostgreSQL on a persisted volume (volumes.py): initialise it, or its error for another major's."""
        from .session import pg_mount
        from .volumes import mount_options

        mount = pg_mount(ctr)
        if mount is None:
            return None
        options = mount_options(mount.sharing, mount.owner, ctr.image)
        volumes = self.session.volumes
        return volumes.open_server(ctr.image, volumes.identity(mount.source, options), options)

    def _forwards(self, spec: ServiceSpec, upstream: ServiceSpec) -> list[tuple[int, int]]:
        exposed = [p["port"] for p in self.exposed_ports(upstream)]
        forwards = [(p, p) for p in exposed] if spec.native else []
        forwards += [(int(f.get("frontend") or 0), int(f["backend"])) for f in spec.forwards]
        if not forwards:
            forwards = [(0, p) for p in exposed]
        if not forwards:
            raise GraphQLError("no ports to forward: the service exposes no ports and none were given")
        return forwards

    def _start_tunnel(self, spec: ServiceSpec, cancelled: Cancelled, reason: str) -> Running:
        s = self.session
        assert spec.upstream is not None
        upstream = self.spec(spec.upstream)
        up = self.start(spec.upstream, cancelled, reason="tunnel", owner=spec.obj.digest)
        exposed = {p["port"] for p in self.exposed_ports(upstream)}
        listeners: list[TunnelListener] = []
        forwards = self._forwards(spec, upstream)
        base = {"service_id": spec.obj.id, "upstream_id": spec.upstream.id,
                "upstream_hostname": upstream.hostname, "host": TUNNEL_HOST, "reason": reason}
        try:
            for front, back in forwards:
                listeners.append(TunnelListener(
                    TUNNEL_HOST, front, backend_open=back in exposed,
                    describe=functools.partial(_describe, upstream.hostname, back, up.kind),
                    health_status=lambda: s.faults.health_status))
        except AddressInUse as e:
            for listener in listeners:
                listener.close()
            self.release(spec.obj.digest)
            s.journal.write("tunnel", event="listen-failed", error=str(e.strerror), **base,
                            ports=[{"frontend": f, "backend": b} for f, b in forwards])
            raise GraphQLError(str(e.strerror)) from e
        ports = [(lst.port, back) for lst, (_, back) in zip(listeners, forwards, strict=True)]
        span = s.progress.open(f"tunnel {upstream.hostname} " + " ".join(
            f"{TUNNEL_HOST}:{f}->{b}" for f, b in ports))
        s.journal.write("tunnel", event="listen", **base,
                        ports=[{"frontend": f, "backend": b, "backend_exposed": b in exposed} for f, b in ports])
        return Running(spec, "tunnel", span, ports, listeners)

    def stop(self, svc: Obj) -> None:
        with self._lock:
            running = self._running.pop(svc.digest, None)
        if running is None:
            return
        self._close(running)
        self.release(svc.digest)
        if not running.spec.is_tunnel:
            self._end_dependents(svc.digest)

    def _end_dependents(self, digest: str) -> None:
        """What the engine does when a service stops: the services bound to it end, tunnels to it go deaf."""
        with self._lock:
            items = list(self._running.values())
        for running in items:
            spec = running.spec
            if spec.is_tunnel:
                assert spec.upstream is not None
                if spec.upstream.digest == digest and running.listeners:
                    for listener in running.listeners:
                        listener.close()
                    running.listeners = []
                    self.session.journal.write("tunnel", event="close", service_id=spec.obj.id,
                                               upstream_id=spec.upstream.id, host=TUNNEL_HOST, reason="upstream ended",
                                               ports=[{"frontend": f, "backend": b} for f, b in running.ports])
                continue
            assert spec.container is not None
            bound = container_spec(self.session.registry, spec.container).bindings
            alias = next((a for a, obj in bound.items() if obj.digest == digest), None)
            if alias is not None:
                if running.span is not None:
                    self.session.progress.close(running.span, f"its binding {alias} stopped")
                    running.span = None
                self.session.journal.write("service", event="ended", service_id=spec.obj.id,
                                           hostname=spec.hostname, reason=f"binding {alias} stopped")
                self.stop(spec.obj)

    def release(self, owner: str) -> None:
        """Stop the services that were started only for `owner`."""
        with self._lock:
            owned = [r.spec.obj for r in self._running.values() if r.owner == owner]
        for obj in owned:
            self.stop(obj)

    def _close(self, running: Running) -> None:
        s = self.session
        spec = running.spec
        for listener in running.listeners:
            listener.close()
        if running.span is not None:
            s.progress.close(running.span)
        if spec.is_tunnel:
            assert spec.upstream is not None
            if not running.listeners and running.ports:   # went deaf when its upstream ended: said then
                return
            s.journal.write("tunnel", event="close", service_id=spec.obj.id, upstream_id=spec.upstream.id,
                            host=TUNNEL_HOST, ports=[{"frontend": f, "backend": b} for f, b in running.ports])
        else:
            s.journal.write("service", event="stop", service_id=spec.obj.id, hostname=spec.hostname,
                            command=spec.command)

    def stop_all(self) -> None:
        """Session end: tunnels first, then services."""
        with self._lock:
            items = list(self._running.values())
            self._running.clear()
        for running in sorted(items, key=lambda r: not r.spec.is_tunnel):
            self._close(running)

    # -- log lines of running services ------------------------------------------------------------------
    def _ensure_ticker(self) -> None:
        if self._ticker is None and self.session.faults.log_interval > 0:
            self._ticker = threading.Thread(target=self._tick_loop, name="service-logs", daemon=True)
            self._ticker.start()

    def _tick_loop(self) -> None:
        s = self.session
        while not s.shutting_down.wait(s.faults.log_interval):
            with self._lock:
                running = [r for r in self._running.values() if not r.spec.is_tunnel and r.span is not None]
            for r in running:
                assert r.span is not None
                lines = []
                for _ in range(s.faults.log_lines):
                    r.ticks += 1
                    lines.append(heartbeat_line(r.kind, r.ticks))
                s.progress.log_lines(r.span, lines)

    def up(self, svc: Obj, ports: list[dict[str, Any]], random: bool, cancelled: Cancelled) -> None:
        """Service.up: tunnel the service to the host until the client cancels the request."""
        s = self.session
        host = s.registry.make("Host", "host", {})
        native = not random and not ports
        if random:
            ports = [{**p, "frontend": 0} for p in ports]
        tunnel = s.registry.make("Service", "tunnel", {"service": svc.id, "native": native, "ports": ports}, host)
        self.start(tunnel, cancelled, reason="up")
        try:
            while not cancelled() and not s.shutting_down.wait(0.1):
                pass
        finally:
            self.stop(tunnel)
