"""What to tell a user whose container runtime is missing or stopped, for the platform the app runs on:
Docker Desktop on macOS and Windows, the Docker or Podman service on Linux."""

from __future__ import annotations

import platform


def _system(system: str | None) -> str:
    return (system or platform.system()).lower()


def start_advice(runtime: str = "docker", system: str | None = None) -> str:
    """One sentence: how to start the runtime that did not answer."""
    linux = _system(system) == "linux"
    if runtime == "podman":
        return ("Start Podman (`systemctl --user start podman.socket`) and try again." if linux
                else "Start Podman Desktop (or `podman machine start`) and try again.")
    if runtime == "docker":
        return ("Start the Docker service (`sudo systemctl start docker`) and try again." if linux
                else "Start Docker Desktop and try again.")
    return f"Start {runtime.capitalize()} and try again."


def install_advice(system: str | None = None) -> str:
    """One sentence: what to install when no container runtime is found."""
    if _system(system) == "linux":
        return "Install Docker Engine (or Podman) and start it"
    return "Install Docker Desktop (or Podman Desktop) and start it"


def no_runtime_message(system: str | None = None) -> str:
    """The message of a start that failed because no container runtime answered."""
    if _system(system) == "linux":
        return ("Docker is not running — start the Docker service (`sudo systemctl start docker`) or Podman and "
                "try again. `cchub doctor` checks the engine setup.")
    return ("Docker is not running — start Docker Desktop (or Podman) and try again. "
            "`cchub doctor` checks the engine setup.")
