"""Log files a person can find by the project's name.

A project's log is `<logs>/<data key>.log`: the key never changes, so a rename cannot split a log, and a kept
key is never given to another project. Keys are opaque (`pe377d1ccfd15`), so beside them `<logs>/by-name/`
holds one link per project, `<name>.log -> ../<key>.log` (the project's name as it is shown, made safe for a file
name), made whenever a log of the project is opened, so it follows a rename at the next start. In a folder of
their own the links cannot collide with a key (older projects' keys are slugs). Where links cannot be made
(Windows without the privilege) there are none, and nothing else changes. No Qt here.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Protocol

from cchub_desktop.paths import AppPaths

BY_NAME = "by-name"
NOT_IN_FILE_NAMES = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')   # nor on Windows and macOS
MAX_STEM_BYTES = 200   # file names take 255 bytes; the temporary link adds a few


class NamedProject(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def slug(self) -> str: ...
    @property
    def data_key(self) -> str: ...


def by_name_dir(paths: AppPaths) -> Path:
    return paths.logs_dir / BY_NAME


def file_stem(name: str, fallback: str) -> str:
    """The project's name as a file name: characters no file name takes become `_`; no leading dot, no
    trailing dot or space (Windows drops them); `fallback` (the slug) when nothing is left."""
    stem = NOT_IN_FILE_NAMES.sub("_", name)
    while len(stem.encode()) > MAX_STEM_BYTES:
        stem = stem[:-1]
    return stem.strip(" .").lstrip(".") or fallback


def links_to(paths: AppPaths, key: str) -> list[Path]:
    """The links in by-name/ that lead to this key's log."""
    target = paths.log_file(key).name
    try:
        entries = list(by_name_dir(paths).iterdir())
    except OSError:
        return []
    found = []
    for entry in entries:
        try:
            if entry.is_symlink() and os.path.basename(os.readlink(entry)) == target:
                found.append(entry)
        except OSError:
            continue
    return found


def named_log_file(paths: AppPaths, project: NamedProject) -> Path:
    """The project's log file (by key), with by-name/<name>.log leading to it, and no other link to it."""
    log = paths.log_file(project.data_key)
    link = by_name_dir(paths) / f"{file_stem(project.name, project.slug)}.log"
    target = os.path.join(os.pardir, log.name)
    try:
        link.parent.mkdir(mode=0o700, exist_ok=True)
        for other in links_to(paths, project.data_key):
            if other != link:   # the project's name before a rename
                other.unlink(missing_ok=True)
        if link.is_symlink() and os.readlink(link) == target:
            return log
        temporary = link.with_name(f".{link.name}.{os.getpid()}")
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(target)
        os.replace(temporary, link)   # a link of a removed project of the same name is replaced at once
    except OSError:
        pass   # no links here: the log itself is unaffected
    return log
