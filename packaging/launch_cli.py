"""PyInstaller entry point of the command line (the `cchub` executable)."""

import sys

if "--runner" in sys.argv[1:3]:   # `cchub up --runner NAME`, as the window starts it: yield the CPU first
    from cchub_desktop.runner import lower_priority

    lower_priority()

from cchub_desktop.cli import main

raise SystemExit(main())
