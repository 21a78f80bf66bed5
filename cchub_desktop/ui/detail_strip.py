"""The strip under the project table: the selected project's state, its last failure in full with the one
button that helps, when it started, the source commit it builds from and its URLs."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from cchub_desktop.store import ProjectStatus
from cchub_desktop.ui.project_table_model import STATUS_COLOURS, ProjectRow
from cchub_desktop.ui.remedies import CHANGE_PORTS, OPEN_SETTINGS, SHOW_LOG, remedy_for

__all__ = ["CHANGE_PORTS", "OPEN_SETTINGS", "SHOW_LOG", "DetailStrip", "commit_text", "remedy_for"]


def _when(moment: datetime | None) -> str:
    """A stored time (naive ones are UTC) in local time, to the second; "never" for none."""
    if moment is None:
        return "never"
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def commit_text(row: ProjectRow, local_source: str = "") -> str:
    """The source the project runs: a local folder (Settings), else its pinned commit."""
    if local_source:
        return f"local folder {local_source}"
    p = row.project
    if not p.source_commit:
        return "not pinned yet"
    from cchub_desktop.stack.source_pin import describe_commit  # with subprocess: after the first paint

    return describe_commit(p.source_commit, p.source_commit_date)


class DetailStrip(QFrame):
    """Shows one ProjectRow. `remedy` is emitted with the button's text and the project id."""

    remedy = Signal(str, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("detail_strip")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName("Selected project details")
        self._project_id: int | None = None
        self._started: dict[int, datetime] = {}
        self.local_source = ""   # Settings' local CommandCenter folder, when every project runs from it
        self.state = QLabel()
        self.state.setObjectName("detail_state")
        self.state.setTextFormat(Qt.TextFormat.RichText)
        self.failure = QLabel()
        self.failure.setObjectName("detail_failure")
        self.failure.setWordWrap(True)
        self.failure.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.failure.setAccessibleName("Last failure")
        self.remedy_button = QPushButton()
        self.remedy_button.setObjectName("detail_remedy")
        self.remedy_button.clicked.connect(self._remedy_clicked)
        self.started = QLabel()
        self.commit = QLabel()
        self.commit.setObjectName("detail_commit")
        self.urls = QLabel()
        self.urls.setObjectName("detail_urls")
        self.urls.setTextFormat(Qt.TextFormat.RichText)
        self.urls.setOpenExternalLinks(True)
        self.urls.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)

        facts = QGridLayout()
        facts.setContentsMargins(0, 0, 0, 0)
        for col, (title, value) in enumerate((("Started", self.started), ("Source", self.commit),
                                              ("URLs", self.urls))):
            caption = QLabel(f"<b>{title}</b>")
            facts.addWidget(caption, 0, col * 2)
            facts.addWidget(value, 0, col * 2 + 1)
        facts.setColumnStretch(5, 1)
        failure_row = QHBoxLayout()
        failure_row.addWidget(self.failure, 1)
        failure_row.addWidget(self.remedy_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addWidget(self.state)
        layout.addLayout(failure_row)
        layout.addLayout(facts)
        self.show_row(None)

    @property
    def project_id(self) -> int | None:
        return self._project_id

    def note_started(self, project_id: int, at: datetime | None) -> None:
        """The project became running `at` (the time the store records as last_started_at, written a moment
        later): "Started" is the last start that got running, the same before and after a relaunch."""
        if at is not None:
            self._started[project_id] = at

    def show_row(self, row: ProjectRow | None) -> None:
        self._project_id = row.project_id if row else None
        self.setVisible(row is not None)
        if row is None:
            return
        colour = STATUS_COLOURS[row.status]
        self.state.setText(f"<b>{row.project.name}</b> — <span style='color:{colour}'>{row.status_full_text()}</span>"
                           + (f" · {row.health}" if row.status == ProjectStatus.RUNNING and row.health
                              and row.health != "healthy" else ""))
        failed = row.status == ProjectStatus.ERROR and bool(row.message)
        self.failure.setVisible(failed)
        self.remedy_button.setVisible(failed)
        if failed and row.message:
            self.failure.setText(row.message)
            self.failure.setStyleSheet(f"color: {STATUS_COLOURS[ProjectStatus.ERROR]}")
            self.remedy_button.setText(remedy_for(row.message))
            self.remedy_button.setAccessibleName(f"{remedy_for(row.message)} for {row.project.name}")
        self.started.setText(_when(self._started.get(row.project_id) or row.project.last_started_at))
        self.commit.setText(commit_text(row, self.local_source))
        p = row.project
        links = [f"<a href='http://localhost:{p.frontend_port}'>http://localhost:{p.frontend_port}</a>",
                 f"<a href='http://localhost:{p.backend_port}'>http://localhost:{p.backend_port}</a>",
                 f"<a href='http://localhost:{p.backend_port}/docs'>API docs</a>"]
        self.urls.setText(" · ".join(links))

    def _remedy_clicked(self) -> None:
        if self._project_id is not None:
            self.remedy.emit(self.remedy_button.text(), self._project_id)
