"""Arbitrary input to ProjectStore.add: either a valid project is stored or ValidationError and no change."""

from __future__ import annotations

import tempfile
import unicodedata
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cchub_desktop.store import ProjectStore, ValidationError

_TMP = Path(tempfile.mkdtemp(prefix="cchub-hyp-"))
_STORE = ProjectStore(_TMP / "projects.sqlite3", live_port_check=False)
_REAL_DIR = _TMP / "real-folder"
_REAL_DIR.mkdir()
_A_FILE = _TMP / "a-file"
_A_FILE.write_text("x")

paths = st.one_of(
    st.just(str(_REAL_DIR)), st.just(str(_A_FILE)), st.just(str(_TMP / "missing")), st.just("relative/x"),
    st.just(""), st.text(max_size=30),
)
ports = st.one_of(st.none(), st.integers(min_value=-10, max_value=70000), st.sampled_from([3000, 8000, 80]),
                  st.text(max_size=6))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.text(max_size=80), path=paths, backend=ports, frontend=ports, postgres=ports, redis=ports)
def test_add_accepts_valid_or_raises_without_change(name: str, path: str, backend: object, frontend: object,
                                                    postgres: object, redis: object) -> None:
    before = [p.model_dump() for p in _STORE.list()]
    try:
        project = _STORE.add(name, path, backend_port=backend, frontend_port=frontend,  # type: ignore[arg-type]
                             postgres_port=postgres, redis_port=redis)
    except ValidationError as exc:
        assert exc.field in {"name", "path", "backend_port", "frontend_port", "postgres_port", "redis_port"}
        assert exc.message
        assert [p.model_dump() for p in _STORE.list()] == before
        return
    after = _STORE.list()
    assert len(after) == len(before) + 1
    stored = _STORE.get(project.id)  # type: ignore[arg-type]
    assert stored.name == unicodedata.normalize("NFC", name.strip())
    assert Path(stored.path).is_dir()
    all_ports = [getattr(p, f) for p in after for f in ("backend_port", "frontend_port", "postgres_port",
                                                          "redis_port")]
    assert len(all_ports) == len(set(all_ports)), "ports must be unique across projects"
    assert all(1024 <= port <= 65535 for port in all_ports)
    if len(after) > 40:  # keep the block search space small
        for p in after:
            _STORE.remove(p.id)  # type: ignore[arg-type]
