"""PyInstaller entry point of the windowed app (the `cchub-desktop` executable)."""

from cchub_desktop.__main__ import main

raise SystemExit(main())
