"""Real processes for integration tests: a ``thinkt collect`` on a free port, stopped for sure.

Each collector runs in its own process group (so a test can kill -9 the whole tree as
a crash would), writes its log to a file the test can read, and is stopped with a
bound: SIGTERM, then SIGKILL of the group. Nothing outlives the test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.conftest import free_port

REPO = Path(__file__).resolve().parent.parent


def thinkt_command(*args: str) -> list[str]:
    """Return the argv that runs ``thinkt ARGS`` from this checkout."""
    return [sys.executable, "-m", "thinkt", *args]


def child_env(home: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment for a child process: this checkout importable, HOME as given."""
    # Never let the developer's own THINKT_* settings or systemd variables leak in.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("THINKT_") and k not in ("NOTIFY_SOCKET", "STATE_DIRECTORY")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    if home is not None:
        env["HOME"] = str(home)
    env.update(extra)
    return env


class Collector:
    """A running ``thinkt collect`` process."""

    def __init__(self, storage: Path, log_path: Path, *args: str, token: str | None = None,
                 port: int | None = None, workers: int = 2):
        self.storage = storage
        self.log_path = log_path
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = token
        self.workers = workers
        self.args = ["collect", "--host", "127.0.0.1", "--port", str(self.port),
                     "--storage", str(storage), "--workers", str(workers), *args]
        if token:
            self.args += ["--token", token]
        self.proc: subprocess.Popen | None = None

    @property
    def headers(self) -> dict[str, str]:
        """Authorization headers for this collector's token (if any)."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def start(self, wait: bool = True, timeout: float = 60.0) -> "Collector":
        """Start the process (in its own group); by default wait until it is healthy."""
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(thinkt_command(*self.args), stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL, env=child_env(),
                                     start_new_session=True)
        log.close()
        if wait:
            self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float = 60.0) -> None:
        """Poll health until 200 and every worker is forked; fail with the log if the
        process dies or time runs out.

        Health answers once one worker is up, and gunicorn forks the others a moment
        apart: a test that counts workers or the arbiter's files must see all of them.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"collector exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if requests.get(self.url + "/v1/collector/health", timeout=2).status_code == 200 \
                        and len(self.worker_pids()) >= self.workers:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"collector not healthy after {timeout}s:\n{self.log()}")

    def worker_pids(self) -> set[int]:
        """The gunicorn workers: the arbiter's children that share its command line."""
        found = set()
        arbiter = self.proc.pid if self.proc is not None else None
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(fields[1]) == arbiter and fields[0] != "Z" and b"collect" in cmdline:
                found.add(int(entry.name))
        return found

    def log(self) -> str:
        """The collector's output so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def get(self, path: str, **kwargs):
        """GET ``path`` with the token."""
        return requests.get(self.url + path, headers=self.headers, timeout=30, **kwargs)

    def post(self, path: str, **kwargs):
        """POST to ``path`` with the token."""
        headers = dict(self.headers, **kwargs.pop("headers", {}))
        return requests.post(self.url + path, headers=headers, timeout=60, **kwargs)

    def kill_group(self) -> None:
        """kill -9 every process of the collector at once, as a crash or OOM kill would."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
        wait_group_gone(self.proc.pid)

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM the arbiter and wait for the whole tree to exit; return its status."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill_group()
            raise AssertionError(f"collector ignored SIGTERM for {timeout}s:\n{self.log()}")
        wait_group_gone(self.proc.pid)
        return code

    def stop(self) -> None:
        """Stop the collector whatever state it is in (for fixture teardown)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.terminate(timeout=30)
            except AssertionError:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def group_pids(pgid: int) -> list[int]:
    """Return the live (non-zombie) pids of a process group."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is the state, fields[2] the process group
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


def wait_group_gone(pgid: int, timeout: float = 15.0) -> None:
    """Wait until no process of the group is left; fail naming the survivors."""
    deadline = time.monotonic() + timeout
    while group_pids(pgid):
        if time.monotonic() > deadline:
            raise AssertionError(f"processes of group {pgid} still alive: {group_pids(pgid)}")
        time.sleep(0.05)


def wait_for(condition, timeout: float, what: str, detail=None):
    """Poll ``condition()`` until it returns something true, and return that; at
    ``timeout`` fail naming ``what`` (and ``detail()``, e.g. the end of a log)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}"
                         + (detail() if detail is not None else ""))
