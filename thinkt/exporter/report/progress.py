"""What a one-shot export tells the person at the terminal: progress, then a line per source."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from thinkt.exporter.ship.dispatcher import SourceCounts

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


def summary_line(source: str, counts: SourceCounts) -> str:
    """One line saying what a run did for one source."""
    files = "file" if counts.files == 1 else "files"
    entries = "entry" if counts.entries_read == 1 else "entries"
    parts = [f"{source}: {counts.files:,} {files}, {counts.entries_read:,} new {entries}"]
    done = [f"{counts.entries_shipped:,} shipped"]
    if counts.duplicates:
        done.append(f"{counts.duplicates:,} already there")
    if counts.entries_buffered:
        done.append(f"{counts.entries_buffered:,} buffered")
    if counts.entries_rejected:
        done.append(f"{counts.entries_rejected:,} rejected")
    line = parts[0] + " (" + ", ".join(done) + ")"
    if counts.skipped:
        reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(counts.skipped.items()))
        line += f"; skipped records: {reasons}"
    return line
