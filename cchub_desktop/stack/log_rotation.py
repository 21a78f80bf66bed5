"""The file a stack log is written to: rotating, private to the user, and quiet when the disk is full. Its own
module so that a log without a file (the window's, fed from a runner's file) does not load logging.handlers."""

from __future__ import annotations

import logging
import logging.handlers
from io import TextIOWrapper
from pathlib import Path

from cchub_desktop.file_modes import open_private, private_file


class QuietRotatingHandler(logging.handlers.RotatingFileHandler):
    def handleError(self, record: logging.LogRecord) -> None:
        pass  # a full disk must not break the stack; the in-memory log still has the line

    def _open(self) -> TextIOWrapper:
        """The log file, private to the user (0600; older copies found wider are tightened too): a log can
        hold paths, errors and, before scrubbing caught up, anything a service printed."""
        stream = open(self.baseFilename, self.mode, encoding=self.encoding, errors=self.errors,  # noqa: SIM115
                      opener=open_private)
        assert isinstance(stream, TextIOWrapper)  # a text mode ("a")
        for number in range(self.backupCount + 1):
            private_file(Path(self.baseFilename if number == 0 else f"{self.baseFilename}.{number}"))
        return stream
