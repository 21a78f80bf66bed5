"""Garbage made in worker threads is freed on the GUI thread while the app's collector guard runs."""

from __future__ import annotations

import gc
import threading
import weakref

from pytestqt.qtbot import QtBot

from cchub_desktop.ui.gc_guard import GuiThreadGarbageCollector


class Node:
    peer: Node | None = None


def make_cycles(freed_in: list[str], count: int = 3000) -> None:
    for _ in range(count):
        a, b = Node(), Node()
        a.peer, b.peer = b, a  # only the cyclic collector frees these
        weakref.finalize(a, lambda: freed_in.append(threading.current_thread().name))


def in_worker(freed_in: list[str]) -> None:
    worker = threading.Thread(target=make_cycles, args=(freed_in,), name="worker")
    worker.start()
    worker.join()


def test_without_the_guard_a_worker_thread_frees_cycles() -> None:
    """The hazard the guard exists for: the interpreter's own collection runs in the allocating thread."""
    freed_in: list[str] = []
    gc.enable()
    try:
        in_worker(freed_in)
    finally:
        gc.disable()
    gc.collect()
    assert "worker" in freed_in


def test_with_the_guard_cycles_are_freed_on_the_gui_thread(qtbot: QtBot) -> None:
    collector = GuiThreadGarbageCollector(interval_ms=10, thresholds=(100, 10, 10))
    gc.collect()
    collector.start()
    try:
        freed_in: list[str] = []
        in_worker(freed_in)
        assert freed_in == []  # nothing was collected in the worker
        qtbot.waitUntil(lambda: len(freed_in) == 3000, timeout=5000)
        assert set(freed_in) == {threading.main_thread().name}
        assert collector.collections >= 1
    finally:
        collector.stop()
        gc.disable()  # the test session keeps automatic collection off (conftest)
