"""One exporter per state directory: an exclusive ``flock`` on ``exporter.lock``.

The lock is held for the life of the process and released by the kernel when it
exits, however it exits (kill -9 included), so there is no stale lock to clean up.
The holder writes its pid into the file so that the loser can name it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from pathlib import Path

from thinkt.status import ExitStatus, ThinktError

log = logging.getLogger(__name__)

LOCK_FILE = "exporter.lock"


class LockHeld(ThinktError):
    """Another exporter holds the lock of this state directory."""

    status = ExitStatus.TEMPFAIL

    def __init__(self, pid: int | None):
        who = f" (pid {pid})" if pid else ""
        super().__init__(f"another thinkt exporter is running{who}",
                         hint="It ships the same files; this run has nothing to add. "
                              "Stop it first to run by hand.")
        self.pid = pid


class ExporterLock:
    """The exclusive lock of one state directory."""

    def __init__(self, state_dir: Path):
        self.path = state_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self, wait: float = 0.0) -> "ExporterLock":
        """Take the lock, trying for up to ``wait`` seconds; raise LockHeld if another has it."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    pid = _read_pid(fd)
                    os.close(fd)
                    raise LockHeld(pid) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Let the next exporter in (the file stays: unlinking it would race)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "ExporterLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
