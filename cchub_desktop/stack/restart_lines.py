"""The log line a one-service restart ends with, written by the stack and read back by the window (the Services
tab's Up column restarts from it), so both sides share one format. No Qt, no Dagger."""

from __future__ import annotations

import re

# the stack's services, in start order (stack/recipe.py builds them; a test keeps the two the same)
STACK_SERVICES = ("postgres", "redis", "nats", "backend", "worker", "beat", "frontend")
# "restarted the redis …" in logs written before the service names went bare (still read back)
DONE = re.compile(r"restarted (?:the )?(?P<name>[\w-]+)(?: with (?P<others>[\w, -]+?))? in \d+(?:\.\d+)? s$")


def done_text(name: str, with_it: list[str], seconds: float) -> str:
    """'restarted redis with backend, worker in 12.0 s': the service names as the Services tab and the menus
    show them."""
    return f"restarted {name}" + (f" with {', '.join(with_it)}" if with_it else "") + f" in {seconds:.1f} s"


def restarted_in(text: str) -> tuple[str, ...]:
    """The services a log line says were restarted (none for any other line)."""
    match = DONE.search(text)
    if match is None:
        return ()
    others = match.group("others")
    return (match.group("name"), *(others.split(", ") if others else ()))
