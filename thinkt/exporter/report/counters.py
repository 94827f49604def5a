"""Counters of one exporter run, per source: what was read, and where each entry ended.

Every entry read ends in exactly one of: shipped (the collector acknowledged it, new
or already there), buffered (safe in the disk buffer), rejected (the collector
refused it; kept in ``rejected/``) or unsent (neither sent nor buffered when the run
ended: its lines are read again next time). :meth:`SourceCounts.unaccounted` is what
is missing from that sum; a report that says "done" checks it is zero.
"""

from __future__ import annotations

import dataclasses
import threading

#: The pseudo-source under which payloads drained from the buffer are counted: their
#: entries were read by an earlier run.
BUFFER = "buffer"


@dataclasses.dataclass
class SourceCounts:
    """Counters of one source (or of everything)."""

    files: int = 0
    entries_read: int = 0
    bytes_read: int = 0
    entries_shipped: int = 0  # acknowledged by the collector (new or already there)
    duplicates: int = 0  # of those, already there
    entries_buffered: int = 0
    entries_rejected: int = 0  # refused by the collector, whole payloads or single entries
    entries_unsent: int = 0  # neither sent nor buffered when the run ended
    entries_clipped: int = 0  # shipped with their text cut to fit one request
    payloads_shipped: int = 0
    payloads_buffered: int = 0
    payloads_rejected: int = 0
    payloads_failed: int = 0  # transient failures (each later shipped or buffered)
    skipped: dict = dataclasses.field(default_factory=dict)

    @property
    def unacknowledged(self) -> int:
        """Entries read that are neither acknowledged nor safe in the buffer."""
        return self.entries_rejected + self.entries_unsent

    @property
    def unaccounted(self) -> int:
        """Entries read whose fate is not counted (in flight, or a counting fault)."""
        return self.entries_read - (self.entries_shipped + self.entries_buffered
                                    + self.entries_rejected + self.entries_unsent)


class Counters:
    """Counters per source plus the totals, safe to update from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_source: dict[str, SourceCounts] = {}
        self.last_ship_at: float | None = None
        self.last_error: str | None = None
        self.buffer_shipped = 0  # buffered payloads later taken by the collector

    def add(self, source: str, **deltas: int) -> None:
        """Add ``deltas`` to the named counters of ``source``."""
        with self._lock:
            counts = self.by_source.setdefault(source, SourceCounts())
            for name, value in deltas.items():
                setattr(counts, name, getattr(counts, name) + value)

    def add_skipped(self, source: str, skipped: dict[str, int]) -> None:
        """Count records the parser skipped, by reason."""
        with self._lock:
            counts = self.by_source.setdefault(source, SourceCounts())
            for reason, value in skipped.items():
                counts.skipped[reason] = counts.skipped.get(reason, 0) + value

    def note_error(self, reason: str) -> None:
        """Remember the last thing that went wrong (for the status file)."""
        with self._lock:
            self.last_error = reason

    def total(self, *, read_only: bool = False) -> SourceCounts:
        """Return the sums over every source; ``read_only`` leaves out the buffer's drain."""
        with self._lock:
            total = SourceCounts()
            for source, counts in self.by_source.items():
                if read_only and source == BUFFER:
                    continue
                for field in dataclasses.fields(SourceCounts):
                    if field.name != "skipped":
                        setattr(total, field.name,
                                getattr(total, field.name) + getattr(counts, field.name))
                for reason, value in counts.skipped.items():
                    total.skipped[reason] = total.skipped.get(reason, 0) + value
            return total
