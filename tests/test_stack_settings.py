"""AppSettings: a bad or missing file never stops the app, and saving never leaves half a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cchub_desktop.settings import AppSettings


def test_missing_or_damaged_files_give_the_defaults(tmp_path: Path) -> None:
    assert AppSettings.load(tmp_path / "absent.json") == AppSettings()
    damaged = tmp_path / "settings.json"
    damaged.write_text('{"runner_host": "tcp://x:1"')   # cut off mid-write by an editor
    assert AppSettings.load(damaged) == AppSettings()
    damaged.write_text("[1, 2]")
    assert AppSettings.load(damaged) == AppSettings()


def test_a_bad_value_falls_back_for_that_field_only(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"notify_failed": "no", "node_image": 20, "start_minimized": True,
                                "source_git_ref": " v2.1 ", "unknown_key": 1}))
    loaded = AppSettings.load(path)
    assert loaded.notify_failed is True and loaded.node_image == "node:20-alpine"
    assert loaded.start_minimized is True and loaded.source_git_ref == "v2.1"


def test_save_and_load_round_trip_atomically(tmp_path: Path) -> None:
    path = tmp_path / "config" / "settings.json"
    settings = AppSettings(dagger_cli_path="/opt/dagger", runner_host="tcp://10.0.0.5:1234",
                           source_local_dir="/src/CommandCenter", notify_stopped=False)
    settings.save(path)
    assert AppSettings.load(path) == settings
    settings.notify_running = False
    settings.save(path)
    assert AppSettings.load(path).notify_running is False
    assert [p.name for p in path.parent.iterdir()] == ["settings.json"]   # no temporary file left


def test_a_failed_save_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "settings.json"
    AppSettings(runner_host="tcp://old:1").save(path)

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("cchub_desktop.settings.os.replace", broken_replace)
    with pytest.raises(OSError):
        AppSettings(runner_host="tcp://new:2").save(path)
    assert AppSettings.load(path).runner_host == "tcp://old:1"
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]

