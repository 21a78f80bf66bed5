"""StackError and the mapping from Dagger SDK errors to messages a user can act on.

Every message says what happened and what to do; the technical text goes to `detail` (for the log). Known
secret values are replaced by *** in both, because an engine error can quote a command line or a URL.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from cchub_desktop.stack.runtime_advice import no_runtime_message

SCRUBBED = "***"
STDERR_TAIL_LINES = 8
STDERR_TAIL_CHARS = 800


class ExecErrorLike(Protocol):
    command: list[str]
    message: str
    exit_code: int
    stdout: str
    stderr: str


class StackError(Exception):
    """A stack operation failed. `user_message` is for the user; `detail` is for the log."""

    def __init__(self, user_message: str, detail: str = "", step: str | None = None, *,
                 log_detail: str | None = None, output: str = "") -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.detail = detail
        self.step = step
        # what the log gets: the detail without the failed command's `output` (an exec's stdout/stderr),
        # which the engine usually streams into the log under its own service (log_text decides);
        # `logged` once the stack wrote it, so no one writes it again
        self.log_detail = detail if log_detail is None else log_detail
        self.output = output
        self.logged = False
        self.details_in: Path | None = None   # the log file that has the detail (a command line says so)

    @property
    def output_last_line(self) -> str:
        """The failed command's last line of output: found in the log, the engine streamed the output."""
        return next((line.strip() for line in reversed(self.output.splitlines()) if line.strip()), "")

    def log_text(self, output_in_log: bool) -> str:
        """The log's account of this error: it points to the output above only when the log has it, else
        it carries the whole output itself."""
        if not self.output.strip():
            return self.log_detail
        if output_in_log:
            return f"{self.log_detail} (its output is above)"
        return f"{self.log_detail}\noutput:\n{self.output.rstrip()}"

    def __str__(self) -> str:
        return self.user_message


def scrub(text: str, secret_values: Iterable[str]) -> str:
    for value in sorted({v for v in secret_values if v}, key=len, reverse=True):
        text = text.replace(value, SCRUBBED)
    return text


def tail(text: str, lines: int = STDERR_TAIL_LINES, chars: int = STDERR_TAIL_CHARS) -> str:
    kept = "\n".join(line.rstrip() for line in text.strip().splitlines()[-lines:])
    return kept if len(kept) <= chars else "…" + kept[-chars:]


NO_RUNTIME_HINTS = ("docker", "podman", "nerdctl", "container runtime", "daemon", "no runtime")
NO_RUNTIME = no_runtime_message()
PORT_IN_USE = re.compile(r"(?:address already in use|port is already allocated|bind:)", re.IGNORECASE)
PORT_NUMBER = re.compile(r":(\d{2,5})\b")
IMAGE_PULL = re.compile(r"(pull access denied|manifest unknown|not found: manifest|failed to resolve source "
                        r"metadata|failed to resolve image|repository does not exist|no such image)",
                        re.IGNORECASE)
GIT_FAILURE = re.compile(r"(git|repository|remote ref|couldn't find remote|authentication required)",
                         re.IGNORECASE)


def map_error(exc: BaseException, step: str | None, step_label: str = "", *,
              secret_values: Iterable[str] = (), port_roles: dict[int, str] | None = None,
              engine_output: str = "") -> StackError:
    """A StackError for an exception raised by the Dagger SDK while doing `step_label` (e.g. "starting
    PostgreSQL"). `port_roles` names the host ports of this stack, for a port-in-use message;
    `engine_output` is what the CLI printed meanwhile (the SDK often reports a CLI that exited at once
    only as "No connection params", while the reason went to the log)."""
    values = tuple(secret_values)
    error = _map(exc, step, step_label or (step or "starting the stack"), port_roles or {}, engine_output)
    error.user_message = scrub(error.user_message, values)
    error.detail = scrub(error.detail, values)
    error.output = scrub(error.output, values)
    return error


def _map(exc: BaseException, step: str | None, doing: str, port_roles: dict[int, str],
         engine_output: str = "") -> StackError:
    text = str(exc)
    detail = f"{type(exc).__name__}: {text}"
    if isinstance(exc, StackError):
        return exc
    dagger = sys.modules.get("dagger")  # not imported yet: then this is not a Dagger error
    if dagger is None:
        return _other_error(exc, text, detail, step, doing)
    if isinstance(exc, dagger.DownloadError):
        return StackError("The Dagger CLI is not installed and could not be downloaded (no network?). Connect "
                          "to the internet and try again, or install Dagger and set its path in Settings → "
                          "Engine.", detail, step)
    if isinstance(exc, dagger.SessionError):
        return _session_error(exc, detail, step, engine_output)
    if isinstance(exc, dagger.ProvisionError):
        return StackError(f"The Dagger engine could not be set up: {_first_line(text)}. Run `cchub doctor` "
                          "to check the engine setup.", detail, step)
    if isinstance(exc, dagger.ClientConnectionError):
        return StackError("Could not connect to the Dagger engine session. Check that Docker is running and "
                          "try again; `cchub doctor` checks the engine setup.", detail, step)
    if isinstance(exc, dagger.TransportError):
        return StackError(f"The connection to the Dagger engine was lost while {doing} (the engine or its CLI "
                          "stopped). Check that Docker is running and start the project again.", detail, step)
    if isinstance(exc, dagger.ExecError):
        return _exec_error(exc, step, doing)
    if isinstance(exc, dagger.QueryError):
        return _query_error(text, detail, step, doing, port_roles)
    return _other_error(exc, text, detail, step, doing)


