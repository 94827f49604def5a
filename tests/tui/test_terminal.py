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

    def settled(self, predicate, what: str, timeout: float = 30.0) -> list[str]:
        """Poll until the screen satisfies ``predicate`` and two captures in a row agree
        (the frame has landed whole); return that screen."""
        deadline = time.monotonic() + timeout
        previous = None
        while time.monotonic() < deadline:
            lines = self.screen()
            if lines == previous:
                return lines
            previous = lines if predicate(lines) else None
            time.sleep(0.1)
        raise AssertionError(f"{what} never came:\n" + "\n".join(self.screen()))

    def wait_for(self, *texts: str, timeout: float = 30.0) -> list[str]:
        """The settled screen once every one of ``texts`` is on it."""
        return self.settled(lambda lines: all(any(text in line for line in lines)
                                              for text in texts), repr(texts), timeout)

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

    # The section titles are drawn before the first fetch lands: wait for its rows too.
    lines = terminal.wait_for("Recent sessions", "laptop-ana", "service-19")
    assert len(lines) <= HEIGHT and all(len(line) <= WIDTH for line in lines)
    assert "Collector" in lines[0] and collector.url in lines[0]
    # Summary labels each start their own line: nothing drawn over them.
    for label in ("Server", "Status", "Uptime", "Traces", "Sessions", "Agents", "Database",
                  "Tokens"):
        assert any(line.lstrip().startswith(label + " ") for line in lines), label
    agents = line_with(lines, "Hostname", "Version", "Heartbeat", "Traces", "Status",
                       "Instance")
    sessions = line_with(lines, "Source", "Project", "Model", "Entries", "Received")
    assert lines.index(agents) < lines.index(sessions)
    line_with(lines, "laptop-ana", "1.3.2", "active")
    line_with(lines, "esc", "Back", "q", "Quit", "r", "Refresh")

    # Each j is decided once the sessions' header line has moved up by one more line.
    for step in (1, 2, 3):
        terminal.keys("j")
        row = lines.index(sessions) - step
        scrolled = terminal.settled(lambda screen: screen[row:row + 1] == [sessions],
                                    f"the body scrolled by {step} lines")
        assert scrolled[0] == lines[0] and "Collector" in scrolled[0], \
            "the header stays while the body scrolls"

    terminal.keys("Escape")
    menu = terminal.wait_for("Exporter: this machine")
    line_with(menu, "Collector: server, agents, recent sessions")
    terminal.keys("e")
    exporter = terminal.wait_for("Watched directories", "Redacted", "claude=")
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


def test_keys_that_arrive_together_each_scroll(collector, terminal, tmp_path):
    """Holding j down (key repeat) sends keys faster than frames are drawn."""
    env = child_env(tmp_path / "home", LANG="C.UTF-8")
    terminal.start([sys.executable, "-c", "from thinkt.tui.command import tui; tui()",
                    "collector", "--collector-url", collector.url, "--api-key", TOKEN],
                   env, str(tmp_path))
    lines = terminal.wait_for("Recent sessions", "laptop-ana", "service-19")
    sessions = line_with(lines, "Source", "Project", "Model", "Entries", "Received")
    terminal.keys("j", "j", "j")
    scrolled = terminal.settled(lambda screen: sessions in screen[1:]
                                and screen.index(sessions) < lines.index(sessions),
                                "the body scrolled")
    assert lines.index(sessions) - scrolled.index(sessions) == 3
