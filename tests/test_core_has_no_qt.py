"""The core must import no Qt: it runs in `cchub` and in tests without a display.

The core is every module of the package found by walking it, except the Qt side (`ui/`, `app`, `__main__`):
a module that is added or renamed is checked under its new name, with no list to keep up to date.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import cchub_desktop

QT_SIDE = ("cchub_desktop.ui", "cchub_desktop.app", "cchub_desktop.__main__")


def core_modules() -> list[str]:
    names = [m.name for m in pkgutil.walk_packages(cchub_desktop.__path__, prefix="cchub_desktop.")]
    return sorted(n for n in names if not any(n == q or n.startswith(q + ".") for q in QT_SIDE))


def test_the_walk_finds_the_core() -> None:
    found = core_modules()
    # the modules `cchub` itself needs are there, and the walk goes into subpackages
    for module in ("cchub_desktop.cli", "cchub_desktop.store.project_store", "cchub_desktop.stack.stack",
                   "cchub_desktop.orchestrator", "cchub_desktop.ports", "cchub_desktop.paths"):
        assert module in found
    assert not any(m.startswith("cchub_desktop.ui") for m in found)


def test_core_modules_do_not_import_pyside6() -> None:
    """One process imports every core module in turn and names the first one after which Qt is loaded."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {core_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "    bad = sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken6', 'qasync')))\n"
        "    if bad:\n"
        "        print(json.dumps([name, bad[:5]])); sys.exit(1)\n"
        "print(json.dumps(None))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode in (0, 1), result.stderr  # an import error is a failure too, with its traceback
    culprit = json.loads(result.stdout.strip().splitlines()[-1])
    assert culprit is None, f"{culprit[0]} imports Qt: {culprit[1]}"
