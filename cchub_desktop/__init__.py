"""CommandCenter Hub Desktop: one isolated CommandCenter stack per project, through Dagger."""

__version__ = "0.1.0"
APP_NAME = "CommandCenter Hub"
APP_ID = "cchub-desktop"
ORG_NAME = "CommandCenter"
