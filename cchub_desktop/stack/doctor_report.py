"""What the engine check found (stack/doctor.py): plain data, light to import. The window reads it back from
`cchub doctor --json` (engine_check.py), so it carries no check code of its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

CliOrigin = Literal["settings", "environment", "path", "cache", "download"]


@dataclass(frozen=True)
class CliChoice:
    origin: CliOrigin
    path: str | None          # None: the SDK downloads it on first start
    version: str | None
    note: str = ""


@dataclass(frozen=True)
class DoctorCheck:
    name: str
    ok: bool
    message: str
    fix: str = ""
    warning: bool = False            # failed, but blocks nothing: the start goes ahead and the engine tells


@dataclass(frozen=True)
class DoctorReport:
    checks: list[DoctorCheck]
    cli: CliChoice
    runner: str = ""                 # remote runner host, when one is named
    runtime: str = ""                # the local container runtime that answered
    notes: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return all(c.ok or c.warning for c in self.checks)

    def problems(self) -> list[DoctorCheck]:
        """The failed checks that block a start."""
        return [c for c in self.checks if not c.ok and not c.warning]

    def warnings(self) -> list[DoctorCheck]:
        """The failed checks that block nothing (a container runtime when a Dagger CLI is set explicitly)."""
        return [c for c in self.checks if not c.ok and c.warning]

    def summary(self) -> str:
        """One line for the window's engine status."""
        problems = self.problems()
        if problems:
            first = problems[0]
            return f"{first.message} {first.fix}".strip()
        engine = f"remote engine {self.runner}" if self.runner else f"{self.runtime or 'container runtime'} is running"
        cli = "Dagger CLI will be downloaded on first start" if self.cli.path is None else "Dagger CLI found"
        return f"Engine ready: {cli}; {engine}."

    def to_dict(self) -> dict[str, object]:
        return {"ready": self.ready, "cli": {"origin": self.cli.origin, "path": self.cli.path,
                                            "version": self.cli.version},
                "runner": self.runner, "runtime": self.runtime, "notes": self.notes,
                "checks": [c.__dict__ for c in self.checks]}

    @classmethod
    def from_dict(cls, data: Any) -> DoctorReport:
        """The report `to_dict` wrote (`cchub doctor --json`). ValueError when `data` is not one."""
        try:
            cli = data["cli"]
            origin = cli["origin"]
            if origin not in get_args(CliOrigin):
                raise ValueError(f"unknown Dagger CLI origin {origin!r}")
            checks = [DoctorCheck(str(c["name"]), bool(c["ok"]), str(c["message"]), str(c.get("fix", "")),
                                  bool(c.get("warning", False))) for c in data["checks"]]
            return cls(checks=checks, cli=CliChoice(cast(CliOrigin, origin), _text_or_none(cli.get("path")),
                                                    _text_or_none(cli.get("version"))),
                       runner=str(data.get("runner", "")), runtime=str(data.get("runtime", "")),
                       notes=[str(n) for n in data.get("notes", [])])
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not an engine check report ({type(exc).__name__}: {exc})") from exc


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)
