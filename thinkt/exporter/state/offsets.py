"""Offsets on disk: how far each session file has been shipped, and which file that was.

One JSON file (``offsets.json`` in the state directory) maps each session file's
absolute path to a :class:`FileRecord`: the byte offset just past the last line whose
entries reached the collector (a 200) or the disk buffer, the parser state that goes
with that offset, and the file's identity (device, inode and a SHA-256 of its first
bytes). The identity tells a file that grew apart from one that was truncated or
replaced: either of those is read again from its start with fresh parser state.

The file is rewritten atomically (temp file, fsync, rename) and only ever holds
offsets that are safe: callers set a record only once every payload read up to it
is delivered, so a crash at any point re-reads (and the collector deduplicates)
rather than skips.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Iterator

from thinkt.exporter.state.atomicfile import write_atomic

log = logging.getLogger(__name__)

#: How many leading bytes identify a file. Session files start with ids and
#: timestamps, so 1 KiB tells two files apart while costing one small read.
FINGERPRINT_BYTES = 1024
FORMAT_VERSION = 1


def fingerprint(path: Path | str, length: int = FINGERPRINT_BYTES) -> tuple[str, int]:
    """Return the SHA-256 (hex) of the first ``length`` bytes of ``path`` and how many there were."""
    with open(path, "rb") as fh:
        head = fh.read(length)
    return hashlib.sha256(head).hexdigest(), len(head)


@dataclasses.dataclass
class FileRecord:
    """What was shipped from one file, and the identity of the file it came from."""

    source: str
    dev: int
    ino: int
    fp: str  # sha256 of the first fp_len bytes
    fp_len: int
    offset: int
    state: dict = dataclasses.field(default_factory=dict)
    size: int = 0  # the file's size when it was read (lag, whole-file change detection)
    mtime_ns: int = 0

    def to_json(self) -> dict:
        """Return the record as a JSON object."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "FileRecord":
        """Build a record from :meth:`to_json` output, ignoring keys it does not know."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class Change(enum.Enum):
    """How a file on disk relates to the record of what was shipped from it."""

    NEW = "new"  # never seen
    SAME = "same"  # the same file, maybe grown
    TRUNCATED = "truncated"  # shorter than what was shipped: read again from the start
    REPLACED = "replaced"  # another file now has this path: read it from the start


def compare(record: FileRecord | None, path: Path | str, st: os.stat_result) -> Change:
    """Tell whether ``path`` (with stat ``st``) is still the file ``record`` describes."""
    if record is None:
        return Change.NEW
    if (st.st_dev, st.st_ino) != (record.dev, record.ino):
        return Change.REPLACED
    if st.st_size < record.fp_len:
        return Change.TRUNCATED
    # Inodes are recycled as soon as a file is deleted, so the first bytes decide.
    if fingerprint(path, record.fp_len)[0] != record.fp:
        return Change.REPLACED
    if st.st_size < record.offset:
        return Change.TRUNCATED
    return Change.SAME


def identify(path: Path | str, st: os.stat_result, source: str) -> FileRecord:
    """Return a record for ``path`` at offset 0 with fresh state (its identity filled in)."""
    fp, fp_len = fingerprint(path)
    return FileRecord(source=source, dev=st.st_dev, ino=st.st_ino, fp=fp, fp_len=fp_len,
                      offset=0, state={}, size=st.st_size, mtime_ns=st.st_mtime_ns)


class OffsetStore:
    """The offsets file, in memory, saved atomically; safe to use from several threads."""

    def __init__(self, path: Path):
        self.path = path
        self._records: dict[str, FileRecord] = {}
        self._lock = threading.Lock()
        self._save_lock = threading.Lock()
        self._dirty = False

    def load(self, repair: bool = True) -> "OffsetStore":
        """Read the offsets file; a missing file is empty, a corrupt one is set aside
        (left where it is without ``repair``: a reader that must not change state)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return self
        try:
            data = json.loads(raw)
            records = {p: FileRecord.from_json(r) for p, r in data["files"].items()}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            if not repair:
                log.warning("offsets file %s is unreadable (%s): counting every entry as new",
                            self.path, exc)
                return self
            # Starting over re-reads every file; the collector drops what it already has.
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            os.replace(self.path, aside)
            log.warning("offsets file %s is unreadable (%s); moved to %s, reading every "
                        "file again (the collector drops duplicates)", self.path, exc, aside)
            return self
        with self._lock:
            self._records = records
        return self

    def get(self, path: str) -> FileRecord | None:
        """Return the record of ``path`` (a copy), or None."""
        with self._lock:
            record = self._records.get(path)
            return dataclasses.replace(record) if record is not None else None

    def set(self, path: str, record: FileRecord) -> None:
        """Record what has been delivered from ``path``."""
        with self._lock:
            self._records[path] = record
            self._dirty = True

    def forget(self, path: str) -> None:
        """Drop the record of ``path`` (a deleted file whose data is all delivered)."""
        with self._lock:
            if self._records.pop(path, None) is not None:
                self._dirty = True

    def paths(self) -> list[str]:
        """Return every recorded path."""
        with self._lock:
            return list(self._records)

    def items(self) -> Iterator[tuple[str, FileRecord]]:
        """Yield ``(path, record)`` pairs (a snapshot)."""
        with self._lock:
            snapshot = list(self._records.items())
        yield from snapshot

    def find_inode(self, dev: int, ino: int) -> list[tuple[str, FileRecord]]:
        """Return the records whose identity is device ``dev``, inode ``ino``."""
        with self._lock:
            return [(p, r) for p, r in self._records.items() if r.dev == dev and r.ino == ino]

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    @property
    def dirty(self) -> bool:
        """True when records changed since the last save."""
        return self._dirty

    def save(self, force: bool = False) -> bool:
        """Write the offsets file if anything changed (or ``force``); return True if written."""
        with self._save_lock:
            with self._lock:
                if not (self._dirty or force):
                    return False
                data = {"version": FORMAT_VERSION,
                        "files": {p: r.to_json() for p, r in self._records.items()}}
                self._dirty = False
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(self.path, json.dumps(data, separators=(",", ":")).encode())
            except BaseException:
                self._dirty = True
                raise
            return True
