"""The CommandCenter stack on Dagger: config, recipe, plan, secrets, logs, errors, doctor and the stack itself.

No Qt here. Importing this package does not import the Dagger SDK's engine code until a stack is used.
"""

from cchub_desktop.stack.config import CommandCenterConfig, ImageSettings, SourceSettings
from cchub_desktop.stack.doctor import DoctorCheck, DoctorReport, run_doctor, run_doctor_sync
from cchub_desktop.stack.errors import StackError
from cchub_desktop.stack.logs import LogLine, StackLog
from cchub_desktop.stack.phases import StackPhase
from cchub_desktop.stack.plan import StackPlan, build_plan, format_plan
from cchub_desktop.stack.secrets_store import ProjectSecrets
from cchub_desktop.stack.stack import CommandCenterStack

__all__ = [
    "CommandCenterConfig", "CommandCenterStack", "DoctorCheck", "DoctorReport", "ImageSettings", "LogLine",
    "ProjectSecrets", "SourceSettings", "StackError", "StackLog", "StackPhase", "StackPlan", "build_plan",
    "format_plan", "run_doctor", "run_doctor_sync",
]
