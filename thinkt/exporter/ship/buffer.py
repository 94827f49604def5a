"""The disk buffer: payloads the collector has not taken yet, one gzip file each.

``export-buffer/<stamp>-<pid>-<entries>.json.gz`` holds one payload exactly as it is
POSTed (gzip-compressed JSON). Names start with a nanosecond stamp that only grows, so
sorting names gives creation order and the buffer drains oldest first. The entry count
in the name is what the collector's answer is checked against when the payload is
drained, so a drain never decompresses and parses a payload to count it (names
without it, from older versions, are counted that way). Files are
written atomically (temp file, fsync, rename), so a crash leaves whole payloads or
none; stale temp files are removed on open.

The buffer is bounded (``max_bytes``, 100 MB by default): :meth:`DiskBuffer.put`
refuses a payload that does not fit instead of dropping older ones, and the caller
stops reading new lines until there is room (the session files still hold them).
Payloads the collector refuses for good go to ``rejected/`` next to a
``.response.json`` that says why; they do not count against the bound and never
block the queue.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

from thinkt.exporter.state.atomicfile import sync_directory, write_atomic

log = logging.getLogger(__name__)

SUFFIX = ".json.gz"
REJECTED = "rejected"
#: How much of a rejection's response body is kept next to the payload.
RESPONSE_KEEP = 16 * 1024


class DiskBuffer:
    """A bounded directory of payload files, oldest first."""

    def __init__(self, directory: Path, max_bytes: int):
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self._sizes: dict[str, int] = {}
        #: Names reserved by a put whose file is still being written: counted against the
        #: bound, never handed out to a drain (which found no file, took the payload for
        #: sent and forgot it, while the put went on to write it: lines lost).
        self._writing: set[str] = set()
        self._bytes = 0
        self._last_stamp = 0
        self._lock = threading.Lock()
        self._opened = False

    def open(self) -> "DiskBuffer":
        """Create the directory if needed, drop stale temp files, and count what is there."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        sizes = {}
        for entry in os.scandir(self.directory):
            if entry.name.startswith(".tmp-"):
                log.debug("removing stale temp file %s", entry.path)
                os.unlink(entry.path)
            elif entry.name.endswith(SUFFIX) and entry.is_file():
                sizes[entry.name] = entry.stat().st_size
        with self._lock:
            # Kept in name order: puts only ever add a newer name, so the dict's own order
            # stays the drain order and :meth:`oldest` never sorts.
            self._sizes = dict(sorted(sizes.items()))
            self._bytes = sum(sizes.values())
            if sizes:
                self._last_stamp = max(self._last_stamp, _stamp_of(max(sizes)))
            self._opened = True
        return self

    @property
    def files(self) -> int:
        """How many payloads wait in the buffer."""
        return len(self._sizes)

    @property
    def bytes(self) -> int:
        """How many bytes the waiting payloads take."""
        return self._bytes

    @property
    def full(self) -> bool:
        """True when no more payloads fit."""
        return self._bytes >= self.max_bytes

    def fits(self, size: int) -> bool:
        """Return True when a payload of ``size`` bytes would fit now."""
        return self._bytes + size <= self.max_bytes

    def put(self, body: bytes, entries: int | None = None) -> str | None:
        """Store one gzip payload (of ``entries`` entries, when known) durably; return its
        name, or None when it does not fit."""
        with self._lock:
            if not self._opened:
                raise RuntimeError("DiskBuffer.open() was not called")
            if self._bytes + len(body) > self.max_bytes:
                return None
            # The wall clock may step back (NTP); names must still sort in creation order.
            self._last_stamp = max(time.time_ns(), self._last_stamp + 1)
            count = "" if entries is None else f"-{entries}"
            name = f"{self._last_stamp:020d}-{os.getpid()}{count}{SUFFIX}"
            # Reserve the room before the slow write so concurrent puts respect the bound.
            self._sizes[name] = len(body)
            self._writing.add(name)
            self._bytes += len(body)
        try:
            write_atomic(self.directory / name, body)
        except BaseException:
            with self._lock:
                self._writing.discard(name)
                self._bytes -= self._sizes.pop(name, 0)
            raise
        with self._lock:
            self._writing.discard(name)
        log.debug("buffered payload %s (%d bytes)", name, len(body))
        return name

    def names(self) -> list[str]:
        """Return the waiting payloads' names, oldest first (not those still being written)."""
        with self._lock:
            return sorted(n for n in self._sizes if n not in self._writing)

    def oldest(self, count: int, skip: set[str] | frozenset[str] = frozenset()) -> list[str]:
        """Return up to ``count`` of the oldest waiting names that are not in ``skip``
        (nor still being written).

        Costs O(count + len(skip)), not a sort of the whole buffer: the drain asks after
        every payload it sends, and a full buffer holds tens of thousands.
        """
        found: list[str] = []
        if count <= 0:
            return found
        with self._lock:
            for name in self._sizes:
                if name not in skip and name not in self._writing:
                    found.append(name)
                    if len(found) >= count:
                        break
        return found

    @staticmethod
    def entries(name: str) -> int | None:
        """Return the entry count a payload's name records, or None (an older name)."""
        parts = name[: -len(SUFFIX)].split("-")
        if len(parts) == 3 and parts[2].isdigit():
            return int(parts[2])
        return None

    def read(self, name: str) -> bytes:
        """Return the gzip body of one waiting payload."""
        return (self.directory / name).read_bytes()

    def remove(self, name: str) -> None:
        """Delete a payload the collector has taken."""
        try:
            os.unlink(self.directory / name)
        except FileNotFoundError:
            pass
        with self._lock:
            self._bytes -= self._sizes.pop(name, 0)

    def reject(self, response: dict, *, name: str | None = None, body: bytes | None = None,
               ) -> Path:
        """Move a waiting payload (``name``) or store ``body`` under ``rejected/``, with why.

        :returns: the path of the rejected payload file.
        """
        rejected = self.directory / REJECTED
        rejected.mkdir(exist_ok=True, mode=0o700)
        if name is None:
            with self._lock:
                self._last_stamp = max(time.time_ns(), self._last_stamp + 1)
                name = f"{self._last_stamp:020d}-{os.getpid()}{SUFFIX}"
        target = rejected / name
        if body is not None:
            write_atomic(target, body)
        else:
            os.replace(self.directory / name, target)
            sync_directory(self.directory)
            with self._lock:
                self._bytes -= self._sizes.pop(name, 0)
        why = dict(response)
        if isinstance(why.get("body"), str):
            why["body"] = why["body"][:RESPONSE_KEEP]
        why.setdefault("rejected_at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        write_atomic(rejected / (name[: -len(SUFFIX)] + ".response.json"),
                     json.dumps(why, indent=2).encode())
        return target

    def rejected_count(self) -> int:
        """How many payloads sit in ``rejected/``."""
        try:
            return sum(1 for e in os.scandir(self.directory / REJECTED) if e.name.endswith(SUFFIX))
        except FileNotFoundError:
            return 0


def _stamp_of(name: str) -> int:
    try:
        return int(name.split("-", 1)[0])
    except ValueError:
        return 0
