"""The package's import graph, read statically (tests/import_graph.py): no import circles, the Dagger SDK
imported only by the engine package (cchub_desktop/stack/), PySide6 only by the window's side.

Every module is found by walking the package folder, so a module that is added or renamed is checked with no
list to keep up to date. An import inside a function counts (a lazy import is still a dependency); one under
`if TYPE_CHECKING:` does not.
"""

from __future__ import annotations

from pathlib import Path

import cchub_desktop
from tests.import_graph import ImportGraph, build_graph, describe_cycles

PACKAGE_DIR = Path(cchub_desktop.__file__).parent
ENGINE_PACKAGE = "cchub_desktop.stack"


def package_graph() -> ImportGraph:
    return build_graph(PACKAGE_DIR)


def test_the_graph_covers_the_package() -> None:
    graph = package_graph()
    # modules at every depth, packages as their __init__, and the edges a reader sees in the source
    for module in ("cchub_desktop", "cchub_desktop.cli", "cchub_desktop.stack", "cchub_desktop.stack.stack",
                   "cchub_desktop.store.project_store", "cchub_desktop.ui.main_window"):
        assert module in graph.modules
    assert len(graph.modules) == len(list(PACKAGE_DIR.rglob("*.py")))
    # (a package __init__'s imports: test_a_package_init_that_imports_its_importer_is_a_circle; the app's own
    # __init__ files import their names when first used, through importlib with a computed name)
    assert "cchub_desktop.stack.source_pin" in graph.edges["cchub_desktop.ui.detail_strip"]   # from a subpackage
    assert "cchub_desktop.project_data" in graph.edges["cchub_desktop.orchestrator"]   # module level
    assert "cchub_desktop.ui.tray_integration" in graph.edges["cchub_desktop.app"]     # inside a function
    assert "cchub_desktop.orchestrator" not in graph.edges["cchub_desktop.ui.tray_integration"]  # TYPE_CHECKING


def test_the_package_has_no_import_circles() -> None:
    graph = package_graph()
    assert graph.cycles() == [], ("import circles (break each by moving what both sides need to the module it "
                                  "belongs to; a lazy import does not break one):\n" + describe_cycles(graph))


def test_only_the_engine_package_imports_dagger() -> None:
    """The Dagger SDK (seconds of CPU on import, blocking threads) stays in the engine's modules: the window,
    the tray and the command line reach it only through cchub_desktop/stack/."""
    graph = package_graph()
    importers = graph.importers_of("dagger")
    assert importers, "no module imports dagger: the check would pass whatever happens"
    offenders = sorted(m for m in importers if not (m == ENGINE_PACKAGE or m.startswith(ENGINE_PACKAGE + ".")))
    assert offenders == [], f"modules outside {ENGINE_PACKAGE} that import dagger: {', '.join(offenders)}"


def test_only_the_window_side_imports_qt() -> None:
    """PySide6 only in the window's modules, lazy imports included (test_core_has_no_qt.py checks what
    importing each module loads; this also sees an import inside a function that has not run)."""
    window_side = ("cchub_desktop.ui", "cchub_desktop.app", "cchub_desktop.__main__")
    importers = package_graph().importers_of("PySide6")
    assert "cchub_desktop.ui.main_window" in importers
    offenders = sorted(m for m in importers if not any(m == w or m.startswith(w + ".") for w in window_side))
    assert offenders == [], f"modules outside the window's side that import PySide6: {', '.join(offenders)}"


def write_package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_a_circle_is_found_and_named(tmp_path: Path) -> None:
    """The check can fail: a circle through a lazy import, a relative import and a package's __init__."""
    package = write_package(tmp_path / "toy", {
        "__init__.py": "",
        "a.py": "from toy.sub import b\n",
        "sub/__init__.py": "",
        "sub/b.py": "def f() -> None:\n    from ..c import g\n",                # lazy and relative
        "c.py": "import toy.a\n\ndef g() -> None: ...\n",
        "d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import toy.e\n",   # not an edge
        "e.py": "import toy.d\n",
        "f.py": "from toy import g\n",   # `from package import submodule`: an edge to both
        "g.py": "import importlib\n\ndef load() -> None:\n    importlib.import_module('toy.f')\n",
    })
    graph = build_graph(package)
    assert graph.cycles() == [["toy.a", "toy.c", "toy.sub.b"], ["toy.f", "toy.g"]]
    assert graph.edges["toy.f"] == {"toy", "toy.g"}
    assert "toy.e" not in graph.edges["toy.d"]
    described = describe_cycles(graph)
    assert "toy.a -> toy.sub.b -> toy.c -> toy.a" in described
    assert "toy.f -> toy.g -> toy.f" in described


def test_a_package_init_that_imports_its_importer_is_a_circle(tmp_path: Path) -> None:
    """`from pkg.sub import x` runs pkg/sub/__init__.py: when that imports the importer, it is a circle."""
    package = write_package(tmp_path / "toy", {
        "__init__.py": "",
        "user.py": "from toy.sub import thing\n",
        "sub/__init__.py": "from toy.sub.thing import X\nfrom toy.user import helper\n",
        "sub/thing.py": "X = 1\n",
    })
    assert build_graph(package).cycles() == [["toy.sub", "toy.user"]]


def test_dagger_imported_outside_the_engine_is_named(tmp_path: Path) -> None:
    package = write_package(tmp_path / "toy", {
        "__init__.py": "",
        "stack/__init__.py": "",
        "stack/engine.py": "import dagger\n",
        "window.py": "import asyncio, importlib\n\nasync def go() -> None:\n"
                     "    await asyncio.to_thread(importlib.import_module, 'dagger')\n",
        "typed.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import dagger\n",
    })
    assert sorted(build_graph(package).importers_of("dagger")) == ["toy.stack.engine", "toy.window"]
