"""PyInstaller entry point of the command line (the `cchub` executable)."""

from cchub_desktop.cli import main

raise SystemExit(main())
