"""CommandCenterStack: one project's four services on a Dagger session of its own.

One session per running stack: a failure stays inside its project, stop means "stop the services and close
the session" (nothing orphaned), and each stack gets its own log stream. Services live only as long as their
session, so this object is owned by the long-lived app process.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cchub_desktop import ports
from cchub_desktop.settings import AppSettings
from cchub_desktop.stack.config import CommandCenterConfig
from cchub_desktop.stack.engine_env import ENVIRONMENT_GATE, describe_cli, locate_cli, session_environment
from cchub_desktop.stack.errors import StackError, map_error
from cchub_desktop.stack.health import is_healthy, wait_healthy
from cchub_desktop.stack.host_copy import HostCopier
from cchub_desktop.stack.logs import StackLog
from cchub_desktop.stack.phases import StackPhase
from cchub_desktop.stack.recipe import ServiceSpec, build_recipe, secret_values
from cchub_desktop.stack.restart_lines import done_text
from cchub_desktop.stack.runner_probe import check_runner

if TYPE_CHECKING:
    import dagger

    from cchub_desktop.stack.dagger_graph import StackGraph

# No retries: the session endpoint is the CLI child process on 127.0.0.1, so a failed request means the CLI
# (or the engine behind it) is gone. The SDK's default would retry for ~15 s (and reconnect forever) before
# the user hears about it; engine-side errors come back as GraphQL errors, which are never retried anyway.
PRODUCT_RETRY: dagger.Retry | None = None
HEARTBEAT_INTERVAL = 5.0
HEARTBEAT_TIMEOUT = 10.0
HEALTH_TIMEOUT = 180.0
STOP_TIMEOUT = 15.0
# Started group by group (a group's services concurrently), stopped in the reverse order: the databases and
# NATS first, the backend with the Celery worker and beat (they need all three), the frontend last.
START_GROUPS: tuple[tuple[str, ...], ...] = (("postgres", "redis", "nats"), ("backend", "worker", "beat"),
                                             ("frontend",))
CLOSE_TIMEOUT = 60.0

PhaseCallback = Callable[[StackPhase], None]
# called (in a worker thread) with the commit a first start resolved the source's ref to, to record it
PinCallback = Callable[[str], object]


class CommandCenterStack:
    def __init__(self, config: CommandCenterConfig, settings: AppSettings, log: StackLog,
                 on_phase: PhaseCallback | None = None, *, retry: dagger.Retry | None = PRODUCT_RETRY,
                 heartbeat_interval: float = HEARTBEAT_INTERVAL, health_timeout: float = HEALTH_TIMEOUT) -> None:
        self.config = config
        self.settings = settings
        self.log = log
        self.recipe = build_recipe(config)
        self._values = secret_values(config)
        self._secrets = tuple(self._values.values())
        log.add_secrets(self._secrets)
        self._on_phase = on_phase
        self._retry = retry
        self._heartbeat_interval = heartbeat_interval
        self._health_timeout = health_timeout
        self.frontend_url = config.frontend_url
        self.backend_url = config.backend_url
        self.phase: StackPhase | None = None
        self.on_source_pin: PinCallback | None = None
        self.closed_reason: str | None = None
        self._started = False
        self._stop_requested = False
        self._session_cursor = 0   # the log's cursor when this session's engine output began
        self._conn: dagger.Connection | None = None
        self._client: dagger.Client | None = None
        self._services: list[tuple[str, dagger.Service]] = []
        self._tunnels: list[tuple[str, dagger.Service]] = []
        self._heartbeat: asyncio.Task[None] | None = None
        self._teardown_lock = asyncio.Lock()
        self._closed = asyncio.Event()
        self._background: set[asyncio.Task[Any]] = set()
        # the copy of the project's data on the host (stack/host_copy.py): checked at start, taken
        # periodically and at stop
        self.host_copy = (None if config.host_copies_dir is None else
                          HostCopier(config, self.recipe, self._values, log, config.host_copies_dir,
                                     settings.host_copy_interval_min * 60.0))
        self._copied_at_stop = False

    # ----- public API -------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._client is not None and not self._closed.is_set()

    async def start(self) -> None:
        """Start all four services and the host tunnels; returns once the stack answers over HTTP.
        Raises StackError (nothing is left running then)."""
        if self._started:
            raise RuntimeError("a CommandCenterStack starts once; make a new one to start again")
        self._started = True
        if self.config.environment.problem:   # a secret variable's value is missing: nothing starts
            raise StackError(f"{self.config.environment.problem}.", step="secrets")
        try:
            await self._start()
        except BaseException as exc:
            await self._shielded_teardown()
            if isinstance(exc, StackError | asyncio.CancelledError | KeyboardInterrupt | SystemExit):
                raise
            raise map_error(exc, None, "starting the stack", secret_values=self._secrets) from exc
        self._heartbeat = asyncio.get_running_loop().create_task(self._watch_session())
        if self.host_copy is not None:
            self.host_copy.start_periodic(self._require_client(), self._spawn)

    async def stop(self) -> None:
        """Copy the data to the host (a healthy stack), then stop the tunnels and services and close the
        session. Idempotent; safe during a start."""
        self._stop_requested = True
        try:
            if self.host_copy is not None and not self._copied_at_stop:
                self._copied_at_stop = True
                why_not = ("the stack never became healthy" if self.phase != StackPhase.HEALTHY else
                           None if self.running else "its Dagger session had ended")
                await self.host_copy.at_stop(self._client if why_not is None else None, why_not)
        finally:
            await self._shielded_teardown()

    async def backup_database(self, dest: Path) -> Path:
        """pg_dump the running stack's database to `dest`, in this stack's session (its services live only
        there). Raises StackError."""
        from cchub_desktop.stack.backup import DatabaseJob

        if not self.running or self.phase != StackPhase.HEALTHY:
            raise StackError(f"{self.config.name} is not running, so its session cannot take the backup.",
                             step="backup")
        return await DatabaseJob(self.config, self.settings, self.log).backup_in_session(self._require_client(), dest)

    async def restart_service(self, name: str) -> str:
        """Restart one service of the running stack in its session, with the services the engine stops with it
        (those that bind it) and their host tunnels, then wait for the health checks; the others, the session
        and the volumes stay as they are. Returns what was done, in a line. Raises StackError."""
        import time

        if not self.running or self.phase != StackPhase.HEALTHY:
            raise StackError(f"{self.config.name} is not running, so its {name} cannot be restarted.",
                             step="restart")
        try:
            names = self.recipe.restarted_with(name)
        except KeyError:
            raise StackError(f"{self.config.name}'s stack has no service named '{name}'; its services are: "
                             f"{', '.join(s.name for s in self.recipe.services)}.", step="restart") from None
        with_it = [n for n in names if n != name]
        began = time.monotonic()
        self.log.note(f"[hub] restarting {name}" + (f" (and {', '.join(with_it)}, which depend on it)" if with_it
                                                       else "") + "; the other services keep running")
        lock = self.host_copy.busy if self.host_copy is not None else asyncio.Lock()
        async with lock, self._teardown_lock:   # no copy meanwhile; a stop waits for the restart
            tunnels = [(n, t) for n, t in self._tunnels if n in names]
            await self._stop_all(tunnels, "tunnel")
            groups = [[n for n in group if n in names] for group in START_GROUPS]
            groups.append([n for n in names if not any(n in group for group in START_GROUPS)])
            for group in reversed(groups):   # those that bind it first, as the engine would; a group at once
                await self._stop_all([(n, s) for n, s in self._services if n in group], "service")
            try:
                for group in groups:
                    if group:
                        titles = ", ".join(self.recipe.service(n).title for n in group)
                        async with self._step(StackPhase.HEALTHY, f"restarting {titles}"):
                            await self._restart_group(group)
                for tunnel_name, tunnel in tunnels:
                    async with self._step(StackPhase.HEALTHY, f"reopening the {tunnel_name}'s host port"):
                        started = await tunnel.start()
                    self._tunnels = [(n, started if t is tunnel else t) for n, t in self._tunnels]
                await self._check_health(only=set(names), then="and the rest of the stack runs on")
            except StackError as exc:
                raise StackError(f"Restarting the {name} of {self.config.name} failed: {exc.user_message} "
                                 "Restart the project (or stop and start it).", detail=exc.detail,
                                 step="restart") from exc
        done = done_text(name, with_it, time.monotonic() - began)
        self.log.note(f"[hub] {self.config.name}: {done}")
        return done

    async def _restart_group(self, group: list[str]) -> None:
        services = dict(self._services)
        started = await asyncio.gather(*(services[n].start() for n in group))
        for name, svc in zip(group, started, strict=True):
            self._replace_service(name, svc)

    async def wait_closed(self) -> None:
        """Returns when the session has ended: after stop(), or when it died (then `closed_reason` says why
        and everything has been cleaned up)."""
        await self._closed.wait()

    # ----- start ----------------------------------------------------------------------------------------

    async def _start(self) -> None:
        cfg = self.config
        async with self._step(StackPhase.ENGINE, "checking the project"):
            self._preflight()
            conflicts = await asyncio.to_thread(ports.find_conflicts, cfg.host_ports())
            if conflicts:
                raise StackError(" ".join(c.message() for c in conflicts), step="ports")   # the whole story
        async with self._step(StackPhase.ENGINE, "connecting to the Dagger engine"):
            await self._connect()
        client = self._require_client()
        await self._pin_source(client)
        from cchub_desktop.stack.dagger_graph import build_graph

        # Building the graph talks to nobody but costs ~30 ms of SDK work (a converter per chained call):
        # off the event loop, which is the UI's (benchmarks/README.md, event loop).
        graph = await asyncio.to_thread(build_graph, client, self.recipe, self._values)
        fetching = f"fetching the CommandCenter source ({self.recipe.source.describe()})"
        async with self._step(StackPhase.SOURCE, fetching):
            await graph.source.sync()
        await self._build(graph)
        first, *rest = START_GROUPS
        await self._start_services(graph, [self.recipe.service(name) for name in first])
        if self.host_copy is not None:   # before the backend runs the migrations
            self.host_copy.recipe = self.recipe
            async with self._step(self.phase or StackPhase.POSTGRES, "checking the database against its host copy"):
                await self.host_copy.check_volume(client)
        for group in rest:
            await self._start_services(graph, [self.recipe.service(name) for name in group])
        await self._open_tunnels(client, graph)
        await self._check_health()
        self._set_phase(StackPhase.HEALTHY)
        self.log.note(f"[hub] {cfg.name} is healthy: frontend {self.frontend_url}, backend {self.backend_url}")

    async def _pin_source(self, client: dagger.Client) -> None:
        """A git source without a pin: resolve its ref to a commit (one query), build from that commit and
        hand it to `on_source_pin` to record. A pinned one builds its commit; a local checkout is shown."""
        source = self.recipe.source
        if self.config.source_note:
            self.log.note(self.config.source_note)
        if source.kind == "local" and source.local_dir is not None:
            from cchub_desktop.stack.source_pin import local_head

            head = await asyncio.to_thread(local_head, source.local_dir)
            self.log.note(f"[hub] CommandCenter source: {head.describe()} ({source.local_dir})")
            return
        if source.commit:
            self.log.note(f"[hub] CommandCenter source: {source.git_url} @ {source.git_ref}, pinned to commit "
                          f"{source.commit[:7]}")
            return
        from cchub_desktop.stack.source_pin import is_commit, resolve_commit, verification_note, verified_commit

        commit = verified_commit(source.git_url, source.git_ref) or ""   # the default source: no query
        if not commit:
            async with self._step(StackPhase.SOURCE, f"finding the commit of {source.git_ref} in {source.git_url}"):
                commit = (await resolve_commit(client, source.git_url, source.git_ref)).strip()
            if not is_commit(commit):
                raise StackError(f"The engine named no commit for {source.git_ref} of {source.git_url} (it answered "
                                 f"{commit!r}). Check the branch, tag or commit in Settings → Source and start "
                                 "again.", detail=f"GitRef.commit: {commit!r}", step=StackPhase.SOURCE.value)
        self.recipe = dataclasses.replace(self.recipe, source=dataclasses.replace(source, commit=commit))
        if self.on_source_pin is not None:
            await asyncio.to_thread(self.on_source_pin, commit)
        pinned = "this project is now pinned to it" if self.on_source_pin is not None else "this start builds it"
        self.log.note(f"[hub] CommandCenter source: {source.git_url} @ {source.git_ref} is at commit "
                      f"{commit[:7]}{verification_note(commit)}; {pinned} (Update CommandCenter moves it)")

    def _preflight(self) -> None:
        cfg = self.config
        if not cfg.project_path.is_dir():
            raise StackError(f"The project folder {cfg.project_path} does not exist any more. Edit the project "
                             "to choose its folder again.", step="project")
        local = cfg.source.local_dir
        if local is not None and not (local / "backend").is_dir():
            raise StackError(f"The CommandCenter checkout {local} (Settings → Source) has no backend folder. "
                             "Pick the root of a CommandCenter checkout, or clear it to use git.", step="source")
        if local is not None:
            from cchub_desktop.stack.source_check import check_local_tree

            report = check_local_tree(local, self.recipe.service("postgres").image)
            if not report.ok:
                raise StackError(f"The CommandCenter checkout {local} (Settings → Source) cannot run as it is: "
                                 + " ".join(f"{p.what} — {p.fix}." for p in report.problems)
                                 + " Run 'cchub check-source' after fixing it.",
                                 detail="; ".join(p.what for p in report.problems), step="source")

    async def _connect(self) -> None:
        choice = await asyncio.to_thread(locate_cli, self.settings)
        # importing the SDK takes most of a second: off the event loop, and only when a stack starts
        dagger = await asyncio.to_thread(importlib.import_module, "dagger")
        self.log.begin_session({s.name: s.log_markers for s in self.recipe.services})
        self.log.note(f"[hub] Dagger CLI: {describe_cli(choice)}"
                      + (f"; engine runner: {self.settings.runner_host}" if self.settings.runner_host else ""))
        await asyncio.to_thread(check_runner, self.settings)  # a dead runner would make the CLI wait for ever
        conn = dagger.Connection(dagger.Config(log_output=self.log, retry=self._retry))
        cursor = self._session_cursor = self.log.lines()[0]
        try:
            async with ENVIRONMENT_GATE.applied(session_environment(self.settings, choice)):
                client = await conn.__aenter__()
        except dagger.ProvisionError as exc:
            output = await self._engine_output_since(cursor)
            raise map_error(exc, StackPhase.ENGINE.value, "connecting to the Dagger engine",
                            secret_values=self._secrets, engine_output=output) from exc
        self._conn, self._client = conn, client
        if self._stop_requested:
            raise asyncio.CancelledError("stopped while connecting")

    async def _engine_output_since(self, cursor: int, wait: float = 1.0) -> str:
        """What the CLI printed since `cursor`. The SDK forwards it from a thread of its own, so a CLI
        that exited at once may still be on its way into the log: wait a little for it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            lines = [x.text for x in self.log.lines(cursor)[1] if x.service != "hub"]
            if lines or loop.time() >= deadline:
                return "\n".join(lines)
            await asyncio.sleep(0.02)

    async def _engine_logged(self, line: str, wait: float = 1.0) -> bool:
        """Whether the engine's output in this session has `line` (a failed command's last line). The SDK
        forwards it from a thread of its own, so it may still be on its way: wait a little for it."""
        if not line:
            return True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            if any(line in x.text for x in self.log.lines(self._session_cursor)[1] if x.service != "hub"):
                return True
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.05)

    async def _build(self, graph: StackGraph) -> None:
        """Build backend and frontend concurrently (the slow part on a first start); phases in order."""
        from cchub_desktop.stack.build_progress import FIRST_BUILD, BuildProgress, elapsed_text

        specs = [s for s in self.recipe.services if s.build_phase is not None]
        tasks = {s.name: asyncio.ensure_future(self._build_one(graph, s)) for s in specs}
        loop = asyncio.get_running_loop()
        progress = BuildProgress(lambda phase, detail: loop.call_soon_threadsafe(self._report_progress, phase, detail),
                                 first_build=self.config.first_build)
        if self.config.first_build:
            self.log.note(f"[hub] {FIRST_BUILD} (later starts reuse the build caches)")
        self.log.subscribe(progress.on_line)
        try:
            for spec in specs:
                assert spec.build_phase is not None
                async with self._step(spec.build_phase, f"building the {spec.title}"):
                    progress.begin(spec.build_phase.value, " ".join(spec.build_steps[0].args[:2])
                                   if spec.build_steps else "")
                    await tasks[spec.name]
                self.log.note(f"[hub] {spec.title} built in {elapsed_text(progress.end())}")
        finally:
            self.log.unsubscribe(progress.on_line)
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)

    async def _build_one(self, graph: StackGraph, spec: ServiceSpec) -> None:
        await graph.built[spec.name].sync()

    async def _start_services(self, graph: StackGraph, specs: list[ServiceSpec]) -> None:
        async def start_one(spec: ServiceSpec) -> dagger.Service:
            return await graph.services[spec.name].start()

        tasks = {s.name: asyncio.ensure_future(start_one(s)) for s in specs}
        # registered before they start: a start that fails half-way still gets a stop
        self._services.extend((s.name, graph.services[s.name]) for s in specs)
        try:
            for spec in specs:
                the = "" if spec.title[:1].isupper() else "the "   # "starting PostgreSQL", "starting the backend"
                async with self._step(spec.phase, f"starting {the}{spec.title}"):
                    started = await tasks[spec.name]
                self._replace_service(spec.name, started)
        finally:
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)

    def _replace_service(self, name: str, started: dagger.Service) -> None:
        self._services = [(n, started if n == name else s) for n, s in self._services]

    async def _open_tunnels(self, client: dagger.Client, graph: StackGraph) -> None:
        self._set_phase(StackPhase.TUNNELS)
        pending = []
        for spec, tunnel_spec in self.recipe.tunnels():
            tunnel = graph.tunnel(client, spec.name, tunnel_spec)
            self._tunnels.append((spec.name, tunnel))
            pending.append((spec, tunnel_spec.host_port, asyncio.ensure_future(tunnel.start())))
        try:
            for spec, port, task in pending:
                async with self._step(StackPhase.TUNNELS, f"opening host port {port} for the {spec.title}",
                                      port_roles={port: spec.name}):
                    await task
                scheme = "http://" if spec.health_path else ""   # the databases: a host:port, not a URL
                self.log.note(f"[hub] {spec.name} on {scheme}127.0.0.1:{port} (all interfaces, port {port})")
        finally:
            for *_, task in pending:
                task.cancel()
            await asyncio.gather(*(t for *_, t in pending), return_exceptions=True)

    async def _check_health(self, only: set[str] | None = None, then: str = "so the stack was stopped") -> None:
        for spec in self.recipe.services:
            if spec.health_path is None or spec.tunnel is None or (only is not None and spec.name not in only):
                continue
            port = spec.tunnel.host_port
            url = f"http://localhost:{port}{spec.health_path}"
            status = await wait_healthy(port, spec.health_path, self._health_timeout)
            if not is_healthy(status):
                answer = f"answered HTTP {status}" if status else "did not answer"
                raise StackError(f"The {spec.title} {answer} at {url} within {self._health_timeout:.0f} s, "
                                 f"{then}. The log shows its output.",
                                 detail=f"health check {url}: {status}", step=spec.name)
            self.log.note(f"[hub] {spec.title} answers at {url} (HTTP {status})")

    @contextlib.asynccontextmanager
    async def _step(self, phase: StackPhase, doing: str,
                    port_roles: dict[int, str] | None = None) -> AsyncIterator[None]:
        """Report the phase; turn any SDK error inside into a StackError about `doing`."""
        self._set_phase(phase)
        try:
            yield
        except (StackError, asyncio.CancelledError):
            raise
        except Exception as exc:
            error = map_error(exc, phase.value, doing, secret_values=self._secrets, port_roles=port_roles)
            in_log = await self._engine_logged(error.output_last_line)
            self.log.note(f"[hub] failed while {doing}: {error.log_text(in_log)}")
            error.logged = True
            raise error from exc
        if self._stop_requested:
            raise asyncio.CancelledError("the stack was stopped while starting")

    def _report_progress(self, phase: str, detail: str) -> None:
        """A build phase's current step and elapsed time, as the phase "backend_build|<detail>"."""
        if self._on_phase is not None and self.phase is not None and self.phase.value == phase:
            self._on_phase(f"{phase}|{detail}")  # type: ignore[arg-type]

    def _set_phase(self, phase: StackPhase) -> None:
        if phase == self.phase:
            return
        self.phase = phase
        if self._on_phase is not None:
            self._on_phase(phase)

    def _require_client(self) -> dagger.Client:
        if self._client is None:
            raise asyncio.CancelledError("the stack was stopped while starting")
        return self._client

    # ----- running --------------------------------------------------------------------------------------

    async def _watch_session(self) -> None:
        """A light `version` query every few seconds: when it fails twice in a row the session is gone (the
        CLI exited or the engine died), so clean up and let wait_closed() return."""
        failures = 0
        while not self._closed.is_set():
            delay = self._heartbeat_interval if failures == 0 else min(1.0, self._heartbeat_interval)
            await asyncio.sleep(delay)
            client = self._client
            if client is None:
                return
            try:
                await asyncio.wait_for(client.version(), HEARTBEAT_TIMEOUT)
                failures = 0
            except Exception as exc:
                failures += 1
                if failures < 2:
                    continue
                self.closed_reason = map_error(exc, "session", "the stack was running",
                                               secret_values=self._secrets).user_message
                self.log.note(f"[hub] the Dagger session ended: {type(exc).__name__}: {exc}")
                self._spawn(self._teardown(from_heartbeat=True))
                return

    # ----- teardown -------------------------------------------------------------------------------------

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _shielded_teardown(self) -> None:
        task = self._spawn(self._teardown())
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            await asyncio.wait({task})
            raise

    async def _teardown(self, from_heartbeat: bool = False) -> None:
        async with self._teardown_lock:
            heartbeat, self._heartbeat = self._heartbeat, None
            if self.host_copy is not None:
                await self.host_copy.stop_periodic()
            if heartbeat is not None and not from_heartbeat:
                heartbeat.cancel()
            tunnels, self._tunnels = self._tunnels, []
            services, self._services = self._services, []
            conn, self._conn = self._conn, None
            self._client = None
            if tunnels:
                await self._stop_all(tunnels, "tunnel")
            # frontend and backend first, the databases last and gracefully (PostgreSQL flushes its data)
            for group in reversed(START_GROUPS):
                chosen = [(n, s) for n, s in services if n in group]
                if chosen:
                    await self._stop_all(chosen, "service")
            if conn is not None:
                await self._close(conn)
            self._closed.set()

    async def _stop_all(self, items: list[tuple[str, dagger.Service]], kind: str) -> None:
        async def stop_one(name: str, svc: dagger.Service) -> None:
            try:
                await asyncio.wait_for(svc.stop(), STOP_TIMEOUT)
            except Exception as exc:
                self.log.note(f"[hub] stopping the {name} {kind}: {type(exc).__name__}: {exc}")

        await asyncio.gather(*(stop_one(n, s) for n, s in items))

    async def _close(self, conn: dagger.Connection) -> None:
        """Close the session: the SDK closes the CLI's stdin and waits for it to exit (in a thread). A CLI
        that hangs must not hang the app: after CLOSE_TIMEOUT the wait goes on in the background."""
        task = self._spawn(conn.close())  # type: ignore[no-untyped-call]
        done, _ = await asyncio.wait({task}, timeout=CLOSE_TIMEOUT)
        if not done:
            self.log.note(f"[hub] the Dagger CLI did not exit within {CLOSE_TIMEOUT:.0f} s after its session "
                          "was closed; still waiting in the background")
            return
        exc = task.exception()
        if exc is not None:
            self.log.note(f"[hub] closing the Dagger session: {type(exc).__name__}: {exc}")
