"""Shared test setup: offscreen Qt, and a fresh app home (CCHUB_HOME) for every test."""

from __future__ import annotations

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
