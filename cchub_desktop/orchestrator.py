"""Lifecycle of every project's CommandCenter stack: one operation per project at a time, plain-callback events.

States: stopped -> starting -> running -> stopping -> stopped, and error (with the last error text) from any
step; error -> starting on retry. Every state change is persisted in the store. No Qt here: the UI adapts the
callbacks to Qt signals in ui/bridge.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cchub_desktop import ports
from cchub_desktop.health_monitor import HEALTH_INTERVAL, HEALTHY, watch_health
from cchub_desktop.lifecycle_events import ACTIVE, PHASE_TEXT, OrchestratorEvent, phase_text
from cchub_desktop.paths import AppPaths
from cchub_desktop.project_data import delete_project_data
from cchub_desktop.settings import AppSettings
from cchub_desktop.stack import CommandCenterConfig, CommandCenterStack, StackError, StackLog, StackPhase
from cchub_desktop.stack.db_image import pin_db_image
from cchub_desktop.status_writer import StatusWriter
from cchub_desktop.store import Project, ProjectStatus, ProjectStore, StoreError

if TYPE_CHECKING:
    from cchub_desktop.stack.source_pin import UpdateResult

logger = logging.getLogger(__name__)
__all__ = ["ACTIVE", "PHASE_TEXT", "Orchestrator", "OrchestratorEvent", "phase_text"]

EventCallback = Callable[[OrchestratorEvent], None]
StackFactory = Callable[..., CommandCenterStack]


class Orchestrator:
    """Owns the running stacks. All methods run on the asyncio loop's thread."""

    def __init__(self, store: ProjectStore, settings: AppSettings, paths: AppPaths,
                 stack_factory: StackFactory = CommandCenterStack) -> None:
        self._store = store
        self.settings = settings
        self._paths = paths
        self._factory = stack_factory
        self._subscribers: list[EventCallback] = []
        self._states: dict[int, ProjectStatus] = {}
        self._phases: dict[int, str | None] = {}
        self._messages: dict[int, str | None] = {}
        self._logs: dict[int, StackLog] = {}
        self._stacks: dict[int, CommandCenterStack] = {}
        self._start_tasks: dict[int, asyncio.Task[None]] = {}
        self._stop_tasks: dict[int, asyncio.Task[None]] = {}
        self._watchers: dict[int, list[asyncio.Task[None]]] = {}
        self._health: dict[int, str] = {}
        self.health_interval = HEALTH_INTERVAL
        self._tasks: set[asyncio.Task[Any]] = set()
        self._removing: set[int] = set()
        self._status_writer = StatusWriter(store, self.spawn)

    # ----- events and queries -------------------------------------------------------------------------

    def subscribe(self, cb: EventCallback) -> None:
        self._subscribers.append(cb)

    def unsubscribe(self, cb: EventCallback) -> None:
        with contextlib.suppress(ValueError):
            self._subscribers.remove(cb)

    def state(self, project_id: int) -> ProjectStatus:
        if project_id in self._states:
            return self._states[project_id]
        try:
            return ProjectStatus(self._store.get(project_id).status)
        except (KeyError, ValueError):
            return ProjectStatus.STOPPED

    def phase(self, project_id: int) -> str | None:
        return self._phases.get(project_id)

    def health(self, project_id: int) -> str | None:
        """While running: 'healthy' or what does not answer; else None."""
        return self._health.get(project_id) if self.state(project_id) == ProjectStatus.RUNNING else None

    def message(self, project_id: int) -> str | None:
        """The last error text (or None) as the user should read it."""
        if project_id in self._messages:
            return self._messages[project_id]
        try:
            return self._store.get(project_id).last_error
        except KeyError:
            return None

    def log(self, project_id: int) -> StackLog:
        """The project's log; the same object across starts so earlier output stays readable."""
        log = self._logs.get(project_id)
        if log is None:
            log = StackLog(self._log_file(project_id))
            self._logs[project_id] = log
        return log

    def _log_file(self, project_id: int) -> Path:
        try:
            name = self._store.get(project_id).slug
        except (KeyError, StoreError):
            name = f"project-{project_id}"
        return self._paths.logs_dir / f"{name}.log"

    def stack(self, project_id: int) -> CommandCenterStack | None:
        return self._stacks.get(project_id)

    def active_projects(self) -> list[int]:
        return [pid for pid, st in self._states.items() if st in ACTIVE]

    def is_busy(self) -> bool:
        return bool(self.active_projects())

    # ----- launch ---------------------------------------------------------------------------------------

    def reconcile_on_launch(self) -> None:
        """Projects recorded as starting/running/stopping by an earlier run have no stack now: stopped."""
        for project in self._store.list():
            assert project.id is not None
            if project.status in {s.value for s in ACTIVE}:
                self._store.set_status(project.id, ProjectStatus.STOPPED)
                self._states[project.id] = ProjectStatus.STOPPED
                self._messages[project.id] = None
            else:
                self._states[project.id] = _status_of(project)
                self._messages[project.id] = project.last_error

    # ----- lifecycle ------------------------------------------------------------------------------------

    def request_start(self, project_id: int) -> asyncio.Task[None] | None:
        """Begin starting now (the state is `starting` when this returns) and return the start task; None
        while the project is starting, running or stopping. Must be called on the loop's thread."""
        if self.state(project_id) in ACTIVE or project_id in self._removing:
            return None
        self._set_state(project_id, ProjectStatus.STARTING, phase=None, message=None)
        task = self.spawn(self._run_start(project_id))
        self._start_tasks[project_id] = task
        return task

    def request_stop(self, project_id: int) -> asyncio.Task[None] | None:
        """Begin stopping now (cancelling a start in flight) and return the stop task (the one already
        running, if any); None when there is nothing to stop."""
        existing = self._stop_tasks.get(project_id)
        if existing is not None and not existing.done():
            return existing
        if self.state(project_id) not in (ProjectStatus.STARTING, ProjectStatus.RUNNING):
            return None
        self._set_state(project_id, ProjectStatus.STOPPING, phase=None, message=None)
        task = self.spawn(self._run_stop(project_id))
        self._stop_tasks[project_id] = task
        return task

    async def start(self, project_id: int) -> None:
        """Start the project's stack and return when it runs or has failed (then the state is error).
        A no-op while the project is starting, running or stopping."""
        task = self.request_start(project_id)
        if task is not None:
            await asyncio.wait({task})  # the caller being cancelled does not cancel the start
            await self.flush()

    async def stop(self, project_id: int) -> None:
        """Stop the project's stack (cancelling a start in flight) and return when nothing runs."""
        task = self.request_stop(project_id)
        if task is not None:
            await asyncio.wait({task})
            await self.flush()

    async def stop_all(self) -> None:
        """Stop every stack (starting ones too) concurrently; returns when none runs."""
        ids = [pid for pid, st in self._states.items() if st in ACTIVE]
        if ids:
            await asyncio.gather(*(self.stop(pid) for pid in ids), return_exceptions=True)

    async def remove(self, project_id: int, *, delete_data: bool = False) -> None:
        """Forget a stopped project; with `delete_data` also empty its data volumes and delete its secrets
        and logs (the project folder is never touched). RuntimeError while the project is active;
        StackError (and nothing removed) when the data cannot be deleted."""
        if self.state(project_id) in ACTIVE or project_id in self._removing:
            raise RuntimeError("Stop the project before removing it.")
        self._removing.add(project_id)
        try:
            await self.flush()
            project = await asyncio.to_thread(self._store.get, project_id)
            if delete_data:
                await delete_project_data(project, self.settings, self._paths, self.log(project_id))
            await asyncio.to_thread(self._store.remove, project_id)
        finally:
            self._removing.discard(project_id)
        for table in (self._states, self._phases, self._messages):
            table.pop(project_id, None)
        log = self._logs.pop(project_id, None)
        if log is not None:
            log.close()

    async def backup(self, project_id: int) -> Path:
        """pg_dump the project's database into a new file in the backups folder and return it: a running stack
        inside its own session, a stopped or failed one in a session of its own. Raises StackError."""
        from cchub_desktop.stack.backup import backup_project

        project = await asyncio.to_thread(self._store.get, project_id)
        busy = self.state(project_id) if project_id not in self._removing else ProjectStatus.STOPPING
        return await backup_project(project, busy, self._stacks.get(project_id), self.settings, self._paths,
                                    self.log(project_id))

    async def update_source(self, project_id: int) -> UpdateResult:
        """"Update CommandCenter": move the project's pin to the newest commit of Settings → Source's ref (a
        running project keeps its code; the new commit applies at its next start). Raises StackError."""
        from cchub_desktop.stack.source_pin import update_project

        project = await asyncio.to_thread(self._store.get, project_id)
        result = await update_project(self._store, project, self.settings,
                                      running=self.state(project_id) in ACTIVE)
        self.log(project_id).note(f"[hub] {result.message()}")
        return result

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run a coroutine as a task the orchestrator keeps referenced until it ends."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    async def aclose(self) -> None:
        """Stop every stack and wait for every background task (for quitting)."""
        await self.stop_all()
        await self.flush()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for log in self._logs.values():
            log.close()

    # ----- internals ------------------------------------------------------------------------------------

    async def _run_start(self, project_id: int) -> None:
        stack: CommandCenterStack | None = None
        log = self.log(project_id)
        try:
            project = await asyncio.to_thread(self._store.get, project_id)
            # the database image: recorded at the first start, kept afterwards (stack/db_image.py)
            project = await asyncio.to_thread(pin_db_image, self._store, project, self.settings.postgres_image)
            config = CommandCenterConfig.from_project(project, self.settings, self._paths)
            if config.db_image is not None and config.db_image.note:
                log.note(config.db_image.note)
            conflicts = await asyncio.to_thread(ports.find_conflicts, config.host_ports())
            if conflicts:
                raise StackError(" ".join(c.message() for c in conflicts),
                                 detail="port check before start", step="ports")
            stack = self._factory(config, self.settings, log,
                                  on_phase=lambda phase: self._on_phase(project_id, phase))
            stack.on_source_pin = lambda commit: self._record_source_pin(project_id, config, commit)
            self._stacks[project_id] = stack
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
            self._start_tasks.pop(project_id, None)
        assert stack is not None
        log.note(f"[hub] {project.name} is running at {stack.frontend_url}")
        self._health[project_id] = HEALTHY
        self._set_state(project_id, ProjectStatus.RUNNING, phase=StackPhase.HEALTHY.value, message=None)
        self._watchers[project_id] = [
            self.spawn(self._watch_session(project_id, stack)),
            self.spawn(watch_health(project.backend_port, project.frontend_port,
                                    lambda verdict: self._on_health(project_id, verdict), self.health_interval)),
        ]

    def _record_source_pin(self, project_id: int, config: CommandCenterConfig, commit: str) -> None:
        """(worker thread) A first start pinned its git source to `commit`: record it."""
        self._store.record_source_pin(project_id, config.source.git_url, config.source.git_ref, commit, None)

    async def _run_stop(self, project_id: int) -> None:
        try:
            start = self._start_tasks.pop(project_id, None)
            if start is not None and not start.done():
                start.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await start
            self._cancel_watchers(project_id)
            stack = self._stacks.pop(project_id, None)
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
            self._stop_tasks.pop(project_id, None)

    async def _watch_session(self, project_id: int, stack: CommandCenterStack) -> None:
        try:
            await stack.wait_closed()
        except Exception:
            self.log(project_id).note(f"[hub] session watcher failed:\n{traceback.format_exc()}")
        if self._stacks.get(project_id) is not stack or self.state(project_id) != ProjectStatus.RUNNING:
            return  # a stop closed it
        self._stacks.pop(project_id, None)
        self._cancel_watchers(project_id, keep=asyncio.current_task())
        with contextlib.suppress(Exception):
            await stack.stop()
        reason = getattr(stack, "closed_reason", None)
        self._fail(project_id, "The Dagger session of this project ended unexpectedly, so its services "
                               "stopped. Check the engine (Check again, under the project list) and start the "
                               "project again."
                               + (f" ({reason})" if reason else ""), None)

    async def _close_stack(self, project_id: int, stack: CommandCenterStack | None) -> None:
        self._stacks.pop(project_id, None)
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
        for task in self._watchers.pop(project_id, []):
            if task is not keep:
                task.cancel()

    def _on_health(self, project_id: int, verdict: str) -> None:
        if self.state(project_id) != ProjectStatus.RUNNING:
            return
        self._health[project_id] = verdict
        self.log(project_id).note(f"[hub] health: {verdict}")
        self._emit(OrchestratorEvent(project_id, ProjectStatus.RUNNING, self.phase(project_id), None, verdict))

    def _fail(self, project_id: int, message: str, detail: str | None, *, logged: bool = False) -> None:
        """Record the failure. `logged`: the stack already wrote the detail (and the engine the output the
        message quotes), so the log gets the message's first line only: every line once."""
        log = self.log(project_id)
        log.note(f"[hub] error: {message.split(chr(10), 1)[0] if logged else message}")
        if detail and not logged:
            log.note(f"[hub] detail: {detail.rstrip()}")
        self._set_state(project_id, ProjectStatus.ERROR, phase=None, message=message)

    def _on_phase(self, project_id: int, phase: StackPhase | str) -> None:
        if self.state(project_id) != ProjectStatus.STARTING:
            return
        value = phase.value if isinstance(phase, StackPhase) else str(phase)
        self._phases[project_id] = value
        self._emit(OrchestratorEvent(project_id, ProjectStatus.STARTING, value, None))

    def _set_state(self, project_id: int, status: ProjectStatus, *, phase: str | None,
                   message: str | None) -> None:
        self._states[project_id] = status
        self._phases[project_id] = phase
        self._messages[project_id] = message
        self._status_writer.record(project_id, status, message)
        self._emit(OrchestratorEvent(project_id, status, phase, message, self.health(project_id)))

    async def flush(self) -> None:
        """Wait until every state change so far is in the store."""
        await self._status_writer.flush()

    def _emit(self, event: OrchestratorEvent) -> None:
        for cb in list(self._subscribers):
            try:
                cb(event)
            except Exception:
                logger.exception("an orchestrator event subscriber failed")

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task failed", exc_info=task.exception())


def _status_of(project: Project) -> ProjectStatus:
    try:
        return ProjectStatus(project.status)
    except ValueError:
        return ProjectStatus.STOPPED

