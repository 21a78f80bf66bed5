"""EXPERIMENT for `loop_lag --sessions-off-loop`, not product code: every Dagger session on one worker thread.

The dagger-io SDK does a lot of synchronous work on whatever loop runs it: each chained call builds a cattrs
converter (~0.7 ms, ~130 per start+stop), each connection builds an SSL context (~20-35 ms, certifi's CA file
parsed) and the GraphQL schema from introspection (3 ms with the fake engine's schema, ~35 ms with the real
0.21 schema); the recipe graph is ~30 ms of such calls (the stack now builds it in a worker thread). On the
app's qasync loop the rest runs on the UI thread. This experiment runs each CommandCenterStack's coroutines on
an asyncio loop in one worker thread and hops the phase callbacks back to the caller's loop; the orchestrator
and the UI do not change. It is installed by replacing the Orchestrator that app.py uses with one whose stack
factory wraps the real stack. Measured: the loop's p50 drops, its p99 does not (the UI thread then waits for
the GIL instead), see README.md.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class SessionThread:
    """One daemon thread running an asyncio loop, started on first use."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                threading.Thread(target=serve, name="dagger-sessions", daemon=True).start()
                ready.wait()
                self._loop = loop
            return self._loop

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await `coro` running on the session thread. Cancelling the caller cancels it there and waits
        until it has unwound (its cleanup runs there), like awaiting it on the caller's loop would."""
        caller = asyncio.get_running_loop()
        outcome: asyncio.Future[T] = caller.create_future()
        box: list[asyncio.Task[T]] = []

        def deliver(task: asyncio.Task[T]) -> None:
            if outcome.done():
                return
            if task.cancelled():
                outcome.cancel()
            elif (exc := task.exception()) is not None:
                outcome.set_exception(exc)
            else:
                outcome.set_result(task.result())

        def begin() -> None:
            task = asyncio.ensure_future(coro)
            box.append(task)
            task.add_done_callback(lambda t: caller.call_soon_threadsafe(deliver, t))

        engine = self.loop()
        engine.call_soon_threadsafe(begin)
        try:
            return await asyncio.shield(outcome)
        except asyncio.CancelledError:
            engine.call_soon_threadsafe(lambda: box[0].cancel() if box else None)
            while not outcome.done():
                try:
                    await asyncio.wait({outcome})
                except asyncio.CancelledError:
                    continue
            if not outcome.cancelled():
                outcome.exception()  # retrieved: the cancellation is what the caller gets
            raise


class ThreadedStack:
    """A CommandCenterStack whose start/stop/wait_closed run on the session thread."""

    def __init__(self, sessions: SessionThread, config: Any, settings: Any, log: Any,
                 on_phase: Callable[[Any], None] | None = None, **kwargs: Any) -> None:
        from cchub_desktop.stack import CommandCenterStack

        caller = asyncio.get_running_loop()

        def hop(phase: Any) -> None:
            if on_phase is not None:
                caller.call_soon_threadsafe(on_phase, phase)

        self._sessions = sessions
        self._stack = CommandCenterStack(config, settings, log, hop, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stack, name)

    async def start(self) -> None:
        await self._sessions.run(self._stack.start())

    async def stop(self) -> None:
        await self._sessions.run(self._stack.stop())

    async def wait_closed(self) -> None:
        await self._sessions.run(self._stack.wait_closed())


def install() -> None:
    """Make the AppController build its Orchestrator with ThreadedStack as the stack factory (app.py imports
    the Orchestrator from its module when the window attaches it, so the module's name is the one to patch)."""
    import cchub_desktop.orchestrator as orchestrator_module

    sessions = SessionThread()
    base = orchestrator_module.Orchestrator

    class OffLoopOrchestrator(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["stack_factory"] = lambda *a, **k: ThreadedStack(sessions, *a, **k)
            super().__init__(*args, **kwargs)

    setattr(orchestrator_module, "Orchestrator", OffLoopOrchestrator)  # noqa: B010
