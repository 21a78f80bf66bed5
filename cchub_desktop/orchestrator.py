"""Lifecycle of every project's CommandCenter stack: one operation per project at a time, plain-callback events.

States: stopped -> starting -> running -> stopping -> stopped, and error (with the last error text) from any
step; error -> starting on retry. Every state change is persisted in the store. No Qt here: the UI adapts the
callbacks to Qt signals in ui/bridge.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import traceback
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cchub_desktop import engine_jobs, ports, runner_control, runner_requests
from cchub_desktop.engine_jobs import JobReport
from cchub_desktop.health_monitor import HEALTH_INTERVAL, HEALTHY, watch_health
from cchub_desktop.lease import APP, RUNNER, UP, Lease, LeaseHeld, Owner, live_status, owner_of
from cchub_desktop.lifecycle_events import ACTIVE, PHASE_TEXT, OrchestratorEvent, phase_text
from cchub_desktop.log_names import named_log_file
from cchub_desktop.log_tail import FileTail
from cchub_desktop.paths import AppPaths
from cchub_desktop.project_runs import NOTHING_KNOWN, ProjectRun
from cchub_desktop.runner_runs import BACKUP_WAIT_S, FOLLOW_S, RUNNER_STOP_BOUND, RunnerRun
from cchub_desktop.settings import AppSettings
from cchub_desktop.stack import StackError, StackLog, StackPhase
from cchub_desktop.status_writer import StatusWriter
from cchub_desktop.store import ProjectStatus, ProjectStore, StoreError

if TYPE_CHECKING:
    from cchub_desktop.kept_data import KeptData  # the Storage tab and removals load it (and host_copies)

    # The stack itself, its configuration and what a start, a backup or a removal with data needs are imported
    # by those (a project's runner in the app): the window, which only follows runners, never loads them.
    from cchub_desktop.stack import CommandCenterConfig, CommandCenterStack
    from cchub_desktop.store.rows import StoredProject

logger = logging.getLogger(__name__)
__all__ = ["ACTIVE", "PHASE_TEXT", "Orchestrator", "OrchestratorEvent", "phase_text"]

EventCallback = Callable[[OrchestratorEvent], None]
StackFactory = Callable[..., "CommandCenterStack"]


class Orchestrator:
    """Owns the running stacks. All methods run on the asyncio loop's thread."""

    def __init__(self, store: ProjectStore, settings: AppSettings, paths: AppPaths,
                 stack_factory: StackFactory | None = None, *, runners: bool = False) -> None:
        """`runners`: every stack runs in a runner process of its own (runner_control.py), which this
        process starts, follows and stops, and never a Dagger session here (the app). Without it, stacks run
        in this process through `stack_factory` (default: CommandCenterStack; tests pass their own)."""
        self.runners = runners
        self._projects: dict[int, ProjectRun] = {}   # what this process knows of each project's run
        self.runner_stop_bound = RUNNER_STOP_BOUND
        self._store = store
        self.settings = settings
        self._paths = paths
        self._factory = stack_factory
        self._subscribers: list[EventCallback] = []
        self.health_interval = HEALTH_INTERVAL
        self._tasks: set[asyncio.Task[Any]] = set()
        self._status_writer = StatusWriter(store, self.spawn)
        self._key_cache: list[tuple[int, str, str]] | None = None   # (id, data key, name)

    @property
    def paths(self) -> AppPaths:
        return self._paths

    def _view(self, project_id: int) -> ProjectRun:
        """The project's record, for reading (an empty one, never written to, when nothing is known here)."""
        return self._projects.get(project_id, NOTHING_KNOWN)

    def _p(self, project_id: int) -> ProjectRun:
        """The project's record, for writing (made when first needed)."""
        record = self._projects.get(project_id)
        if record is None:
            record = self._projects[project_id] = ProjectRun()
        return record

    def runner_of(self, project_id: int) -> RunnerRun | None:
        """The runner this process follows for the project, if any."""
        return self._view(project_id).runner

    def _runners(self) -> list[RunnerRun]:
        return [record.runner for record in self._projects.values() if record.runner is not None]

    # ----- events and queries -------------------------------------------------------------------------

    def subscribe(self, cb: EventCallback) -> None:
        self._subscribers.append(cb)

    def unsubscribe(self, cb: EventCallback) -> None:
        with contextlib.suppress(ValueError):
            self._subscribers.remove(cb)

    def state(self, project_id: int) -> ProjectStatus:
        if self._view(project_id).runner is not None:
            return (self._view(project_id).state or ProjectStatus.STARTING)
        owner = self._view(project_id).external
        if owner is not None and self._view(project_id).lease is None and owner.runs_stack:
            return _status_named(live_status(ProjectStatus.STOPPED.value, owner))
        state = self._view(project_id).state
        if state is not None:
            return state
        try:
            return ProjectStatus(self._store.row(project_id).status)
        except (KeyError, ValueError):
            return ProjectStatus.STOPPED

    def phase(self, project_id: int) -> str | None:
        return self._view(project_id).phase

    def health(self, project_id: int) -> str | None:
        """While running: 'healthy' or what does not answer; else None. A stack another process runs: where."""
        owner = self._view(project_id).external
        if owner is not None and self._view(project_id).lease is None and self._view(project_id).runner is None \
                and owner.runs_stack:
            return f"in {owner.where()}"
        return self._view(project_id).health if self.state(project_id) == ProjectStatus.RUNNING else None

    def message(self, project_id: int) -> str | None:
        """The last error text (or None) as the user should read it."""
        record = self._view(project_id)
        if record.message_known:
            return record.message
        try:
            return self._store.row(project_id).last_error
        except KeyError:
            return None

    def log(self, project_id: int) -> StackLog:
        """The project's log; the same object across starts so earlier output stays readable."""
        record = self._p(project_id)
        if record.log is None:
            record.log = StackLog(self._log_file(project_id))
        return record.log

    def _log_file(self, project_id: int) -> Path:
        try:
            return named_log_file(self._paths, self._store.row(project_id))   # the file `cchub up` writes too
        except (KeyError, StoreError, ValueError):   # ValueError: a key that must not become a path
            return self._paths.logs_dir / f"project-{project_id}.log"

    @property
    def db_file(self) -> Path:
        return self._store.db_file

    def owner(self, project_id: int) -> Owner | None:
        """The other process that runs (or works on) the project, or None (also for a runner this process
        follows: its stack is shown and controlled here as this process's own)."""
        if self._view(project_id).lease is not None or self._view(project_id).runner is not None:
            return None
        return self._view(project_id).external

    def stack(self, project_id: int) -> CommandCenterStack | None:
        return self._view(project_id).stack

    def active_projects(self) -> list[int]:
        return [pid for pid, record in self._projects.items() if record.state in ACTIVE]

    def own_active_projects(self) -> list[int]:
        """The active projects whose stack this process runs, or whose runner it follows: not a `cchub up`
        in a terminal, which is its user's to stop."""
        return [pid for pid in self.active_projects() if self._runs_here(pid)]

    def _runs_here(self, project_id: int) -> bool:
        """This process runs the project's stack, or follows its runner."""
        record = self._view(project_id)
        return record.lease is not None or record.runner is not None

    def is_busy(self) -> bool:
        return bool(self.active_projects())

    # ----- launch ---------------------------------------------------------------------------------------

    def reconcile_on_launch(self) -> None:
        """Projects recorded as starting/running/stopping whose lease is free have no stack now: stopped. One
        whose lease another process holds (a `cchub up`) runs there, and is shown so."""
        for project in self._store.rows():
            assert project.id is not None
            owner = owner_of(self._paths.runtime_dir, project.data_key)
            if owner is not None and not owner.is_me and self._adopt(project.id, project.name, project.data_key,
                                                                     owner, since=project.last_started_at):
                continue
            if owner is not None and not owner.is_me:
                self._p(project.id).external = owner
                self._p(project.id).show(_status_of(project), None)
            elif project.status in {s.value for s in ACTIVE}:
                self._store.set_status(project.id, ProjectStatus.STOPPED)
                self._p(project.id).show(ProjectStatus.STOPPED, None)
            else:
                self._p(project.id).show(_status_of(project), project.last_error)

    def poll_others(self, projects: list[tuple[int, str, str, str | None]] | None = None) -> None:
        """Follow what other processes do: who holds each lease, and (given `projects` as (id, data key,
        status, last error) rows, read when the store changed) the states they recorded. Emits an event for
        each project whose state changed. Projects this process runs or is writing are left alone."""
        if not self._status_writer.idle:
            return   # our own writes are not in the store yet: what it says now is older than what we know
        rows = projects if projects is not None else [
            (pid, key, self.state(pid).value, self.message(pid)) for pid, key, _name in self._known_keys()]
        for pid, key, recorded, last_error in rows:
            mine = self._view(pid)
            if mine.lease is not None or mine.removing or mine.start_task is not None or mine.stop_task is not None \
                    or mine.runner is not None or mine.job is not None:
                continue
            owner = owner_of(self._paths.runtime_dir, key)
            if owner is not None and owner.is_me:
                owner = None
            if owner is not None and self._adopt(pid, self._name(pid), key, owner):
                continue
            before = (self.state(pid), self._view(pid).external, self.message(pid))
            if owner is not None:
                self._p(pid).external = owner
            else:
                self._p(pid).external = None
                status = _status_named(live_status(recorded, None))
                self._p(pid).show(status, last_error if status == ProjectStatus.ERROR else None)
            after = (self.state(pid), self._view(pid).external, self.message(pid))
            if after != before:
                self._emit(OrchestratorEvent(pid, after[0], None, after[2], self.health(pid)))

    def _known_keys(self) -> list[tuple[int, str, str]]:
        """(id, data key, name) of every project, read once until the list changes (forget_keys)."""
        if self._key_cache is None:
            self._key_cache = [(p.id, p.data_key, p.name) for p in self._store.rows() if p.id is not None]
        return self._key_cache

    def forget_keys(self) -> None:
        """The project list changed: re-read which data key belongs to which project at the next poll."""
        self._key_cache = None

    # ----- lifecycle ------------------------------------------------------------------------------------

    def request_start(self, project_id: int) -> asyncio.Task[None] | None:
        """Begin starting now (the state is `starting` when this returns) and return the start task; None
        while the project is starting, running or stopping. Must be called on the loop's thread."""
        owner = self.owner(project_id)
        if owner is not None and owner.runs_stack and owner_of(self._paths.runtime_dir, self._key(project_id)):
            self._refused(project_id, LeaseHeld(self._name(project_id), owner))
            return None
        if self.state(project_id) in ACTIVE or self._view(project_id).removing or self._view(project_id).upgrading:
            return None
        if self._view(project_id).job is not None:
            self._emit(OrchestratorEvent(project_id, self.state(project_id), None, self.message(project_id),
                                         None, notice=f"'{self._name(project_id)}' is {self._view(project_id).job}; "
                                         "start it once that is done."))
            return None
        if self.runners:
            return self._start_runner(project_id)
        try:
            self._take_lease(project_id, "starting")
        except LeaseHeld as exc:
            self._refused(project_id, exc)
            return None
        except KeyError:
            return None
        self._set_state(project_id, ProjectStatus.STARTING, phase=None, message=None)
        task = self.spawn(self._run_start(project_id))
        self._p(project_id).start_task = task
        return task

    def request_stop(self, project_id: int) -> asyncio.Task[None] | None:
        """Begin stopping now (cancelling a start in flight) and return the stop task (the one already
        running, if any); None when there is nothing to stop."""
        existing = self._view(project_id).stop_task
        if existing is not None and not existing.done():
            return existing
        run = self._view(project_id).runner
        if run is not None:
            return self._stop_runner(run)
        owner = self.owner(project_id)
        if owner is not None and owner.runs_stack:
            self._stop_elsewhere(project_id, owner)
            return None
        if self.state(project_id) not in (ProjectStatus.STARTING, ProjectStatus.RUNNING):
            return None
        self._set_state(project_id, ProjectStatus.STOPPING, phase=None, message=None)
        task = self.spawn(self._run_stop(project_id))
        self._p(project_id).stop_task = task
        return task

    def _take_lease(self, project_id: int, state: str) -> Lease:
        """This process's lease on the project (taken now if not held yet). LeaseHeld names another owner."""
        lease = self._view(project_id).lease
        if lease is None:
            project = self._store.row(project_id)
            lease = Lease.acquire(self._paths.runtime_dir, project.data_key, project.name, APP, state=state)
            self._p(project_id).lease = lease
            self._p(project_id).external = None
        else:
            lease.set_state(state)
        return lease

    def _key(self, project_id: int) -> str:
        return self._store.row(project_id).data_key

    def _name(self, project_id: int) -> str:
        try:
            return self._store.row(project_id).name
        except KeyError:
            return f"project {project_id}"

    def _stop_elsewhere(self, project_id: int, owner: Owner) -> None:
        """Stop a stack a `cchub up` runs, as `cchub stop` does: SIGTERM, on which it stops cleanly. Its
        lease going free then shows here (poll_others)."""
        name = self._name(project_id)
        if owner.kind != UP or owner.pid is None:
            notice = f"'{name}' runs in {owner.where()}: stop it there."
        else:
            try:
                os.kill(owner.pid, signal.SIGTERM)
                notice = f"Stopping '{name}' in {owner.where()}…"
            except ProcessLookupError:
                notice = f"'{name}' has just stopped in {owner.where()}."
            except PermissionError:
                notice = f"'{name}' runs in {owner.where()}, a process of another user: stop it there."
        self._emit(OrchestratorEvent(project_id, self.state(project_id), None, self.message(project_id),
                                     self.health(project_id), notice=notice))

    def _release_lease(self, project_id: int) -> None:
        record = self._projects.get(project_id)
        lease = record.lease if record is not None else None
        if record is not None and lease is not None:
            record.lease = None
            lease.release()

    def _refused(self, project_id: int, exc: LeaseHeld) -> None:
        """Another process owns the project: show it as it is there, and say so once; never an error here."""
        self._p(project_id).external = exc.owner
        self._emit(OrchestratorEvent(project_id, self.state(project_id), None, self.message(project_id),
                                     self.health(project_id), notice=str(exc)))

    def lease_for_job(self, project_id: int, job: str) -> Lease | None:
        """Hold the project's lease for a destructive job (remove, delete data, restore) while it is not
        running here; LeaseHeld when another process owns it. None: this process runs it and holds it."""
        if self._view(project_id).lease is not None:
            return None
        project = self._store.row(project_id)
        lease = Lease.acquire(self._paths.runtime_dir, project.data_key, project.name, APP, state=job)
        self._p(project_id).external = None
        return lease

    async def start(self, project_id: int) -> None:
        """Start the project's stack and return when it runs or has failed (then the state is error).
        A no-op while the project is starting, running or stopping."""
        task = self.request_start(project_id)
        run = self._view(project_id).runner
        if run is not None:   # a runner: until it runs, or has ended
            await asyncio.wait({run.settled})
        elif task is not None:
            await asyncio.wait({task})  # the caller being cancelled does not cancel the start
            await self.flush()

    async def stop(self, project_id: int) -> None:
        """Stop the project's stack (cancelling a start in flight) and return when nothing runs."""
        task = self.request_stop(project_id)
        if task is not None:
            await asyncio.wait({task})
            await self.flush()

    async def restart(self, project_id: int) -> None:
        """Stop the project's stack, then start it again (a Dagger service is bound into its dependents inside
        the session, so one service cannot be restarted alone: the whole stack is)."""
        await self.stop(project_id)
        if self.state(project_id) in (ProjectStatus.STOPPED, ProjectStatus.ERROR):
            await self.start(project_id)

    async def stop_all(self) -> None:
        """Stop every stack this process runs or follows (starting ones too) concurrently; returns when none
        runs. A `cchub up` in a terminal is left to its user."""
        ids = self.own_active_projects()
        if ids:
            await asyncio.gather(*(self.stop(pid) for pid in ids), return_exceptions=True)

    async def remove(self, project_id: int, *, delete_data: bool = False) -> None:
        """Forget a stopped project; with `delete_data` also empty its data volumes and delete its secrets
        and logs (the project folder is never touched). RuntimeError while the project is active;
        StackError (and nothing removed) when the data cannot be deleted."""
        if self.state(project_id) in ACTIVE or self._view(project_id).removing:
            owner = self.owner(project_id)
            raise RuntimeError(f"It runs in {owner.where()}: stop it there first." if owner is not None
                               else "Stop the project before removing it.")
        if self.runners and delete_data:   # emptying its volumes is an engine job: in a process of its own
            await self._remove_in_job(project_id)
            return
        try:
            lease = self.lease_for_job(project_id, "being removed")
        except LeaseHeld as exc:
            raise RuntimeError(str(exc)) from exc
        self._p(project_id).removing = True
        try:
            await self.flush()
            project = await asyncio.to_thread(self._store.get, project_id)
            if delete_data:
                from cchub_desktop.project_data import delete_project_data

                await delete_project_data(project, self.settings, self._paths, self.log(project_id))
            await asyncio.to_thread(functools.partial(self._store.remove, project_id, data_kept=not delete_data))
        finally:
            self._p(project_id).removing = False
            if lease is not None:
                lease.release()
        self._forget(project_id)

    def _forget(self, project_id: int) -> None:
        self.forget_keys()
        record = self._projects.pop(project_id, None)
        if record is not None and record.log is not None:
            record.log.close()

    async def _remove_in_job(self, project_id: int) -> None:
        """`cchub remove --delete-data`: it holds the lease, empties the volumes and forgets the project. Its
        failure (StackError) leaves the project listed, as the in-process path does."""
        self._p(project_id).removing = True
        try:
            await self.flush()
            name = self._name(project_id)
            try:
                await self._engine_job(project_id, "remove", [name, "--delete-data", "--yes"], "being removed")
            except StackError as exc:
                raise RuntimeError(exc.user_message) from exc
        finally:
            self._p(project_id).removing = False
        self._forget(project_id)

    async def _engine_job(self, project_id: int, verb: str, args: list[str], doing: str) -> dict[str, Any]:
        """Run `cchub VERB ARGS --json` for the project in a process of its own (engine_jobs.py); the lines
        it writes to the project's log file show in its log as they come. No start here until it is done.
        StackError saying why it failed."""
        if self._view(project_id).job is not None:
            raise StackError(f"'{self._name(project_id)}' is {self._view(project_id).job}; wait for that to finish.",
                             step=verb)
        self._p(project_id).job = doing
        log, tail = self.log(project_id), FileTail(self._log_file(project_id))   # what it writes from now on
        try:
            return await engine_jobs.run_job(self._paths, verb, args, lambda: log.take(tail.read()))
        finally:
            self._p(project_id).job = None

    def kept_data(self) -> list[KeptData]:
        """The data removed projects left, and old database volumes upgrades kept (kept_data.py)."""
        from cchub_desktop.kept_data import list_kept

        return list_kept(self._store, self._paths)

    async def delete_kept(self, key: str) -> str:
        """Delete one item of kept data (its key as kept_data() lists it) and say what was deleted: in a
        process of its own (`cchub kept-data --delete`), as every engine job of the window. StackError (or
        KeptDataError) saying why nothing was deleted."""
        if self.runners:
            result = await engine_jobs.run_job(self._paths, "kept-data", ["--delete", key, "--yes"], lambda: None)
            return str(result.get("message", "Deleted."))
        from cchub_desktop.kept_data import OLD_VOLUME, OLD_VOLUME_NAME, choose, delete_kept

        item = choose(await asyncio.to_thread(self.kept_data), key)
        match = OLD_VOLUME_NAME.fullmatch(item.volumes[0]) if item.kind == OLD_VOLUME else None
        log = StackLog(self._paths.log_file(match["key"] if match is not None else item.key))
        try:
            await delete_kept(item, self._store, self.settings, self._paths, log)
        finally:
            log.close()
        return f"Deleted {item.describe()}."

    async def backup(self, project_id: int) -> Path:
        """pg_dump the project's database into a new file in the backups folder and return it: a running stack
        inside its own session, a stopped or failed one in a session of its own. Raises StackError."""
        project = await asyncio.to_thread(self._store.get, project_id)
        busy = self.state(project_id) if not self._view(project_id).removing else ProjectStatus.STOPPING
        run = self._view(project_id).runner
        if run is not None and busy in ACTIVE:   # its runner's session holds the database: it takes the backup
            return await self._backup_in_runner(run, project.name, busy)
        owner = self.owner(project_id)
        if busy in ACTIVE and owner is not None:   # its session holds the database: never a second PostgreSQL
            raise StackError(f"{project.name} runs in {owner.where()}; back it up there, or here once it has "
                             "stopped.", step="backup")
        if self.runners:   # a stopped project's backup opens a session of its own: in a process of its own
            result = await self._engine_job(project_id, "backup", [project.name], "being backed up")
            return Path(str(result.get("path", "")))
        try:
            lease = None if busy in ACTIVE else self.lease_for_job(project_id, "being backed up")
        except LeaseHeld as exc:
            raise StackError(f"{exc} (or back it up from there)", step="backup") from exc
        try:
            from cchub_desktop.stack.backup import backup_project
            from cchub_desktop.stack.project_secrets import checked_secrets

            secrets = (None if busy in ACTIVE else
                       await asyncio.to_thread(checked_secrets, self._store, project, self._paths))
            return await backup_project(project, busy, self._view(project_id).stack, self.settings, self._paths,
                                        self.log(project_id), secrets)
        finally:
            if lease is not None:
                lease.release()

    async def upgrade_db(self, project_id: int, image: str | None = None) -> JobReport:
        """Move a stopped project's database to a newer PostgreSQL major (stack/db_upgrade.py). No start
        until it is done. StackError (NothingToUpgrade included) saying why not."""
        if self._view(project_id).upgrading or self._view(project_id).removing:
            raise StackError("This project's database is being upgraded or the project removed; wait for that "
                             "to finish.", step="upgrade")
        busy = self.state(project_id)
        target = image or self.settings.postgres_image
        if self.runners:
            if busy in ACTIVE:
                raise StackError("Stop the project first, then upgrade its database (its data volume is in use "
                                 "while it runs).", step="upgrade")
            self._p(project_id).upgrading = True
            try:
                report = await self._engine_job(project_id, "upgrade-db", [self._name(project_id), "--image",
                                                                          target], "having its database upgraded")
            finally:
                self._p(project_id).upgrading = False
            summary = str(report.get("summary", ""))
            if not report.get("upgraded"):
                raise StackError(summary or "There was nothing to upgrade.", step="upgrade")
            return JobReport(f"database upgraded to PostgreSQL {report.get('new_major')}", summary)
        from cchub_desktop.stack.db_upgrade import run_upgrade

        try:
            lease = None if busy in ACTIVE else self.lease_for_job(project_id, "having its database upgraded")
        except LeaseHeld as exc:
            raise StackError(f"{exc} Stop it there first, then upgrade its database.", step="upgrade") from exc
        self._p(project_id).upgrading = True
        try:
            result = await run_upgrade(self._store, project_id, busy.value, target, self.settings, self._paths,
                                       self.log(project_id))
            return JobReport(f"database upgraded to PostgreSQL {result.plan.new_major}", result.summary())
        finally:
            self._p(project_id).upgrading = False
            if lease is not None:
                lease.release()

    async def update_source(self, project_id: int) -> JobReport:
        """"Update CommandCenter": move the project's pin to the newest commit of Settings → Source's ref (a
        running project keeps its code; the new commit applies at its next start). Raises StackError."""
        project = await asyncio.to_thread(self._store.get, project_id)
        if self.runners:   # finding the newest commit opens an engine session: in a process of its own
            report = await self._engine_job(project_id, "update", [project.name], "being updated")
            message = str(report.get("message", ""))
        else:
            from cchub_desktop.stack.pin_update import update_project

            message = (await update_project(self._store, project, self.settings,
                                            running=self.state(project_id) in ACTIVE)).message()
        self.log(project_id).note(f"[hub] {message}")
        return JobReport(message, message)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run a coroutine as a task the orchestrator keeps referenced until it ends."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    async def aclose(self, *, stop_runners: bool = True, runner_wait: float = 2.5) -> None:
        """Stop every stack and wait for every background task (for quitting). Runners: with `stop_runners`
        each is asked to stop and waited for at most `runner_wait` seconds (it ends its stack on its own
        after that); without, they keep running for the next window to show."""
        if self._runners():
            await self._leave_runners(stop_runners, runner_wait)
        await self.stop_all()
        await self.flush()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for record in self._projects.values():
            if record.log is not None:
                record.log.close()

    # ----- internals ------------------------------------------------------------------------------------

    async def _run_start(self, project_id: int) -> None:
        from cchub_desktop.stack import CommandCenterConfig, CommandCenterStack
        from cchub_desktop.stack.db_image import pin_db_image
        from cchub_desktop.stack.project_secrets import checked_secrets

        stack: CommandCenterStack | None = None
        log = self.log(project_id)
        factory = self._factory or CommandCenterStack
        try:
            project = await asyncio.to_thread(self._store.get, project_id)
            # the secrets: made at the first start, then exactly those (stack/project_secrets.py)
            secrets = await asyncio.to_thread(checked_secrets, self._store, project, self._paths)
            # the database image: recorded at the first start, kept afterwards (stack/db_image.py)
            project = await asyncio.to_thread(pin_db_image, self._store, project, self.settings.postgres_image)
            config = CommandCenterConfig.from_project(project, self.settings, self._paths, secrets)
            if config.db_image is not None and config.db_image.note:
                log.note(config.db_image.note)
            conflicts = await asyncio.to_thread(ports.find_conflicts, config.host_ports())
            if conflicts:
                raise StackError(" ".join(c.message() for c in conflicts), step="ports")   # the whole story
            stack = factory(config, self.settings, log,
                                  on_phase=lambda phase: self._on_phase(project_id, phase))
            stack.on_source_pin = lambda commit: self._record_source_pin(project_id, config, commit)
            self._p(project_id).stack = stack
            log.note(f"[hub] starting {project.name}")
            await stack.start()
        except asyncio.CancelledError:
            # A stop arrived while starting: the stop task finishes the job.
            await self._close_stack(project_id, stack)
            raise
        except StackError as exc:
            await self._close_stack(project_id, stack)
            self._fail(project_id, exc.user_message, exc.detail, logged=exc.logged)
            return
        except KeyError:
            self._fail(project_id, "This project no longer exists. Refresh the list.", None)
            return
        except Exception as exc:  # a bug or an unmapped error: keep the app alive, say what happened
            await self._close_stack(project_id, stack)
            self._fail(project_id, f"The stack could not start: {exc}. The log has the details.",
                       traceback.format_exc())
            return
        finally:
            self._p(project_id).start_task = None
        assert stack is not None
        log.note(f"[hub] {project.name} is running at {stack.frontend_url}")
        self._p(project_id).health = HEALTHY
        self._set_state(project_id, ProjectStatus.RUNNING, phase=StackPhase.HEALTHY.value, message=None)
        self._p(project_id).watchers = [
            self.spawn(self._watch_session(project_id, stack)),
            self.spawn(watch_health(project.backend_port, project.frontend_port,
                                    lambda verdict: self._on_health(project_id, verdict), self.health_interval)),
        ]

    def _record_source_pin(self, project_id: int, config: CommandCenterConfig, commit: str) -> None:
        """(worker thread) A first start pinned its git source to `commit`: record it."""
        self._store.record_source_pin(project_id, config.source.git_url, config.source.git_ref, commit, None)

    async def _run_stop(self, project_id: int) -> None:
        try:
            record = self._p(project_id)
            start, record.start_task = record.start_task, None
            if start is not None and not start.done():
                start.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await start
            self._cancel_watchers(project_id)
            stack, record.stack = record.stack, None
            if stack is not None:
                try:
                    await stack.stop()
                except StackError as exc:
                    self._fail(project_id, exc.user_message, exc.detail, logged=exc.logged)
                    return
                except Exception as exc:
                    self._fail(project_id, f"The stack did not stop cleanly: {exc}.", traceback.format_exc())
                    return
            self.log(project_id).note("[hub] stopped")
            self._set_state(project_id, ProjectStatus.STOPPED, phase=None, message=None)
        finally:
            self._p(project_id).stop_task = None

    async def _watch_session(self, project_id: int, stack: CommandCenterStack) -> None:
        try:
            await stack.wait_closed()
        except Exception:
            self.log(project_id).note(f"[hub] session watcher failed:\n{traceback.format_exc()}")
        if self._view(project_id).stack is not stack or self.state(project_id) != ProjectStatus.RUNNING:
            return  # a stop closed it
        self._p(project_id).stack = None
        self._cancel_watchers(project_id, keep=asyncio.current_task())
        with contextlib.suppress(Exception):
            await stack.stop()
        reason = getattr(stack, "closed_reason", None)
        self._fail(project_id, "The Dagger session of this project ended unexpectedly, so its services "
                               "stopped. Check the engine (Check again, under the project list) and start the "
                               "project again."
                               + (f" ({reason})" if reason else ""), None)

    async def _close_stack(self, project_id: int, stack: CommandCenterStack | None) -> None:
        self._p(project_id).stack = None
        if stack is None:
            return
        # Shielded: cleanup must finish even though the start task is being cancelled.
        cleanup = self.spawn(stack.stop())
        try:
            await asyncio.shield(cleanup)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await cleanup
            raise
        except Exception:
            self.log(project_id).note(f"[hub] cleanup after a failed start failed:\n{traceback.format_exc()}")

    def _cancel_watchers(self, project_id: int, keep: asyncio.Task[Any] | None = None) -> None:
        record = self._p(project_id)
        watchers, record.watchers = record.watchers, []
        for task in watchers:
            if task is not keep:
                task.cancel()

    def _on_health(self, project_id: int, verdict: str) -> None:
        if self.state(project_id) != ProjectStatus.RUNNING:
            return
        self._p(project_id).health = verdict
        self.log(project_id).note(f"[hub] health: {verdict}")
        self._emit(OrchestratorEvent(project_id, ProjectStatus.RUNNING, self.phase(project_id), None, verdict))

    def _fail(self, project_id: int, message: str, detail: str | None, *, logged: bool = False) -> None:
        """Record the failure. `logged`: the stack already wrote the detail (and the engine the output the
        message quotes), so the log gets the message's first line only: every line once."""
        log = self.log(project_id)
        log.note(f"[hub] error: {message.split(chr(10), 1)[0] if logged else message}")
        if detail and not logged:
            log.note(f"[hub] detail: {detail.rstrip()}")
        self._p(project_id).detailed = bool(detail) or logged
        self._set_state(project_id, ProjectStatus.ERROR, phase=None, message=message)

    def _on_phase(self, project_id: int, phase: StackPhase | str) -> None:
        if self.state(project_id) != ProjectStatus.STARTING:
            return
        value = phase.value if isinstance(phase, StackPhase) else str(phase)
        self._p(project_id).phase = value
        self._emit(OrchestratorEvent(project_id, ProjectStatus.STARTING, value, None))

    def _set_state(self, project_id: int, status: ProjectStatus, *, phase: str | None,
                   message: str | None, record: bool = True) -> None:
        """`record`: write it to the store (a runner records its own states)."""
        entry = self._p(project_id)
        entry.show(status, message)
        entry.phase = phase
        if record:
            self._status_writer.record(project_id, status, message)
        if status in ACTIVE and entry.lease is not None:
            entry.lease.set_state(status.value)
        elif status not in ACTIVE:
            self._release_lease(project_id)   # nothing of ours runs: another process may take it now
        self._emit(OrchestratorEvent(project_id, status, phase, message, self.health(project_id)))

    def started_at(self, project_id: int) -> datetime | None:
        """When the project last became running in this process (what the store records), else None."""
        return self._status_writer.running_since.get(project_id)

    def has_details(self, project_id: int) -> bool:
        """The project's last failure left more in its log than its message (a detail, an engine's output)."""
        return self._view(project_id).detailed

    async def flush(self) -> None:
        """Wait until every state change so far is in the store."""
        await self._status_writer.flush()

    def _emit(self, event: OrchestratorEvent) -> None:
        for cb in list(self._subscribers):
            try:
                cb(event)
            except Exception:
                logger.exception("an orchestrator event subscriber failed")

    # ----- runners (runner_control.py) -------------------------------------------------------------------

    def _start_runner(self, project_id: int) -> asyncio.Task[None] | None:
        """Starting at once; the runner's process is started off the loop (a fork and exec can take tens of
        milliseconds on a busy machine), then followed."""
        try:
            known = {pid: (key, name) for pid, key, name in self._known_keys()}
        except StoreError:
            return None
        if project_id not in known:
            self.forget_keys()   # added since the list was read: read it again once
            known = {pid: (key, name) for pid, key, name in self._known_keys()}
            if project_id not in known:
                return None
        key, name = known[project_id]
        owner = owner_of(self._paths.runtime_dir, key)
        if owner is not None and not owner.is_me:
            if not self._adopt(project_id, name, key, owner):
                self._refused(project_id, LeaseHeld(name, owner))
            return None
        run = RunnerRun(project_id, name, key, asyncio.get_running_loop())
        self._status_writer.running_since.pop(project_id, None)
        run.tail = FileTail(self._log_file(project_id))   # from before the runner writes its first line
        self._p(project_id).runner = run
        self._p(project_id).external = None
        self._p(project_id).health = None
        self._set_state(project_id, ProjectStatus.STARTING, phase=None, message=None, record=False)
        run.follow = self.spawn(self._launch_and_follow(run))
        return run.follow

    async def _launch_and_follow(self, run: RunnerRun) -> None:
        run.launching = asyncio.ensure_future(
            asyncio.to_thread(runner_control.launch, self._paths, run.name, run.data_key))
        try:
            run.proc = await asyncio.shield(run.launching)   # a quit meanwhile still learns its pid
        except OSError as exc:
            self._p(run.project_id).runner = None
            for future in (run.settled, run.ended):
                if not future.done():
                    future.set_result(None)
            self._fail(run.project_id, f"The project's runner could not be started: {exc}. Reinstall the app "
                                       "if this repeats.", None)
            return
        run.pid = run.proc.pid
        if run.stopping:   # Stop was pressed while it was being started
            runner_control.ask_to_stop(run.pid)
        await self._follow_runner(run)

    def _adopt(self, project_id: int, name: str, key: str, owner: Owner, since: datetime | None = None) -> bool:
        """A runner (started by an earlier window, or by this one's predecessor) runs the project: follow it
        as this process's own. False for any other owner."""
        if not self.runners or owner.kind != RUNNER or owner.pid is None or not owner.runs_stack:
            return False
        if self._view(project_id).runner is not None:
            return True
        run = RunnerRun(project_id, name, key, asyncio.get_running_loop(), pid=owner.pid)
        if since is not None and owner.state == ProjectStatus.RUNNING.value:
            self._status_writer.running_since[project_id] = since   # what its runner recorded
        self._p(project_id).runner = run
        self._p(project_id).external = None
        self._apply_owner(run, owner)
        run.follow = self.spawn(self._follow_runner(run))
        return True

    def _apply_owner(self, run: RunnerRun, owner: Owner) -> None:
        """Show what the runner published in its lease; an event when that changed."""
        status = _status_named(owner.state or ProjectStatus.STARTING.value)
        if status == ProjectStatus.STOPPING:
            run.stopping = True   # asked by another client (`cchub stop`): its end is a stop, even a forced one
        phase = owner.phase if status == ProjectStatus.STARTING else None
        if status == ProjectStatus.RUNNING:
            phase = StackPhase.HEALTHY.value
            if self._view(run.project_id).state != ProjectStatus.RUNNING:   # became running: since when
                self._status_writer.running_since.setdefault(run.project_id, datetime.now(UTC))
            if not run.settled.done():
                run.settled.set_result(None)
        health = owner.health if status == ProjectStatus.RUNNING else None
        if run.stopping and status != ProjectStatus.STOPPING:
            status, phase = ProjectStatus.STOPPING, None   # asked to stop: it is stopping, whatever it said last
        if (status, phase, health) == (self._view(run.project_id).state, self._view(run.project_id).phase,
                                       self._view(run.project_id).health if health is not None else None):
            return
        if health is not None:
            self._p(run.project_id).health = health
        else:
            self._p(run.project_id).health = None
        self._set_state(run.project_id, status, phase=phase, message=None, record=False)

    async def _follow_runner(self, run: RunnerRun) -> None:
        """Until the runner ends: show its state, phase and health from its lease; then what it recorded,
        or that it stopped unexpectedly."""
        log = self.log(run.project_id)
        tail = run.tail or FileTail(self._log_file(run.project_id))
        try:
            while True:
                log.take(tail.read())   # what the runner writes to the log file, into the window's log
                owner = owner_of(self._paths.runtime_dir, run.data_key)
                if owner is not None and owner.pid == run.pid:
                    self._apply_owner(run, owner)
                elif not run.alive(owner):
                    break
                await asyncio.sleep(FOLLOW_S)
            log.take(tail.read())
            await self._runner_ended(run)
        finally:
            if self._view(run.project_id).runner is run:
                self._p(run.project_id).runner = None
            if not run.settled.done():
                run.settled.set_result(None)
            if not run.ended.done():
                run.ended.set_result(None)

    async def _runner_ended(self, run: RunnerRun) -> None:
        code = run.proc.wait() if run.proc is not None else None   # it has exited: no wait
        pid = run.project_id
        try:
            project = await asyncio.to_thread(self._store.row, pid)
        except (KeyError, StoreError):
            return
        self._p(pid).health = None
        if project.status == ProjectStatus.ERROR.value:
            self._p(pid).detailed = True   # the runner wrote the detail to the log
            self._set_state(pid, ProjectStatus.ERROR, phase=None, message=project.last_error, record=False)
        elif run.stopping or code == 0 or (code is None and project.status == ProjectStatus.STOPPED.value):
            # a runner ended past the stop's bound could not record it: the store says so now
            self._set_state(pid, ProjectStatus.STOPPED, phase=None, message=None,
                            record=project.status != ProjectStatus.STOPPED.value)
        else:
            lines = runner_control.last_lines([runner_control.early_output_file(self._paths, run.data_key),
                                               self._log_file(pid)])
            how = runner_control.exit_words(code) if code is not None else "its process ended"
            message = (f"'{run.name}' stopped unexpectedly ({how}). Start it again; the log has what it did last"
                       + (f": {lines[-1].removeprefix('cchub: ')}" if lines else "."))
            self.log(pid).note(f"[hub] error: {message}")
            self._p(pid).detailed = bool(lines)
            self._set_state(pid, ProjectStatus.ERROR, phase=None, message=message)

    def _stop_runner(self, run: RunnerRun) -> asyncio.Task[None]:
        existing = self._view(run.project_id).stop_task
        if existing is not None and not existing.done():
            return existing
        run.stopping = True
        self._set_state(run.project_id, ProjectStatus.STOPPING, phase=None, message=None, record=False)
        task = self.spawn(self._run_stop_runner(run))
        self._p(run.project_id).stop_task = task
        return task

    async def _run_stop_runner(self, run: RunnerRun) -> None:
        """Ask the runner to stop; past the bound, end it and everything it started, and say so."""
        try:
            if run.pid is not None:   # else it is being started: asked as soon as it is (_launch_and_follow)
                runner_control.ask_to_stop(run.pid)
            done, _ = await asyncio.wait({run.ended}, timeout=self.runner_stop_bound)
            if not done and run.pid is not None:
                ended = runner_control.end(run.pid)
                await asyncio.wait({run.ended})
                if ended:   # said once the log is no longer followed: the line is not read back
                    text = (f"'{run.name}' did not stop within {self.runner_stop_bound:.0f} s; its runner and its "
                            f"Dagger session were ended (pid {run.pid}).")
                    self.log(run.project_id).note(f"[hub] {text}")
                    self._emit(OrchestratorEvent(run.project_id, self.state(run.project_id), None, None,
                                                 None, notice=text))
        finally:
            self._p(run.project_id).stop_task = None

    async def _backup_in_runner(self, run: RunnerRun, name: str, busy: ProjectStatus) -> Path:
        """Ask the runner to pg_dump in its session (runner_requests.py) and wait for its reply."""
        if busy != ProjectStatus.RUNNING or run.pid is None:
            raise StackError(f"{name} is {busy.value}; back it up once it runs or has stopped.", step="backup")
        if not runner_requests.SUPPORTED:
            raise StackError(f"{name} runs in its runner; back it up once it has stopped.", step="backup")
        reply = await self._ask_runner(run, name, "backup", "the backup", "backup")
        if "path" not in reply:
            raise StackError(str(reply.get("error") or "The backup failed; the log has the details."),
                             step="backup")
        return Path(str(reply["path"]))

    async def _ask_runner(self, run: RunnerRun, name: str, job: str, what: str, step: str) -> dict[str, Any]:
        """Send `job` to the project's runner and wait for its reply (`_ask_stack_process`)."""
        assert run.pid is not None
        return await self._ask_stack_process(run.data_key, run.pid, name, job, what, step, run.ended.done)

    async def _ask_stack_process(self, data_key: str, pid: int, name: str, job: str, what: str, step: str,
                                 ended: Callable[[], bool]) -> dict[str, Any]:
        """Send `job` to the process `pid` that runs the project's stack (a runner or a `cchub up`:
        runner_requests.py) and wait for its reply. StackError when it cannot be asked, ends first or does not
        answer within BACKUP_WAIT_S."""
        try:
            request = runner_requests.send(self._paths.runtime_dir, data_key, pid, job)
        except OSError as exc:
            raise StackError(f"{name}'s runner could not be asked for {what} ({exc}); try again.",
                             step=step) from None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BACKUP_WAIT_S
        while (reply := runner_requests.read_reply(self._paths.runtime_dir, data_key, request, take=True)) is None:
            if ended():
                raise StackError(f"{name} stopped before {what} was done.", step=step)
            if loop.time() > deadline:
                raise StackError(f"{name}'s runner did not do {what} within {BACKUP_WAIT_S / 60:.0f} "
                                 "minutes; its log may say why.", step=step)
            await asyncio.sleep(FOLLOW_S)
        return reply

    async def restart_service(self, project_id: int, service: str) -> str:
        """Restart one service of a running stack (and those that bind it) in the stack's own session, wherever
        it runs (this process, a runner, a `cchub up`); returns what was done, in a line. StackError saying why
        not."""
        project = await asyncio.to_thread(self._store.get, project_id)
        if self.state(project_id) != ProjectStatus.RUNNING:
            raise StackError(f"{project.name} is not running: start it instead.", step="restart")
        stack = self._view(project_id).stack
        if stack is not None:
            return await stack.restart_service(service)
        run, owner = self._view(project_id).runner, self.owner(project_id)
        pid = run.pid if run is not None else owner.pid if owner is not None and owner.kind in (UP, RUNNER) else None
        if pid is None or not runner_requests.SUPPORTED:
            raise StackError(f"{project.name}'s {service} cannot be restarted from here; restart the project.",
                             step="restart")
        ended = run.ended.done if run is not None else (lambda: self.owner(project_id) is None)
        job = runner_requests.RESTART_JOB + service
        reply = await self._ask_stack_process(project.data_key, pid, project.name, job,
                                              f"the restart of its {service}", "restart", ended)
        if "done" not in reply:
            raise StackError(str(reply.get("error") or "The restart failed; the log has the details."),
                             step="restart")
        return str(reply["done"])

    async def _leave_runners(self, stop: bool, wait: float) -> None:
        runs = self._runners()
        if stop:
            for run in runs:
                if run.pid is None and run.launching is not None:   # being started: it is, then stopped
                    with contextlib.suppress(OSError, asyncio.TimeoutError):
                        run.pid = (await asyncio.wait_for(asyncio.shield(run.launching), wait)).pid
                if run.pid is not None:
                    run.stopping = True
                    runner_control.ask_to_stop(run.pid)
            pending = {run.ended for run in runs}
            if pending:
                await asyncio.wait(pending, timeout=wait)
        for run in runs:
            if run.follow is not None:
                run.follow.cancel()
            self._p(run.project_id).runner = None
            self._p(run.project_id).state = None   # what it becomes is the runner's to record

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task failed", exc_info=task.exception())


def _status_named(value: str) -> ProjectStatus:
    try:
        return ProjectStatus(value)
    except ValueError:
        return ProjectStatus.STOPPED


def _status_of(project: StoredProject) -> ProjectStatus:
    try:
        return ProjectStatus(project.status)
    except ValueError:
        return ProjectStatus.STOPPED

