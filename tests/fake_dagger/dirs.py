"""Directory and file contents: host folders (read for real), git trees (a small CommandCenter-like
tree), and the changes made on top of them (withNewFile, withoutDirectory, ...)."""

from __future__ import annotations

import fnmatch
import os
import shutil
from pathlib import Path, PurePosixPath

from graphql import GraphQLError

from .objects import Obj, Registry

# Relative posix path -> file contents (bytes, or a host file to read) or None for a directory.
Tree = dict[str, "bytes | Path | None"]

GIT_TREE: dict[str, bytes] = {
    "README.md": b"# CommandCenter\n",
    "docker-compose.yml": b"services: {}\n",
    # the shape of the upstream CommandCenter repository: an editable install of a library under libs/, and
    # a migration that enables the pgvector extension
    "backend/requirements.txt": (b"fastapi\nuvicorn[standard]\nsqlalchemy[asyncio]\nasyncpg\nalembic\nredis\n"
                                 b"-e ../libs/knowledgebeast  # editable install from libs/\n"),
    "backend/alembic/versions/0001_enable_vector.py": (b"def upgrade():\n"
                                                       b"    op.execute('CREATE EXTENSION IF NOT EXISTS vector')\n"),
    "libs/knowledgebeast/pyproject.toml": b"[project]\nname = \"knowledgebeast\"\nversion = \"0.1.0\"\n",
    "backend/alembic.ini": b"[alembic]\nscript_location = alembic\n",
    "backend/alembic/env.py": b"# alembic environment\n",
    "backend/app/__init__.py": b"",
    "backend/app/main.py": b"from fastapi import FastAPI\napp = FastAPI()\n",
    "frontend/package.json": b'{"name": "commandcenter-frontend", "scripts": {"dev": "vite"}}\n',
    "frontend/package-lock.json": b'{"lockfileVersion": 3}\n',
    "frontend/vite.config.ts": b"export default {}\n",
    "frontend/index.html": b"<!doctype html><div id=root></div>\n",
    "frontend/src/main.tsx": b"console.log('CommandCenter')\n",
}

MAX_HOST_FILES = 200_000


def _norm(path: str) -> str:
    p = str(PurePosixPath("/" + path.strip()).relative_to("/")) if path.strip("/ ") else ""
    return "" if p == "." else p


def matches(rel: str, patterns: list[str]) -> bool:
    """.dockerignore-like: a pattern matches the path or any of its parent folders."""
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for raw in patterns:
        pat = raw.strip().rstrip("/")
        if pat.startswith("./"):
            pat = pat[2:]
        alts = [pat, pat[3:]] if pat.startswith("**/") else [pat]
        for alt in alts:
            if any(fnmatch.fnmatchcase(prefix, alt) for prefix in prefixes):
                return True
    return False


_snapshots: dict[tuple[str, tuple[str, ...], tuple[str, ...]], Tree] = {}


def walk_host(root: Path, exclude: list[str], include: list[str]) -> Tree:
    """The host folder as uploaded: read once per session (a snapshot, as the engine's upload is)."""
    key = (str(root), tuple(exclude), tuple(include))
    if key not in _snapshots:
        _snapshots[key] = _walk(root, exclude, include)
    return dict(_snapshots[key])


def _walk(root: Path, exclude: list[str], include: list[str]) -> Tree:
    tree: Tree = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir
        kept = []
        for d in sorted(dirnames):
            rel = f"{rel_dir}/{d}" if rel_dir else d
            if not matches(rel, exclude):
                kept.append(d)
                tree[rel] = None
        dirnames[:] = kept
        for f in sorted(filenames):
            rel = f"{rel_dir}/{f}" if rel_dir else f
            if matches(rel, exclude) or (include and not matches(rel, include)):
                continue
            tree[rel] = Path(dirpath) / f
            if len(tree) > MAX_HOST_FILES:
                raise GraphQLError(f"host directory {root}: more than {MAX_HOST_FILES} files to upload")
    if include:  # keep only folders that lead to an included file
        files = [k for k, v in tree.items() if v is not None]
        tree = {k: v for k, v in tree.items() if v is not None or any(f.startswith(k + "/") for f in files)}
    return tree


def host_directory_error(path: str) -> GraphQLError | None:
    p = Path(path)
    if not p.exists():
        return GraphQLError(f"failed to stat host directory {path}: lstat {path}: no such file or directory")
    if not p.is_dir():
        return GraphQLError(f"host path {path} is not a directory")
    return None


