"""Progress of a one-shot export on a terminal: one line, redrawn, erased at the end."""

from __future__ import annotations

import sys
import time
from typing import TextIO


#: Redraw the progress line at most this often.
REDRAW = 0.2


class Progress:
    """A one-line progress display on a terminal; silent anywhere else."""

    def __init__(self, total_bytes: int, stream: TextIO | None = None,
                 enabled: bool | None = None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total = total_bytes
        self.done = 0
        self._started = time.monotonic()
        self._drawn = 0.0

    def advance(self, source: str, nbytes: int) -> None:
        """Count ``nbytes`` more read (from ``source``); redraw if it is time."""
        self.done += nbytes
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._drawn >= REDRAW:
            self._drawn = now
            elapsed = max(now - self._started, 1e-6)
            percent = 100.0 * self.done / self.total if self.total else 100.0
            self.stream.write(f"\r{source}: {min(percent, 100.0):5.1f}%  "
                              f"{self.done / 1e6:,.1f} of {self.total / 1e6:,.1f} MB  "
                              f"{self.done / 1e6 / elapsed:,.1f} MB/s ")
            self.stream.flush()

    def finish(self) -> None:
        """Erase the progress line."""
        if self.enabled and self._drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
