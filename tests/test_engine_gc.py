"""`cchub doctor` says when the engine's own garbage collection is pruning (its disk under the 20 % Dagger keeps
free) or will be after a first build, and nothing when there is room or the engine's disk is not here."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import NamedTuple

import pytest

from cchub_desktop.engine_gc import disk_pressure_note

GB = 1_000_000_000


class Usage(NamedTuple):
    total: int
    used: int
    free: int


def _disk(monkeypatch: pytest.MonkeyPatch, folder: Path, total: int, free: int) -> None:
    real = shutil.disk_usage

    def fake(path: str | Path) -> Usage:
        if Path(path) == folder:
            return Usage(total, total - free, free)
        return Usage(*real(path))

    monkeypatch.setattr(shutil, "disk_usage", fake)


def test_a_disk_under_the_engines_free_space_floor_is_said_with_what_it_means(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _disk(monkeypatch, tmp_path, 270 * GB, 49 * GB)   # as seen when the real engine pruned a stopped database
    note = disk_pressure_note((tmp_path,))
    assert note is not None and note.startswith(f"warning: the engine's disk ({tmp_path}) has 18% free (49 GB)")
    assert "database volume is discarded minutes after its stop" in note and "host copy" in note


def test_a_disk_a_first_build_would_take_under_the_floor_is_said(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _disk(monkeypatch, tmp_path, 270 * GB, 57 * GB)
    note = disk_pressure_note((tmp_path,))
    assert note is not None and "close to the 20%" in note and "first build" in note


def test_room_to_spare_or_no_engine_disk_here_says_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _disk(monkeypatch, tmp_path, 270 * GB, 120 * GB)
    assert disk_pressure_note((tmp_path,)) is None
    assert disk_pressure_note((tmp_path / "no-engine-here",)) is None
