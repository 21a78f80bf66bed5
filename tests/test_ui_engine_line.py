"""The live engine line: a bad engine disables every Start with the reason as tooltip, it re-checks by itself
while failing, after the settings change and after a start fails on the engine; error boxes about the engine
have an "Open Settings" button."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PySide6.QtWidgets import QAbstractButton, QMessageBox
from pytestqt.qtbot import QtBot

from cchub_desktop.store import ProjectStatus

if TYPE_CHECKING:
    from fake_dagger.fixtures import FakeDagger

    from tests.gui_fixtures import GuiHub

pytest_plugins = ["tests.gui_fixtures"]


def toggle_named(hub: GuiHub, name: str) -> QAbstractButton:
    found = [w for w in hub.window.findChildren(QAbstractButton) if w.accessibleName() == name and w.isVisible()]
    assert len(found) == 1
    return found[0]


def check(hub: GuiHub) -> None:
    status = hub.window.engine_status
    status.recheck()
    hub.qtbot.waitUntil(lambda: not status.is_checking(), timeout=20_000)


def test_a_bad_engine_disables_start_with_its_reason_and_it_recovers_by_itself(
        gui_hub: GuiHub, qtbot: QtBot, project_dir: Path) -> None:
    hub = gui_hub
    status = hub.window.engine_status
    status.retry.setInterval(300)  # 30 s in the app
    hub.add_project("waits", project_dir)
    with socket.socket() as probe:  # a port nothing listens on, then a listener on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hub.orchestrator.settings.runner_host = f"tcp://127.0.0.1:{port}"
    check(hub)
    assert status.ok is False and status.label.text().startswith("Engine problem:")
    assert status.recheck_button.text() == "Check again"
    qtbot.waitUntil(lambda: not toggle_named(hub, "Start waits").isEnabled(), timeout=2000)
    start = toggle_named(hub, "Start waits")
    assert start.toolTip() == status.problem and "does not answer" in start.toolTip()
    assert not hub.window.toggle_action.isEnabled() and hub.window.toggle_action.toolTip() == status.problem
    assert status.retry.isActive()  # it will look again by itself

    listener = socket.create_server(("127.0.0.1", port))
    try:
        qtbot.waitUntil(lambda: status.ok is True, timeout=20_000)  # no click: the retry found it
        assert status.label.text() == f"Engine OK (remote tcp://127.0.0.1:{port}; Dagger CLI found)"
        assert toggle_named(hub, "Start waits").isEnabled() and hub.window.toggle_action.isEnabled()
        assert not status.retry.isActive()
    finally:
        listener.close()


def test_saved_settings_are_checked_again(gui_hub: GuiHub, qtbot: QtBot) -> None:
    hub = gui_hub
    status = hub.window.engine_status
    with socket.create_server(("127.0.0.1", 0)) as listener:
        hub.orchestrator.settings.runner_host = f"tcp://127.0.0.1:{listener.getsockname()[1]}"
        check(hub)
        assert status.ok is True
    hub.orchestrator.settings.runner_host = "tcp://127.0.0.1:9"  # the discard port: nothing answers
    hub.window.settings_changed()
    qtbot.waitUntil(lambda: status.ok is False, timeout=20_000)


def test_a_start_failing_on_the_engine_rechecks_it_and_the_box_offers_settings(
        gui_hub: GuiHub, qtbot: QtBot, fake_dagger_env: FakeDagger, project_dir: Path) -> None:
    hub = gui_hub
    status = hub.window.engine_status
    listener = socket.create_server(("127.0.0.1", 0))
    hub.orchestrator.settings.runner_host = f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    check(hub)
    listener.close()
    assert status.ok is True
    settings_asked: list[bool] = []
    hub.window.settings_requested.connect(lambda: settings_asked.append(True))
    pid = hub.add_project("engine-less", project_dir)
    fake_dagger_env.set(exit_at_start=1)  # the CLI dies at once: the start fails on the engine
    hub.orchestrator.settings.runner_host = "tcp://127.0.0.1:9"  # and the next check finds it bad
    hub.window.toggle_action.trigger()
    qtbot.waitUntil(lambda: hub.orchestrator.state(pid) == ProjectStatus.ERROR, timeout=30_000)
    qtbot.waitUntil(lambda: status.ok is False, timeout=20_000)  # re-checked after the failure
    box = hub.window.error_box
    assert box is not None
    buttons = [b for b in box.buttons() if b.text() == "Open Settings"]
    assert buttons and box.buttonRole(buttons[0]) == QMessageBox.ButtonRole.ActionRole
    buttons[0].click()
    assert settings_asked == [True]


def test_with_a_cli_set_explicitly_a_stopped_docker_warns_and_start_goes_ahead(
        gui_hub: GuiHub, qtbot: QtBot, project_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`cchub up` runs a project with the Dagger CLI from the environment and no Docker daemon: the window
    must agree (a warning in the engine line, Start enabled, and the start reaches Running)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon.' >&2\nexit 1\n")
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    hub = gui_hub
    status = hub.window.engine_status
    pid = hub.add_project("goes", project_dir)
    check(hub)
    assert status.ok is True and status.problem is None
    assert status.label.text().startswith("Engine: Docker is not running")
    assert "Starts still go ahead" in status.label.text()
    qtbot.waitUntil(lambda: toggle_named(hub, "Start goes").isEnabled(), timeout=30_000)
    toggle_named(hub, "Start goes").click()
    qtbot.waitUntil(lambda: hub.orchestrator.state(pid) == ProjectStatus.RUNNING, timeout=60_000)