def _other_error(exc: BaseException, text: str, detail: str, step: str | None, doing: str) -> StackError:
    if isinstance(exc, TimeoutError):
        return StackError(f"Timed out while {doing}. Check the engine (`cchub doctor`) and try again.",
                          detail, step)
    if isinstance(exc, OSError):   # says what failed, not what became of the stack (a backup leaves it running)
        where = f" ({exc.filename})" if exc.filename else ""
        return StackError(f"{doing[:1].upper()}{doing[1:]} failed: {exc.strerror or text}{where}.", detail, step)
    return StackError(f"Unexpected error while {doing}: {_first_line(text) or type(exc).__name__}. The log "
                      "has the details.", detail, step)


def _session_error(exc: BaseException, detail: str, step: str | None, engine_output: str = "") -> StackError:
    cause = exc.__cause__
    if isinstance(cause, FileNotFoundError | PermissionError):
        path = cause.filename or "the configured path"
        what = "was not found" if isinstance(cause, FileNotFoundError) else "cannot be run (permission denied)"
        return StackError(f"The Dagger CLI at {path} {what}. Fix the path in Settings → Engine (or clear it "
                          "to let the app download the CLI) and try again.", detail, step)
    said = f"{exc}\n{engine_output}".strip()
    if engine_output.strip():
        detail += f"\nCLI output:\n{tail(engine_output)}"
    lowered = said.lower()
    if any(hint in lowered for hint in NO_RUNTIME_HINTS) or "exit status" in lowered:
        last = _last_line(said)
        suffix = f" (engine said: {last})" if last else ""
        return StackError(NO_RUNTIME + suffix, detail, step)
    return StackError(f"The Dagger engine session did not start: {_first_line(str(exc))}. Check that "
                      "Docker is running (`cchub doctor`) and try again.", detail, step)


def _exec_error(exc: ExecErrorLike, step: str | None, doing: str) -> StackError:
    command = " ".join(exc.command)
    output = exc.stderr.strip() or exc.stdout.strip()
    last = tail(output)
    message = f"{doing[:1].upper()}{doing[1:]} failed: `{_short(command)}` exited with code {exc.exit_code}."
    if last:
        message += f"\nLast output:\n{last}"
    from cchub_desktop.stack.migration_error import migration_failure

    message = migration_failure(command, output) or message
    header = f"ExecError: {exc.message}\ncommand: {command}\nexit code: {exc.exit_code}"
    detail = f"{header}\nstdout:\n{exc.stdout}\nstderr:\n{exc.stderr}"
    output_text = "\n".join(part.rstrip() for part in (exc.stdout, exc.stderr) if part.strip())
    return StackError(message, detail, step, log_detail=header, output=output_text)


def _query_error(text: str, detail: str, step: str | None, doing: str,
                 port_roles: dict[int, str]) -> StackError:
    if PORT_IN_USE.search(text):
        port = _port_in(text, port_roles)
        if port is not None:
            from cchub_desktop.ports import PortConflict, port_holder
            return StackError(PortConflict(port, port_roles.get(port, "host"), port_holder(port)).message(),
                              detail, step)
    if IMAGE_PULL.search(text):
        return StackError(f"An image could not be pulled while {doing}: {_first_line(text)}. Check the image "
                          "names in Settings and your network, then try again.", detail, step)
    if step == "source" and GIT_FAILURE.search(text):
        return StackError(f"The CommandCenter source could not be fetched: {_first_line(text)}. Check the git "
                          "URL and ref in Settings (or use a local checkout) and try again.", detail, step)
    return StackError(f"The Dagger engine reported an error while {doing}: {_first_line(text)}", detail, step)


def _port_in(text: str, port_roles: dict[int, str]) -> int | None:
    found = [int(m) for m in PORT_NUMBER.findall(text)]
    for port in found:
        if port in port_roles:
            return port
    return found[0] if found else None


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return _short(lines[-1], 300) if len(lines) > 1 else ""


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
