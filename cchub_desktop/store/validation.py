"""Validation rules for project fields. Each failure names the field and the rule in words a user acts on."""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path

from cchub_desktop.ports import MAX_PORT, MIN_PORT

MAX_NAME_LENGTH = 64
PORT_LABELS = {"backend_port": "Backend port", "frontend_port": "Frontend port",
               "postgres_port": "PostgreSQL port", "redis_port": "Redis port"}
# bidirectional overrides and isolates let a name display as something else
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class ValidationError(ValueError):
    """A rejected field value: `field` is the form field, `message` says the rule that was broken."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def control_character(text: str) -> str | None:
    """The first control character in `text` (C0 such as newline, tab and NUL, DEL, C1, or a line or paragraph
    separator), as `U+000A (line feed)`; None when there is none. Such a character makes a path or a name print
    as something else, or as two lines in `cchub list`."""
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            label = unicodedata.name(ch, "").lower() or _CONTROL_NAMES.get(ch, "control character")
            return f"U+{ord(ch):04X} ({label})"
    return None


_CONTROL_NAMES = {"\x00": "NUL", "\t": "tab", "\n": "line feed", "\r": "carriage return", "\x1b": "escape",
                  "\x7f": "delete"}


def clean_name(raw: object) -> str:
    if not isinstance(raw, str):
        raise ValidationError("name", "Name must be text.")
    name = unicodedata.normalize("NFC", raw.strip())
    if not name:
        raise ValidationError("name", "Name is required.")
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError("name", f"Name is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}.")
    for ch in name:
        category = unicodedata.category(ch)
        if category in ("Cc", "Cs", "Co", "Cn", "Zl", "Zp") or ch in _BIDI_CONTROLS:
            raise ValidationError(
                "name", f"Name contains an invisible or control character (U+{ord(ch):04X}); remove it.")
    return name


def slug_base(name: str) -> str:
    """A lowercase ASCII slug for Dagger volume names; names without ASCII letters become 'project'."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:40].strip("-") or "project"


def unique_slug(name: str, taken: Iterable[str]) -> str:
    base = slug_base(name)
    taken_set = set(taken)
    slug, n = base, 2
    while slug in taken_set:
        slug, n = f"{base}-{n}", n + 1
    return slug


def broad_path_warning(path: Path) -> str | None:
    """A warning for folders that are almost never what a person means to mount: / and the home folder."""
    if path == Path(path.anchor):
        return "This is the root folder of the disk: the whole disk would be uploaded to the stack."
    if path == Path.home().resolve():
        return "This is your home folder: everything in it would be uploaded to the stack."
    return None


def clean_path(raw: object, *, allow_broad: bool = False) -> str:
    if not isinstance(raw, (str, Path)) or not str(raw).strip():
        raise ValidationError("path", "Folder is required.")
    text = str(raw).strip()
    bad = control_character(text)
    if bad:
        raise ValidationError("path", f"Folder path contains a control character, {bad}; choose a folder "
                                      "whose path has none (rename it if needed).")
    path = Path(os.path.expanduser(text))
    if not path.is_absolute():
        raise ValidationError("path", f"Folder must be an absolute path (got '{text}'); pick it with Browse.")
    try:
        exists, is_dir = path.exists(), path.is_dir()
    except OSError as exc:
        raise ValidationError("path", f"Folder cannot be checked: {exc.strerror or exc}.") from exc
    if not exists:
        raise ValidationError("path", f"Folder '{path}' does not exist.")
    if not is_dir:
        raise ValidationError("path", f"'{path}' is a file, not a folder.")
    if not os.access(path, os.R_OK | os.X_OK):
        raise ValidationError("path", f"Folder '{path}' is not readable by you; check its permissions.")
    resolved = path.resolve()
    bad = control_character(str(resolved))
    if bad:  # reached through a link
        raise ValidationError("path", f"Folder '{path}' leads to a path with a control character, {bad}; "
                                      "choose a folder whose path has none (rename it if needed).")
    warning = broad_path_warning(resolved)
    if warning and not allow_broad:
        raise ValidationError("path", warning + " Choose the project's own folder, or confirm to use it anyway.")
    return str(resolved)


def clean_ports(ports: Mapping[str, object], used_by_others: Mapping[int, str]) -> dict[str, int]:
    """Ports as integers in range, distinct within the project and unused by other projects.
    `used_by_others` maps a port to the name of the project that uses it. ValidationError: the first rule broken."""
    clean, problems = port_problems(ports, used_by_others)
    for field, message in problems.items():
        raise ValidationError(field, message)
    return clean


def port_problems(ports: Mapping[str, object],
                  used_by_others: Mapping[int, str]) -> tuple[dict[str, int], dict[str, str]]:
    """(the ports that are whole numbers in range, field -> message for every port that breaks a rule): a form
    shows all of them after one Save."""
    clean: dict[str, int] = {}
    problems: dict[str, str] = {}
    for field, value in ports.items():
        label = PORT_LABELS[field]
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and value.strip().isdigit():
                value = int(value.strip())
            else:
                problems[field] = f"{label} must be a whole number between {MIN_PORT} and {MAX_PORT}."
                continue
        if not MIN_PORT <= value <= MAX_PORT:
            problems[field] = f"{label} {value} is out of range; use {MIN_PORT}–{MAX_PORT}."
            continue
        clean[field] = value
    seen: dict[int, str] = {}
    for field, value in clean.items():
        if value in seen:
            other = PORT_LABELS[seen[value]].lower()
            problems[field] = f"{PORT_LABELS[field]} {value} is already this project's {other}."
        elif value in used_by_others:
            problems[field] = f"{PORT_LABELS[field]} {value} is used by project '{used_by_others[value]}'."
        seen.setdefault(value, field)
    return {f: v for f, v in clean.items() if f not in problems}, problems
