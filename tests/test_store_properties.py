"""Arbitrary input to ProjectStore.add: either a valid project is stored or ValidationError and no change."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cchub_desktop.store import ProjectStore, ValidationError


@dataclass
class Place:
    """One store and its folders for all examples, in pytest's temporary directory (removed with it)."""
    root: Path
    store: ProjectStore

    def path(self, token: str) -> str:
        return {"REAL_DIR": str(self.root / "real-folder"), "A_FILE": str(self.root / "a-file"),
                "MISSING": str(self.root / "missing")}.get(token, token)


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Place]:
    root = tmp_path_factory.mktemp("store-properties")
    (root / "real-folder").mkdir()
    (root / "a-file").write_text("x")
    yield Place(root, ProjectStore(root / "projects.sqlite3", live_port_check=False))


paths = st.one_of(
    st.sampled_from(["REAL_DIR", "A_FILE", "MISSING", "relative/x", ""]), st.text(max_size=30),
)
ports = st.one_of(st.none(), st.integers(min_value=-10, max_value=70000), st.sampled_from([3000, 8000, 80]),
                  st.text(max_size=6))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.text(max_size=80), path=paths, backend=ports, frontend=ports, postgres=ports, redis=ports)
def test_add_accepts_valid_or_raises_without_change(place: Place, name: str, path: str, backend: object,
                                                    frontend: object, postgres: object, redis: object) -> None:
    store, path = place.store, place.path(path)
    before = [p.model_dump() for p in store.list()]
    try:
        project = store.add(name, path, backend_port=backend, frontend_port=frontend,  # type: ignore[arg-type]
                             postgres_port=postgres, redis_port=redis)
    except ValidationError as exc:
        assert exc.field in {"name", "path", "backend_port", "frontend_port", "postgres_port", "redis_port"}
        assert exc.message
        assert [p.model_dump() for p in store.list()] == before
        return
    after = store.list()
    assert len(after) == len(before) + 1
    stored = store.get(project.id)  # type: ignore[arg-type]
    assert stored.name == unicodedata.normalize("NFC", name.strip())
    assert Path(stored.path).is_dir()
    all_ports = [getattr(p, f) for p in after for f in ("backend_port", "frontend_port", "postgres_port",
                                                          "redis_port")]
    assert len(all_ports) == len(set(all_ports)), "ports must be unique across projects"
    assert all(1024 <= port <= 65535 for port in all_ports)
    if len(after) > 40:  # keep the block search space small
        for p in after:
            store.remove(p.id)  # type: ignore[arg-type]
