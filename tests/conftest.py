"""Fixtures for every test: a scrubbed environment, a fake home, the shared samples."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

#: Real session files written by the real tools, kept beside the checkout (never copied).
SAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "samples"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch, tmp_path):
    """Drop THINKT_* and systemd variables, and point HOME/XDG_* into tmp_path."""
    for name in list(os.environ):
        if name.startswith("THINKT_") or name in (
            "NOTIFY_SOCKET", "STATE_DIRECTORY", "RUNTIME_DIRECTORY", "CONFIGURATION_DIRECTORY",
            "LOGS_DIRECTORY", "CACHE_DIRECTORY", "JOURNAL_STREAM", "CODEX_HOME",
            "CLAUDE_CONFIG_DIR", "KIMI_SHARE_DIR", "WATCHDOG_USEC", "LISTEN_FDS",
            # The assistants' own variables that move their session directories.
            "GEMINI_CLI_HOME", "KIMI_CODE_HOME", "COPILOT_HOME", "QWEN_HOME", "QWEN_RUNTIME_DIR",
        ):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))


@pytest.fixture
def home(tmp_path) -> Path:
    """The fake home directory every test runs with."""
    return tmp_path / "home"


@pytest.fixture(scope="session")
def samples() -> Path:
    """The shared real-session samples; skips the test where they are absent."""
    if not SAMPLES.is_dir():
        pytest.skip(f"shared samples not found at {SAMPLES} (CI keeps shared/ beside the clone)")
    return SAMPLES


def free_port() -> int:
    """Return a TCP port on loopback that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
