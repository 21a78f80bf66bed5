"""Shared test setup: offscreen Qt, and a fresh app home (CCHUB_HOME) for every test."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_dagger.fixtures import fake_dagger_env, port_block  # noqa: F401  (the fake Dagger engine)

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The product must never talk to a real engine or download a CLI from a test.
os.environ.pop("_EXPERIMENTAL_DAGGER_RUNNER_HOST", None)


@pytest.fixture(autouse=True)
def cchub_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "cchub-home"
    monkeypatch.setenv("CCHUB_HOME", str(home))
    yield home


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "my-project"
    folder.mkdir()
    (folder / "README.md").write_text("a user's project\n")
    return folder


@pytest.fixture(autouse=True, scope="session")
def collect_garbage_on_the_main_thread() -> Iterator[None]:
    """As the app does (ui/gc_guard.py): no automatic collection, which may run in a worker thread and free
    Qt objects there — a crash in the GUI thread's timers later. Each test's garbage is collected after it,
    on the main thread."""
    gc.disable()
    yield
    gc.enable()


@pytest.fixture(autouse=True)
def collect_after_each_test() -> Iterator[None]:
    yield
    gc.collect()
