"""A package's import graph, read statically with `ast` (nothing is imported), and the circles in it.

Rules (the ones tests/test_import_graph.py enforces):
- Every `.py` file under the package folder is a module; `pkg/__init__.py` is the module `pkg`.
- An import anywhere in a module counts: at module level, inside a function or a class, in a `try`. A lazy
  import is still a dependency. Imports in the body of `if TYPE_CHECKING:` (or `typing.TYPE_CHECKING`) do
  not count; its `else:` does.
- `import a.b.c` is an edge to `a.b.c`. `from a.b import X` is an edge to `a.b` (its `__init__` runs) and, if
  `a.b.X` is a module, to `a.b.X` as well. Relative forms are resolved against the importing module's package.
- `importlib.import_module("a.b")` with a literal name counts as `import a.b`, also when the function is passed
  on with its argument (`asyncio.to_thread(importlib.import_module, "a.b")`).
- Edges to modules outside the package are kept apart (`external`): they are not part of any circle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ImportGraph:
    modules: dict[str, Path]
    edges: dict[str, set[str]] = field(default_factory=dict)  # module -> modules of the package it imports
    external: dict[str, set[str]] = field(default_factory=dict)  # module -> imported names outside the package

    def cycles(self) -> list[list[str]]:
        """Every strongly connected component of more than one module (or a module importing itself), sorted."""
        return [sorted(c) for c in _strongly_connected(self.edges) if len(c) > 1 or _self_loop(self.edges, c)]

    def path_within(self, component: Iterable[str]) -> list[str]:
        """One shortest closed path through the component, to show how the circle goes: a -> b -> ... -> a."""
        members = set(component)
        start = min(members)
        previous: dict[str, str] = {start: start}
        frontier = [start]
        while frontier:
            following: list[str] = []
            for node in frontier:
                targets = sorted(self.edges.get(node, set()) & members)
                if start in targets:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                for target in targets:
                    if target not in previous:
                        previous[target] = node
                        following.append(target)
            frontier = following
        return [start]

    def importers_of(self, top_level: str) -> dict[str, set[str]]:
        """Modules of the package that import `top_level` or one of its submodules, with the names imported."""
        found: dict[str, set[str]] = {}
        for module, names in self.external.items():
            hits = {n for n in names if n == top_level or n.startswith(top_level + ".")}
            if hits:
                found[module] = hits
        return found


def build_graph(package_dir: Path, package_name: str | None = None) -> ImportGraph:
    """The import graph of the package whose folder is `package_dir` (its name: the folder's, unless given)."""
    name = package_name or package_dir.name
    modules = dict(_walk(package_dir, name))
    graph = ImportGraph(modules=modules)
    for module, path in modules.items():
        is_package = path.name == "__init__.py"
        inside: set[str] = set()
        outside: set[str] = set()
        for target in _imported_names(ast.parse(path.read_text(encoding="utf-8"), str(path)), module, is_package,
                                      modules):
            if target == name or target.startswith(name + "."):
                if target in modules and target != module:
                    inside.add(target)
            else:
                outside.add(target)
        graph.edges[module] = inside
        graph.external[module] = outside
    return graph


def describe_cycles(graph: ImportGraph) -> str:
    """One line per circle: its modules, then one closed path through them."""
    lines = []
    for component in graph.cycles():
        lines.append(f"{', '.join(component)}  (e.g. {' -> '.join(graph.path_within(component))})")
    return "\n".join(lines)


def _walk(package_dir: Path, name: str) -> Iterator[tuple[str, Path]]:
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join([name, *parts]), path


def _imported_names(tree: ast.Module, module: str, is_package: bool, known: dict[str, Path]) -> Iterator[str]:
    package = module if is_package else module.rpartition(".")[0]
    for node in _nodes_outside_type_checking(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node.module, node.level, package)
            yield base
            for alias in node.names:
                if f"{base}.{alias.name}" in known:
                    yield f"{base}.{alias.name}"
        elif isinstance(node, ast.Call):
            literal = _import_module_literal(node)
            if literal is not None:
                yield literal


def _resolve(name: str | None, level: int, package: str) -> str:
    if level == 0:
        return name or ""
    parts = package.split(".")
    base = parts[: len(parts) - (level - 1)] if level > 1 else parts
    return ".".join([*base, name] if name else base)


def _nodes_outside_type_checking(tree: ast.AST) -> Iterator[ast.AST]:
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _names_import_module(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id == "import_module"
    return isinstance(node, ast.Attribute) and node.attr == "import_module"


def _import_module_literal(call: ast.Call) -> str | None:
    if _names_import_module(call.func):
        first = call.args[0] if call.args else None
        return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
    for i, arg in enumerate(call.args[:-1]):
        following = call.args[i + 1]
        if _names_import_module(arg) and isinstance(following, ast.Constant) and isinstance(following.value, str):
            return following.value
    return None


def _self_loop(edges: dict[str, set[str]], component: list[str]) -> bool:
    return len(component) == 1 and component[0] in edges.get(component[0], set())


def _strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (no recursion limit on a long chain)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
    return sorted(components, key=min)