def subtree(tree: Tree, path: str, what: str) -> Tree:
    prefix = _norm(path)
    if not prefix:
        return dict(tree)
    if tree.get(prefix, b"") is not None and not any(k.startswith(prefix + "/") for k in tree):
        raise GraphQLError(f"{what} {path!r}: lstat {prefix}: no such file or directory")
    return {k[len(prefix) + 1:]: v for k, v in tree.items() if k.startswith(prefix + "/")}


def without(tree: Tree, path: str) -> Tree:
    prefix = _norm(path)
    return {k: v for k, v in tree.items() if k != prefix and not k.startswith(prefix + "/")}


def add_parents(tree: Tree, rel: str) -> None:
    parts = rel.split("/")[:-1]
    for i in range(len(parts)):
        tree.setdefault("/".join(parts[: i + 1]), None)


def read(data: bytes | Path | None) -> bytes:
    if data is None:
        return b""
    return data.read_bytes() if isinstance(data, Path) else data


def tree_of(registry: Registry, directory: Obj) -> Tree:
    """The contents of a Directory object."""
    chain = directory.chain()
    tree: Tree = {}
    for node in chain:
        a = node.args
        if node.kind != "Directory":
            continue
        if node.field == "directory" and node.parent is not None and node.parent.kind == "Host":
            tree = walk_host(Path(a["path"]), list(a.get("exclude") or []), list(a.get("include") or []))
        elif node.field == "tree":
            tree = {}
            for rel, data in GIT_TREE.items():
                tree[rel] = data
                add_parents(tree, rel)
        elif node.field == "directory" and (node.parent is None or node.parent.kind == "Query"):
            tree = {}
        elif node.field == "directory" and node.parent is not None and node.parent.kind == "Container":
            tree = _container_dir(registry, node.parent, a["path"])
        elif node.field == "directory":
            tree = subtree(tree, a["path"], "directory")
        elif node.field in {"withoutDirectory", "withoutFile"}:
            tree = without(tree, a["path"])
        elif node.field == "withNewFile":
            rel = _norm(a["path"])
            tree[rel] = str(a["contents"]).encode()
            add_parents(tree, rel)
        elif node.field == "withFile":
            rel = _norm(a["path"])
            tree[rel] = file_bytes(registry, registry.load(a["source"], "File"))
            add_parents(tree, rel)
        elif node.field == "withDirectory":
            src = tree_of(registry, registry.load(a["source"], "Directory"))
            base = _norm(a["path"])
            for rel, content in src.items():
                if matches(rel, list(a.get("exclude") or [])):
                    continue
                full = f"{base}/{rel}" if base else rel
                tree[full] = content
                add_parents(tree, full)
    return tree


def _container_dir(registry: Registry, ctr: Obj, path: str) -> Tree:
    """A folder of a container: what was mounted or copied there (the image's own files are unknown)."""
    want = _norm(path)
    for node in reversed(ctr.chain()):
        if node.field in {"withMountedDirectory", "withDirectory"} and _norm(node.args["path"]) == want:
            return tree_of(registry, registry.load(node.args["source"], "Directory"))
    return {}


def file_bytes(registry: Registry, file_obj: Obj) -> bytes:
    """Contents of a File made from a directory or the host (container files are the session's job)."""
    parent = file_obj.parent
    if parent is not None and parent.kind == "Host":
        path = Path(file_obj.args["path"])
        if not path.is_file():
            raise GraphQLError(f"failed to read host file {path}: no such file or directory")
        return path.read_bytes()
    if parent is not None and parent.kind == "Directory":
        tree = tree_of(registry, parent)
        rel = _norm(file_obj.args["path"])
        if rel not in tree or tree[rel] is None:
            raise GraphQLError(f"file {file_obj.args['path']!r}: lstat {rel}: no such file or directory")
        return read(tree[rel])
    raise GraphQLError(f"cannot read file made by {file_obj.describe()}")


def entries(tree: Tree, path: str | None) -> list[str]:
    base = subtree(tree, path or "", "entries of")
    return sorted({k.split("/", 1)[0] for k in base})


def export(tree: Tree, dest: str, wipe: bool) -> str:
    target = Path(dest).absolute()
    if wipe and target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True, exist_ok=True)
    for rel, data in sorted(tree.items()):
        out = target / rel
        if data is None:
            out.mkdir(parents=True, exist_ok=True)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(read(data))
    return str(target)


def size_of(tree: Tree) -> tuple[int, int]:
    files = [v for v in tree.values() if v is not None]
    total = sum(v.stat().st_size if isinstance(v, Path) else len(v) for v in files)
    return len(files), total
