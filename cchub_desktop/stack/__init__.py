"""The CommandCenter stack on Dagger: config, recipe, plan, secrets, logs, errors, doctor and the stack itself.

No Qt here. Names are imported when first used (PEP 562): `from cchub_desktop.stack.source_pin import ...` or
`from cchub_desktop.stack import LogLine` loads that module alone, not the doctor, the plan or the stack (and
asyncio with them), so the window's first paint does not pay for them. The Dagger SDK's engine code is
imported only when a stack is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cchub_desktop.stack.config import CommandCenterConfig, ImageSettings
    from cchub_desktop.stack.doctor import run_doctor, run_doctor_sync
    from cchub_desktop.stack.doctor_report import DoctorCheck, DoctorReport
    from cchub_desktop.stack.errors import StackError
    from cchub_desktop.stack.logs import LogLine, StackLog
    from cchub_desktop.stack.phases import StackPhase
    from cchub_desktop.stack.plan import StackPlan, build_plan, format_plan
    from cchub_desktop.stack.secrets_store import ProjectSecrets
    from cchub_desktop.stack.source_settings import SourceSettings
    from cchub_desktop.stack.stack import CommandCenterStack

__all__ = [
    "CommandCenterConfig", "CommandCenterStack", "DoctorCheck", "DoctorReport", "ImageSettings", "LogLine",
    "ProjectSecrets", "SourceSettings", "StackError", "StackLog", "StackPhase", "StackPlan", "build_plan",
    "format_plan", "run_doctor", "run_doctor_sync",
]
_HOME = {
    "CommandCenterConfig": "config", "ImageSettings": "config", "SourceSettings": "source_settings",
    "DoctorCheck": "doctor_report", "DoctorReport": "doctor_report",
    "run_doctor": "doctor", "run_doctor_sync": "doctor",
    "StackError": "errors", "LogLine": "logs", "StackLog": "logs", "StackPhase": "phases",
    "StackPlan": "plan", "build_plan": "plan", "format_plan": "plan", "ProjectSecrets": "secrets_store",
    "CommandCenterStack": "stack",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
