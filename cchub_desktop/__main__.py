"""`python -m cchub_desktop` and the `cchub-desktop` script: the desktop app."""

from __future__ import annotations

import sys


def main() -> int:
    from cchub_desktop.app import main as app_main

    return app_main()


if __name__ == "__main__":
    sys.exit(main())
