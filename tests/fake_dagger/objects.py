"""Immutable API objects: each is the call chain that built it, identified by a content hash.

Like the real engine, calling a field on an object never changes it: it returns a new object whose
chain is the parent's plus one call. The ID is derived from the chain only, so the same chain built
twice (in one session or another) has the same ID, and `node(id:)` loads any object back.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError

JSONArgs = Mapping[str, Any]


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


@dataclass(frozen=True, eq=False)
class Obj:
    """One API object: `kind` is its GraphQL type name; `field`/`args` the call that made it."""

    kind: str
    field: str
    args: JSONArgs
    parent: Obj | None = None
    data: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # leaf values for plain objects (Port)
    digest: str = ""

    @property
    def id(self) -> str:
        raw = f"{self.kind}:{self.digest}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def chain(self) -> list[Obj]:
        """Root first."""
        out: list[Obj] = []
        node: Obj | None = self
        while node is not None:
            out.append(node)
            node = node.parent
        out.reverse()
        return out

    def calls(self, field_name: str) -> list[JSONArgs]:
        return [o.args for o in self.chain() if o.field == field_name]

    def ancestors_from(self, field_name: str) -> Iterator[Obj]:
        return (o for o in self.chain() if o.field == field_name)

    def describe(self) -> str:
        return ".".join(o.field for o in self.chain())


class Registry:
    """Every object made in this session, by ID; thread-safe."""

    def __init__(self) -> None:
        self._objects: dict[str, Obj] = {}
        self._lock = threading.Lock()

    def make(self, kind: str, field_name: str, args: JSONArgs, parent: Obj | None = None,
             data: Mapping[str, Any] | None = None) -> Obj:
        seed = canonical([parent.digest if parent else "", kind, field_name, args, data or {}])
        digest = hashlib.sha256(seed.encode()).hexdigest()
        obj = Obj(kind, field_name, dict(args), parent, dict(data or {}), digest)
        with self._lock:
            return self._objects.setdefault(obj.id, obj)

    def load(self, object_id: str, expected: str | None = None) -> Obj:
        with self._lock:
            obj = self._objects.get(object_id)
        if obj is None:
            raise GraphQLError(f"failed to load object from ID {object_id[:24]!r}: unknown ID")
        if expected and expected not in {"Node", "Syncer", "Exportable"} and obj.kind != expected:
            raise GraphQLError(f"ID {object_id[:24]!r} is a {obj.kind}, expected a {expected}")
        return obj

    def __len__(self) -> int:
        with self._lock:
            return len(self._objects)


def short_hash(digest: str, length: int = 13) -> str:
    """A hostname-like hash, as the engine gives services without a custom hostname."""
    raw = base64.b32encode(bytes.fromhex(digest)).decode().lower()
    return raw[:length]
