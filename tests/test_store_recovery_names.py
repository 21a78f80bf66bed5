"""Setting the database aside twice within one second keeps both copies (names were to the second)."""

from __future__ import annotations

from pathlib import Path

from cchub_desktop.store.recovery import set_aside


def test_two_set_asides_in_one_second_keep_both(tmp_path: Path) -> None:
    db = tmp_path / "projects.sqlite3"
    db.write_bytes(b"first")
    (tmp_path / "projects.sqlite3-wal").write_bytes(b"first wal")
    first = set_aside(db)
    db.write_bytes(b"second")
    second = set_aside(db)
    assert first != second
    assert first.read_bytes() == b"first" and second.read_bytes() == b"second"
    assert first.with_name(first.name + "-wal").read_bytes() == b"first wal"
