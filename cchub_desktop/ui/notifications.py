"""Desktop notifications when a stack becomes running (with its URL), stops, or fails (with the reason).

Each kind can be turned off in the settings (notify_running, notify_stopped, notify_failed); the settings
are read when the event arrives, so a change applies at once. Nothing is announced while the app quits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QSystemTrayIcon

from cchub_desktop.orchestrator import Orchestrator, OrchestratorEvent
from cchub_desktop.settings import AppSettings
from cchub_desktop.store import ProjectStatus, ProjectStore, StoreError
from cchub_desktop.ui.bridge import OrchestratorBridge
from cchub_desktop.ui.tray import frontend_url

S = ProjectStatus
MessageIcon = QSystemTrayIcon.MessageIcon
ShowMessage = Callable[[str, str, MessageIcon, int], None]
SHOW_MS = 8000


@dataclass(frozen=True)
class Notification:
    project_id: int
    kind: str  # "running" | "stopped" | "failed"
    title: str
    text: str
    icon: MessageIcon


class Notifier(QObject):
    """Turns status changes into notifications through `show_message` (QSystemTrayIcon.showMessage)."""

    notified = Signal(object)  # Notification, after it was shown

    def __init__(self, bridge: OrchestratorBridge, store: ProjectStore, settings: AppSettings,
                 show_message: ShowMessage, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.settings = settings
        self.orchestrator: Orchestrator = bridge.orchestrator
        self._show_message = show_message
        self._previous: dict[int, ProjectStatus] = {}
        self.last_project_id: int | None = None  # the project of the last message (clicking it shows it)
        self.quitting = False
        bridge.project_event.connect(self.on_event)

    def on_event(self, event: OrchestratorEvent) -> None:
        if event.notice and not self.quitting:   # refused: another process owns it (the tray's click too)
            name, _url = self._name_and_url(event.project_id)
            self.last_project_id = event.project_id
            self._show_message(f"{name} runs elsewhere", event.notice, MessageIcon.Information, SHOW_MS)
            self._previous[event.project_id] = event.status   # not news: it already ran there
            return
        before = self._previous.get(event.project_id)
        self._previous[event.project_id] = event.status
        if self.quitting or before == event.status:
            return
        note = self.notification_for(event, before)
        if note is None or not self.enabled(note.kind):
            return
        self.last_project_id = note.project_id
        self._show_message(note.title, note.text, note.icon, SHOW_MS)
        self.notified.emit(note)

    def enabled(self, kind: str) -> bool:
        return bool(getattr(self.settings, f"notify_{kind}", True))

    def notification_for(self, event: OrchestratorEvent, before: ProjectStatus | None) -> Notification | None:
        pid = event.project_id
        if event.status == S.RUNNING:
            name, url = self._name_and_url(pid)
            return Notification(pid, "running", f"{name} is running", f"Open {url}", MessageIcon.Information)
        if event.status == S.STOPPED and before == S.STOPPING:
            name, _url = self._name_and_url(pid)
            return Notification(pid, "stopped", f"{name} stopped",
                                "Its services were stopped and its ports released.", MessageIcon.Information)
        if event.status == S.ERROR:
            name, _url = self._name_and_url(pid)
            text = event.message or "The stack failed. The window's log pane has the details."
            return Notification(pid, "failed", f"{name} failed", text, MessageIcon.Critical)
        return None

    def _name_and_url(self, project_id: int) -> tuple[str, str]:
        try:
            project = self.store.row(project_id)
        except (KeyError, StoreError):
            return "A project", ""
        return project.name, frontend_url(self.orchestrator, project_id, project.frontend_port)
