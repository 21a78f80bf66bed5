"""Whether the engine's garbage collection is pruning now: Dagger's default policy keeps 20 % of the engine's
disk free, and below that it prunes every cache entry no session uses after each session ends — stopped
projects' database volumes and the build caches alike. Seen on Dagger v0.21.8 with 18 % free: a stopped
project's database volume discarded 3 minutes after its stop (the next start restored the host copy) and the
backend's 7 GB install layer pruned 10 s after the session ended, so every start re-installed it.

Judged from the host, for an engine whose state is on this machine (its state folder exists here); a remote or
VM engine's disk is not visible, and then nothing is said. No Qt, no Dagger."""

from __future__ import annotations

import shutil
from pathlib import Path

MIN_FREE_FRACTION = 0.20   # Dagger's default gc.minFreeSpace (docs: "at least 20% of the disk remains free")
STATE_DIRS = (Path("/var/lib/dagger"), Path("/var/lib/docker"))   # a host engine's, a Docker-run engine's


BUILD_BYTES = 10_000_000_000   # what a first build of CommandCenter adds to the engine's disk (7.2 GB seen)
PRUNES = ("the engine prunes every cache entry no session uses as each session ends, so a stopped project's "
          "database volume is discarded minutes after its stop and every start rebuilds the backend")
PROTECTS = ("The app restores each database from its host copy at the next start; free disk space (or set "
            "gc.minFreeSpace in the engine's engine.json) to keep the build caches.")


def disk_pressure_note(state_dirs: tuple[Path, ...] = STATE_DIRS) -> str | None:
    """A warning when the disk of a local engine's state has less free space than the engine keeps free, or
    will have once a first build lands on it."""
    for folder in state_dirs:
        try:
            usage = shutil.disk_usage(folder)
        except OSError:
            continue
        if usage.total <= 0:
            continue
        keep = MIN_FREE_FRACTION * usage.total
        free = f"{usage.free / usage.total:.0%} free ({usage.free / 1e9:.0f} GB)"
        if usage.free < keep:
            return (f"warning: the engine's disk ({folder}) has {free}, under the {MIN_FREE_FRACTION:.0%} Dagger "
                    f"keeps free by default: {PRUNES}. {PROTECTS}")
        if usage.free < keep + BUILD_BYTES:
            return (f"warning: the engine's disk ({folder}) has {free}, close to the {MIN_FREE_FRACTION:.0%} "
                    f"Dagger keeps free by default; a first build of CommandCenter (about 8 GB) takes it under, "
                    f"and then {PRUNES}. {PROTECTS}")
        return None
    return None
