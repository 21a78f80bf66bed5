"""`python -m cchub_desktop` and the `cchub-desktop` script: the desktop app."""

from __future__ import annotations

import gc
import sys


def main() -> int:
    # Start-up allocates for keeps: no garbage collection until the window is up (app.settle_garbage_collector).
    gc.disable()
    # The Qt-free core (SQLAlchemy, SQLModel, the stack) before PySide6: once PySide6 is imported, its import
    # hook reads the source of every module imported after it and keeps it in linecache, which costs ~70 ms
    # and ~18 MB at launch when the core comes second (benchmarks/README.md, start-up).
    import cchub_desktop.orchestrator  # noqa: F401
    from cchub_desktop.app import main as app_main

    return app_main()


if __name__ == "__main__":
    sys.exit(main())
