"""Reading what is new in a session file and handing it over as payloads.

For each file the reader decides where to start: the offset of the last read still
in flight, else the committed offset if the file is the same one (device, inode,
first bytes), else the start of the file with fresh parser state (truncated or
replaced). A replaced file whose old self is still in the same directory under
another name (log rotation) is finished first, from its committed offset; a file
that moved keeps its offset. Files rewritten in place (``whole_file`` sources) are
read again whole whenever their size, mtime or inode changes, with the parser
state kept, so the parser can tell what it already emitted.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import os
from pathlib import Path
from typing import Callable, Iterable

from thinkt.exporter.ship import payload as payloads
from thinkt.exporter.ship.dispatcher import Counters, Dispatcher
from thinkt.exporter.state.offsets import (FINGERPRINT_BYTES, Change, FileRecord, OffsetStore, compare,
                                     fingerprint, identify)
from thinkt.exporter.ship.redact import Redactor
from thinkt.exporter.sources import Source, is_whole_file

log = logging.getLogger(__name__)


class ReadStatus(enum.Enum):
    """How a call to :meth:`Reader.read_file` ended."""

    DONE = "done"  # caught up with the file
    PAUSED = "paused"  # payloads have nowhere to go: stop reading for now
    GONE = "gone"  # the file is not there
    FAILED = "failed"  # unreadable (permissions) or the parser broke; logged


class Reader:
    """Turn new records of session files into tickets for the dispatcher."""

    def __init__(self, offsets: OffsetStore, dispatcher: Dispatcher, *, instance_id: str,
                 machine_id: str | None = None, counters: Counters | None = None,
                 on_progress: Callable[[str, int], None] | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 redactor: Redactor | None = None, metadata_only: bool = False):
        self.offsets = offsets
        self.dispatcher = dispatcher
        self.instance_id = instance_id
        self.machine_id = machine_id
        self.counters = counters or dispatcher.counters
        self.on_progress = on_progress
        self.should_stop = should_stop or (lambda: False)
        self.redactor = redactor
        self.metadata_only = metadata_only
        self._failed: set[str] = set()

    def read_file(self, source: Source, path: Path) -> ReadStatus:
        """Read ``path`` up to its last complete record, handing payloads over slice by slice."""
        key = str(path)
        whole = is_whole_file(source, path)
        first = True
        while True:
            if not self.dispatcher.accepting() or self.should_stop():
                return ReadStatus.PAUSED
            try:
                st = os.stat(path)
                record = self._start(source, path, key, st, whole)
            except FileNotFoundError:
                self.forget_if_gone(key)
                return ReadStatus.GONE
            except OSError as exc:
                return self._fail(key, f"cannot read it: {exc.strerror}")
            if record is None:
                return ReadStatus.DONE
            try:
                result = source.read(path, record.offset, record.state or None)
            except FileNotFoundError:
                self.forget_if_gone(key)
                return ReadStatus.GONE
            except OSError as exc:
                return self._fail(key, f"cannot read it: {exc.strerror}")
            except Exception:
                log.exception("the %s parser failed on %s; skipping the file this time",
                              source.name, path)
                return self._fail(key, None)
            self._failed.discard(key)
            progressed = result.offset != record.offset or bool(result.entries)
            if not progressed and not whole:
                return ReadStatus.DONE  # only a partial line so far
            done = self._identity(path, record, st, whole)
            done.offset, done.state = result.offset, result.state
            batch = payloads.build(source.name, result.entries, instance_id=self.instance_id,
                                   machine_id=self.machine_id, redactor=self.redactor,
                                   metadata_only=self.metadata_only)
            read_bytes = max(0, result.offset - record.offset) if not whole else st.st_size
            self.counters.add(source.name, entries_read=len(result.entries),
                              bytes_read=read_bytes, files=int(first))
            first = False
            if result.skipped:
                self.counters.add_skipped(source.name, result.skipped)
            self.dispatcher.submit(key, done, batch, source.name)
            if self.on_progress is not None:
                self.on_progress(source.name, read_bytes)
            if whole or result.offset >= st.st_size or not progressed:
                return ReadStatus.DONE

    def _start(self, source: Source, path: Path, key: str, st: os.stat_result, whole: bool,
               ) -> FileRecord | None:
        """Return the record to read from, or None when there is nothing new."""
        record = self.dispatcher.cursor(key) or self.offsets.get(key)
        if whole:
            if record is None:
                return identify(path, st, source.name)
            if (st.st_size, st.st_mtime_ns, st.st_ino) == (record.size, record.mtime_ns,
                                                           record.ino):
                return None
            return record  # rewritten: read whole again, the parser state says what was sent
        if record is not None and (st.st_size, st.st_mtime_ns, st.st_ino) == (
                record.size, record.mtime_ns, record.ino):
            return None  # untouched since it was read: skip the fingerprint read
        change = compare(record, path, st)
        if change is Change.NEW:
            record = self._moved_here(key, st) or identify(path, st, source.name)
        elif change is not Change.SAME:
            log.info("%s was %s: reading it from the start", path, change.value)
            if not self.dispatcher.pending(key):
                self._finish_rotated(source, path, record)
            record = identify(path, st, source.name)
        if st.st_size <= record.offset:
            return None
        return record

    def _identity(self, path: Path, record: FileRecord, st: os.stat_result, whole: bool,
                  ) -> FileRecord:
        """Return a copy of ``record`` describing the file as it is now."""
        done = dataclasses.replace(record, size=st.st_size, mtime_ns=st.st_mtime_ns)
        if whole:
            done.dev, done.ino = st.st_dev, st.st_ino
            done.fp, done.fp_len = fingerprint(path)
        elif record.fp_len < FINGERPRINT_BYTES and st.st_size > record.fp_len:
            # A young file: fingerprint more of it now that there is more.
            done.fp, done.fp_len = fingerprint(path)
        return done

    def _moved_here(self, key: str, st: os.stat_result) -> FileRecord | None:
        """Adopt the record of a file that was renamed to ``key`` (same inode and first bytes)."""
        for old_key, record in self.offsets.find_inode(st.st_dev, st.st_ino):
            if old_key == key or self.dispatcher.pending(old_key):
                continue
            try:
                if os.stat(old_key).st_ino == st.st_ino:
                    continue  # still there too (a hard link): not a move
            except FileNotFoundError:
                pass
            if st.st_size < record.fp_len or fingerprint(key, record.fp_len)[0] != record.fp:
                continue
            log.info("%s was renamed to %s: continuing from offset %d", old_key, key,
                     record.offset)
            self.offsets.forget(old_key)
            self.offsets.set(key, record)
            return record
        return None

    def _finish_rotated(self, source: Source, path: Path, record: FileRecord) -> None:
        """Read the rest of the file that used to be at ``path`` if it was renamed nearby."""
        try:
            entries = list(os.scandir(path.parent))
        except OSError:
            return
        for entry in entries:
            if entry.path == str(path) or self.offsets.get(entry.path) is not None:
                continue
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) != (record.dev, record.ino):
                continue
            if compare(record, entry.path, st) is not Change.SAME:
                return
            log.info("%s was rotated to %s: reading the rest of it first", path, entry.path)
            self.offsets.set(entry.path, record)
            self.read_file(source, Path(entry.path))
            return

    def forget_if_gone(self, key: str) -> bool:
        """Forget a deleted file once nothing read from it is in flight; True if forgotten."""
        if os.path.lexists(key) or self.dispatcher.pending(key):
            return False
        if self.offsets.get(key) is not None:
            log.info("%s was deleted: forgetting its offset", key)
            self.offsets.forget(key)
        return True

    def prune(self) -> int:
        """Forget every recorded file that no longer exists; return how many."""
        return sum(1 for key in self.offsets.paths() if self.forget_if_gone(key))

    def _fail(self, key: str, reason: str | None) -> ReadStatus:
        if reason and key not in self._failed:
            log.warning("%s: %s", key, reason)
        self._failed.add(key)
        return ReadStatus.FAILED

    def lag(self, paths: Iterable[str] = ()) -> int:
        """Bytes of session files past their committed offsets (``paths`` and every recorded file)."""
        total = 0
        for key in set(paths) | set(self.offsets.paths()):
            record = self.offsets.get(key)
            try:
                size = os.stat(key).st_size
            except OSError:
                continue
            total += max(0, size - (record.offset if record is not None else 0))
        return total
