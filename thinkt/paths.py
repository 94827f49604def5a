"""Where thinkt keeps its state: ``~/.thinkt``, or the directories systemd hands us."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """Return the state directory: ``$STATE_DIRECTORY`` under systemd, else ``~/.thinkt``."""
    env = os.environ if env is None else env
    # systemd may pass several directories separated by ':'; the first one is ours.
    systemd_dir = env.get("STATE_DIRECTORY", "").split(":")[0]
    if systemd_dir:
        return Path(systemd_dir)
    home = env.get("HOME") or os.path.expanduser("~")
    return Path(home) / ".thinkt"


def runtime_dir(env: Mapping[str, str] | None = None) -> Path | None:
    """Return ``$RUNTIME_DIRECTORY`` under systemd, or None to use a private temp dir."""
    env = os.environ if env is None else env
    systemd_dir = env.get("RUNTIME_DIRECTORY", "").split(":")[0]
    return Path(systemd_dir) if systemd_dir else None


def home_dir(env: Mapping[str, str] | None = None) -> Path:
    """Return the user's home directory (``$HOME`` first, so tests can fake it)."""
    env = os.environ if env is None else env
    return Path(env.get("HOME") or os.path.expanduser("~"))
