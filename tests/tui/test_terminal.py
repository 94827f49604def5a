"""The pages in a real terminal: tmux at 100x30, captured and read like an operator would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.harness import child_env
from tests.tui.conftest import TOKEN, write_status_file

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]

WIDTH, HEIGHT = 100, 30


class Terminal:
    """One private tmux server (its own socket) running one command at 100x30."""

    def __init__(self, socket: str):
        self.socket = socket

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                              text=True, timeout=10).stdout

    def start(self, command: list[str], env: dict[str, str], cwd: str) -> None:
        shell = " ".join(f"{k}='{v}'" for k, v in env.items() if k in (
            "HOME", "PYTHONPATH", "PATH", "LANG", "LC_ALL")) + " exec " + " ".join(
            f"'{part}'" for part in command)
        subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", "new-session", "-d",
                        "-s", "t", "-c", cwd, "-x", str(WIDTH), "-y", str(HEIGHT), shell],
                       check=True, timeout=10, env={**env, "TERM": "xterm-256color"})

    def screen(self) -> list[str]:
        return self.tmux("capture-pane", "-p", "-t", "t").splitlines()

    def wait_for(self, text: str, timeout: float = 30.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.screen()
            if any(text in line for line in lines):
                time.sleep(0.5)  # let the rest of the frame land
                return self.screen()
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared:\n" + "\n".join(self.screen()))

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "t", *keys)

    def alive(self) -> bool:
        return subprocess.run(["tmux", "-L", self.socket, "has-session", "-t", "t"],
                              capture_output=True, timeout=10).returncode == 0

    def kill(self) -> None:
        self.tmux("kill-server")


@pytest.fixture
def terminal():
    term = Terminal(f"thinkt-tui-test-{os.getpid()}")
    try:
        yield term
    finally:
        term.kill()


def line_with(lines: list[str], *words: str) -> str:
    """The one line holding every word, in order and whole (a cut-off header fails here)."""
    found = [line for line in lines if all(word in line for word in words)]
    assert len(found) == 1, (words, "\n".join(lines))
    positions = [found[0].index(word) for word in words]
    assert positions == sorted(positions), found[0]
    return found[0]


def test_pages_render_in_a_real_terminal(collector, terminal, tmp_path):
    home = tmp_path / "home"
    write_status_file(home / ".thinkt", redactions={"aws_access_key": 3, "github_token": 9})
    env = child_env(home, LANG="C.UTF-8")
    command = [sys.executable, "-c", "from thinkt.tui.command import tui; tui()",
               "collector", "--collector-url", collector.url, "--api-key", TOKEN]
    terminal.start(command, env, str(tmp_path))

    lines = terminal.wait_for("Recent sessions")
    assert len(lines) <= HEIGHT and all(len(line) <= WIDTH for line in lines)
    assert "Collector" in lines[0] and collector.url in lines[0]
    # Summary labels each start their own line: nothing drawn over them.
    for label in ("Server", "Status", "Uptime", "Traces", "Sessions", "Agents", "Database",
                  "Tokens"):
        assert any(line.lstrip().startswith(label + " ") for line in lines), label
    agents = line_with(lines, "Hostname", "Version", "Heartbeat", "Traces", "Status",
                       "Instance")
    sessions = line_with(lines, "Source", "Project", "Model", "Entries", "Last update")
    assert lines.index(agents) < lines.index(sessions)
    line_with(lines, "laptop-ana", "1.3.2", "active")
    line_with(lines, "esc", "Back", "q", "Quit", "r", "Refresh")

    terminal.keys("j", "j", "j")
    time.sleep(1)
    scrolled = terminal.screen()
    assert "Collector" in scrolled[0], "the header stays while the body scrolls"
    assert scrolled[1] != lines[1], "j scrolled the body"

    terminal.keys("Escape")
    menu = terminal.wait_for("Exporter: this machine")
    line_with(menu, "Collector: server, agents, recent sessions")
    terminal.keys("e")
    exporter = terminal.wait_for("Watched directories")
    for label in ("Exporter", "Collector", "Found by", "Connection", "Watching", "Buffer",
                  "Shipped", "Failed", "Rejected", "Redacted", "Last ship", "Lag"):
        assert any(line.lstrip().startswith(label + " ") for line in exporter), label
    assert len(exporter) <= HEIGHT and all(len(line) <= WIDTH for line in exporter)
    line_with(exporter, "Redacted", "12 secrets: github_token 9, aws_access_key 3")
    line_with(exporter, "claude=/home/dev/.claude/projects")
    terminal.keys("q")
    deadline = time.monotonic() + 15
    while terminal.alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not terminal.alive(), "q quits the program"
