"""The keys CommandCenter's backend reads that a user gives (API keys, tokens) and what each one enables.

Read from the source's `backend/app/config.py` (pydantic-settings: a field `openai_api_key` is the variable
OPENAI_API_KEY) when a local checkout is at hand, so a key added upstream shows without a release of the app;
else the list below, found in upstream's config.py and .env.template. No Qt, no Dagger.
"""

from __future__ import annotations

import ast
import contextlib
from dataclasses import dataclass
from pathlib import Path

SECRET_SUFFIXES = ("_API_KEY", "_TOKEN", "_SECRET")


@dataclass(frozen=True)
class KnownKey:
    key: str
    enables: str
    secret: bool = True


BUILT_IN = (
    KnownKey("ANTHROPIC_API_KEY", "Claude models for chat, agents and summaries"),
    KnownKey("OPENAI_API_KEY", "OpenAI models and embeddings"),
    KnownKey("GOOGLE_API_KEY", "Gemini models"),
    KnownKey("OPENROUTER_API_KEY", "models through OpenRouter"),
    KnownKey("GITHUB_TOKEN", "GitHub integration: repositories, issues and pull requests"),
    KnownKey("SLACK_TOKEN", "Slack integration: notifications and messages"),
)


def keys_in_config(config_py: Path) -> list[str]:
    """Variable names of the settings fields in a pydantic-settings file that look like credentials."""
    try:
        tree = ast.parse(config_py.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return []
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    name = item.target.id.upper()
                    if name.endswith(SECRET_SUFFIXES) and name not in found:
                        found.append(name)
    return found


def known_keys(source_dir: Path | None = None) -> list[KnownKey]:
    """The built-in keys, plus those the source's config.py names that the list does not know."""
    keys = list(BUILT_IN)
    if source_dir is not None:
        with contextlib.suppress(OSError):
            known = {k.key for k in keys}
            for name in keys_in_config(Path(source_dir) / "backend" / "app" / "config.py"):
                if name not in known:
                    keys.append(KnownKey(name, "read by the backend's config.py"))
    return keys
