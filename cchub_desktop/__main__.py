"""`python -m cchub_desktop` and the `cchub-desktop` script: the desktop app."""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence


def hand_over_to_running_app(argv: Sequence[str]) -> bool:
    """A second launch: ask the running app to raise its window (and start the --start projects), with the
    stdlib only, before Qt, SQLModel and the SDK are imported. True when the running app confirmed."""
    if any(a in ("--self-test", "--version", "-h", "--help") for a in argv):
        return False
    from cchub_desktop.instance_handover import hand_over_early
    from cchub_desktop.paths import app_paths

    start = _start_names(argv)
    if start is None:   # other arguments too: argparse reads them as the full parser will
        import argparse

        parser = argparse.ArgumentParser(add_help=False)
        parser.add_argument("--start", action="append", default=[])
        start = parser.parse_known_args(argv)[0].start
    if not hand_over_early(app_paths(), start):
        return False
    from cchub_desktop import APP_NAME

    print(f"{APP_NAME} is already running: its window was raised", file=sys.stderr)
    return True


def _start_names(argv: Sequence[str]) -> list[str] | None:
    """The projects of `--start NAME` / `--start=NAME` when the arguments are only those (a launch from the
    desktop has none), without importing argparse; None for anything else."""
    names: list[str] = []
    rest = list(argv)
    while rest:
        arg = rest.pop(0)
        if arg.startswith("--start="):
            names.append(arg.partition("=")[2])
        elif arg == "--start" and rest and not rest[0].startswith("-"):
            names.append(rest.pop(0))
        else:
            return None
    return names


def main() -> int:
    from cchub_desktop.openssl_free import ASYNCIO, HASHING, import_without_openssl

    import_without_openssl(HASHING)   # the window needs no OpenSSL (openssl_free.py): ~4.9 MB
    if hand_over_to_running_app(sys.argv[1:]):
        return 0
    # Start-up allocates for keeps: no garbage collection until the window is up (app.settle_garbage_collector).
    gc.disable()
    # Only Qt and light modules before the window paints (ui/first_window.py); asyncio, qasync, the orchestrator
    # and the stack come right after the first paint, SQLModel at the first write (app.py; benchmarks/README.md).
    # They come after PySide6, whose import hook would keep the source of each in linecache (~18 MB):
    # ui/pyside_source_scan.py stops that first.
    import PySide6.QtCore  # noqa: F401

    from cchub_desktop.ui import pyside_source_scan

    pyside_source_scan.install()
    from cchub_desktop.ui.first_window import begin

    app, args, launch = begin(sys.argv[1:])  # the window painted from the stdlib read, when the database allows
    import_without_openssl(ASYNCIO)
    from cchub_desktop.app import run

    return run(app, args, launch)


if __name__ == "__main__":
    sys.exit(main())
