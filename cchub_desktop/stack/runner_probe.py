"""A start that names an engine runner nothing answers on fails at once, saying so.

The real Dagger CLI (v0.21.8) given `_EXPERIMENTAL_DAGGER_RUNNER_HOST=unix://…` or `tcp://…` where no engine
listens keeps retrying and never hands the SDK a session: the start would wait for ever. Those two kinds of
address can be checked from here (as `cchub doctor` does), so a start checks them first."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from cchub_desktop.settings import RUNNER_HOST_ENV, AppSettings
from cchub_desktop.stack.doctor import runner_check
from cchub_desktop.stack.errors import StackError


def check_runner(settings: AppSettings) -> None:
    """Raise StackError (one line: what and what to do) when the runner is a unix:// or tcp:// address that
    does not answer; other runners (ssh://, image://, …) and the default engine are left to the CLI."""
    from_settings = settings.runner_host.strip()
    runner = from_settings or os.environ.get(RUNNER_HOST_ENV, "").strip()
    if urlsplit(runner).scheme not in ("unix", "tcp"):
        return
    check = runner_check(runner, "Settings" if from_settings else f"${RUNNER_HOST_ENV}")
    if not check.ok:
        raise StackError(f"{check.message} {check.fix}".strip(), step="engine")
