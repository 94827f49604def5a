"""A real ``thinkt export`` process for integration tests: started, signalled, always reaped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from tests.harness import child_env, thinkt_command


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


class Exporter:
    """``python -m thinkt export ARGS`` with HOME at a fake home; output in a log file."""

    def __init__(self, home: Path, log_path: Path, *args: str, **env: str):
        self.home = home
        self.log_path = log_path
        self.args = ["export", *args]
        self.env = child_env(home, **env)
        self.proc: subprocess.Popen | None = None

    @property
    def state_dir(self) -> Path:
        return Path(self.env["STATE_DIRECTORY"]) if "STATE_DIRECTORY" in self.env \
            else self.home / ".thinkt"

    def start(self) -> "Exporter":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(thinkt_command(*self.args), stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL, env=self.env, cwd=self.home,
                                     start_new_session=True)
        log.close()
        return self

    def run(self, timeout: float = 120.0) -> subprocess.CompletedProcess:
        """Run to completion (one-shot modes); return the completed process."""
        return subprocess.run(thinkt_command(*self.args), capture_output=True, text=True,
                              env=self.env, cwd=self.home, timeout=timeout)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def status(self) -> dict | None:
        try:
            return json.loads((self.state_dir / "exporter-status.json").read_text())
        except (OSError, ValueError):
            return None

    def wait_for(self, predicate, timeout: float = 30.0, what: str = "condition"):
        """Poll ``predicate()`` until it returns something true; fail with the log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"exporter exited ({self.proc.returncode}) waiting for "
                                     f"{what}:\n{self.log()}")
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}:\n{self.log()}")

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until the exporter wrote its first status (watches set up)."""
        self.wait_for(lambda: (self.status() or {}).get("pid") == self.proc.pid, timeout,
                      "the exporter's status file")

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait; return the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        """kill -9, as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """Stop whatever state it is in (fixture teardown)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.terminate(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
