"""The ledger of read positions: per session file, what was read, what is in flight, what is safe.

It is the one owner of a file's position and the only writer of offsets. The reader
asks it where a read starts (:meth:`Ledger.begin`), hands it each slice it read as a
:class:`Chunk` (:meth:`Ledger.advance`: the record that becomes true once the
slice's payloads are all safe), and the dispatcher reports each payload's fate
(:meth:`Ledger.settle`). Chunks of one file commit in order: the saved offset only
ever moves past lines whose entries were all shipped, buffered or set aside, so a
crash at any point re-reads (and the collector deduplicates) rather than skips.

Where a read starts: after the last chunk still in flight, else the committed
offset if the file is the same one (device, inode, first bytes), else the start of
the file with fresh parser state (truncated or replaced). A replaced file whose old
self is still in the same directory under another name (log rotation) is finished
first, from its committed offset; a file that moved (renamed) keeps its position,
chunks in flight included. Files rewritten in place (``whole_file`` sources) are read
again whole whenever their size, mtime or inode changes, with the parser state kept
so the parser can tell what it already emitted.

If a payload ends unsent (only when the exporter stops with the buffer full), its
chunk and every later one of that file are dropped and the file's reads start again
at the committed offset; a reader still holding a cursor of the dropped reads gets
None from :meth:`advance` and stops.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import logging
import os
import threading
import time
from pathlib import Path
from typing import Iterable

from thinkt.exporter.sources import Source, is_whole_file
from thinkt.exporter.state.offsets import (FINGERPRINT_BYTES, Change, FileRecord, OffsetStore,
                                           compare, fingerprint, identify)

log = logging.getLogger(__name__)

#: How long a vanished file's position is kept in memory for a file that turns out to
#: be it under a new name (the rename's two events may come apart).
DEPARTED_KEEP = 600.0


class _Track:
    """The in-flight side of one file: its chunks and where its next read starts."""

    __slots__ = ("path", "epoch", "chunks", "read")

    def __init__(self, path: str, epoch: int):
        self.path = path  # the file's current name: chunks commit under it
        self.epoch = epoch  # changes when the file's unsafe reads are dropped
        self.chunks: collections.deque[Chunk] = collections.deque()
        self.read: FileRecord | None = None  # the end of the last chunk in flight


@dataclasses.dataclass(eq=False)
class Chunk:
    """One slice of one file handed over as payloads; its ``end`` commits once all are safe.

    A chunk is sealed once its ``end`` is known and every payload of it is counted: a
    document streamed item by item hands payloads over before it knows where it ends.
    """

    track: _Track
    end: FileRecord | None
    epoch: int
    payloads: int  # not settled yet
    unsafe: bool = False
    sealed: bool = False
    void: bool = False  # abandoned: commits nothing (its payloads still settle)


@dataclasses.dataclass(eq=False)
class Cursor:
    """Where one read of a file starts (from :meth:`Ledger.begin`)."""

    path: str
    record: FileRecord  # offset, parser state and identity to read from
    whole: bool  # read the file whole (rewritten in place)
    track: _Track
    epoch: int
    #: The file that used to be at ``path``, renamed nearby (rotation): read its rest first.
    rotated: str | None = None


class Ledger:
    """Read positions of session files; commits offsets as payloads settle."""

    def __init__(self, offsets: OffsetStore, clock=time.monotonic):
        self.offsets = offsets
        self._clock = clock
        self._lock = threading.Lock()
        self._tracks: dict[str, _Track] = {}
        self._epochs = itertools.count(1)
        #: Vanished files' tracks, by (device, inode), until a file turns out to be them.
        self._departed: dict[tuple[int, int], tuple[float, _Track, FileRecord | None]] = {}

    # -- the reader's side ---------------------------------------------------------------

    def begin(self, source: Source, path: Path) -> Cursor | None:
        """Return where a read of ``path`` starts, or None when nothing is new.

        :raises OSError: the file cannot be stat'ed or read (FileNotFoundError: gone).
        """
        key = str(path)
        st = os.stat(path)
        whole = is_whole_file(source, path)
        track = self._track(key)
        record = track.read or self.offsets.get(key)
        if whole:
            if record is None:
                return self._cursor(track, identify(path, st, source.name), whole)
            if (st.st_size, st.st_mtime_ns, st.st_ino) == (record.size, record.mtime_ns,
                                                           record.ino):
                return None
            return self._cursor(track, record, whole)  # rewritten: its state says what was sent
        if record is not None and record.offset == st.st_size and (
                st.st_size, st.st_mtime_ns, st.st_ino) == (record.size, record.mtime_ns,
                                                           record.ino):
            return None  # untouched since it was read to its end: no fingerprint read
        change = compare(record, path, st)
        rotated = None
        if change is Change.NEW:
            moved = self._moved_here(key, st)
            if moved is not None:
                track, record = moved
            else:
                record = identify(path, st, source.name)
        elif change is not Change.SAME:
            log.info("%s was %s: reading it from the start", path, change.value)
            rotated = self._rotated_from(key, record, track)
            track = self._track(key, fresh=rotated is not None)
            if rotated is None:
                self._drop(track)  # lines of the old file in flight: they commit nothing here
            record = identify(path, st, source.name)
        if st.st_size <= record.offset and not rotated:
            return None
        return self._cursor(track, record, whole, rotated)

    def advance(self, cursor: Cursor, end: FileRecord, payloads: int) -> Chunk | None:
        """Record that the slice up to ``end`` was handed over as ``payloads`` payloads.

        Returns the chunk to settle each payload against, or None when the file's reads
        were dropped since ``cursor`` was made (the payloads must not be sent).
        """
        chunk = self.open(cursor)
        if chunk is not None:
            self.add(chunk, payloads)
            self.seal(chunk, cursor, end)
        return chunk

    def open(self, cursor: Cursor) -> Chunk | None:
        """Start a chunk whose payloads are counted as they come (:meth:`add`, :meth:`seal`).

        None when the file's reads were dropped since ``cursor`` was made.
        """
        with self._lock:
            track = cursor.track
            if track.epoch != cursor.epoch:
                return None
            chunk = Chunk(track, None, track.epoch, 0)
            track.chunks.append(chunk)
            return chunk

    def add(self, chunk: Chunk, payloads: int) -> bool:
        """Count ``payloads`` more payloads of an open chunk, before they are handed over.

        False when the file's reads were dropped meanwhile: they must not be sent.
        """
        with self._lock:
            if chunk.epoch != chunk.track.epoch:
                return False
            chunk.payloads += payloads
            return True

    def seal(self, chunk: Chunk, cursor: Cursor, end: FileRecord) -> None:
        """Close a chunk: ``end`` commits once its payloads are all safe; reads go on from it."""
        with self._lock:
            track = chunk.track
            chunk.end = end
            chunk.sealed = True
            if chunk.epoch != track.epoch:
                return
            track.read = end
            cursor.record = end
            self._commit(track)

    def abandon(self, chunk: Chunk) -> None:
        """Close a chunk whose read did not finish: nothing commits for it, and the next
        read starts where it started (what it handed over still settles)."""
        with self._lock:
            chunk.void = chunk.sealed = True
            if chunk.epoch == chunk.track.epoch:
                self._commit(chunk.track)

    # -- the dispatcher's side -----------------------------------------------------------

    def settle(self, chunk: Chunk, safe: bool) -> None:
        """Record the fate of one payload of ``chunk``: safe (shipped, buffered, set aside) or not."""
        with self._lock:
            chunk.payloads -= 1
            if not safe:
                chunk.unsafe = True
            track = chunk.track
            if chunk.epoch == track.epoch:
                self._commit(track)

    def _commit(self, track: _Track) -> None:
        """Commit the settled chunks at the head of ``track`` (lock held)."""
        chunks = track.chunks
        while chunks and chunks[0].sealed and chunks[0].payloads <= 0:
            chunk = chunks.popleft()
            if chunk.unsafe:
                log.info("%s: payloads were not delivered; its lines will be read again from "
                         "offset %s", track.path, self._committed_offset(track))
                self._drop(track)
                return
            if not chunk.void:
                self.offsets.set(track.path, chunk.end)
        if not chunks:
            track.read = None

    def _drop(self, track: _Track) -> None:
        """Forget ``track``'s reads in flight: the next read starts at the committed offset."""
        track.chunks.clear()
        track.read = None
        track.epoch = next(self._epochs)

    def _committed_offset(self, track: _Track) -> int:
        record = self.offsets.get(track.path)
        return record.offset if record is not None else 0

    # -- identity: moves, rotations ------------------------------------------------------

    def _track(self, key: str, fresh: bool = False) -> _Track:
        with self._lock:
            track = self._tracks.get(key)
            if track is None or fresh:
                track = self._tracks[key] = _Track(key, next(self._epochs))
            return track

    def _cursor(self, track: _Track, record: FileRecord, whole: bool,
                rotated: str | None = None) -> Cursor:
        with self._lock:
            return Cursor(track.path, record, whole, track, track.epoch, rotated)

    def _moved_here(self, key: str, st: os.stat_result) -> tuple[_Track, FileRecord] | None:
        """Adopt the position of a file that was renamed to ``key`` (same inode, first bytes).

        Its reads in flight come along: they commit under the new name.
        """
        now = self._clock()
        inode = (st.st_dev, st.st_ino)
        with self._lock:
            departed = self._departed.pop(inode, None)
            self._departed = {k: v for k, v in self._departed.items()
                              if now - v[0] < DEPARTED_KEEP}
            # A file whose first reads are still in flight has no offset saved yet: its
            # track is all there is to find it by.
            candidates = [(t.path, t, self.offsets.get(t.path)) for t in self._tracks.values()
                          if t.read is not None and (t.read.dev, t.read.ino) == inode]
        if departed:
            candidates.append((departed[1].path, departed[1], departed[2]))
        for old_key, record in self.offsets.find_inode(*inode):
            with self._lock:
                candidates.append((old_key, self._tracks.get(old_key), record))
        for old_key, track, record in candidates:
            if old_key == key:
                continue
            try:
                if os.stat(old_key).st_ino == st.st_ino:
                    continue  # still there too (a hard link): not a move
            except FileNotFoundError:
                pass
            position = (track.read if track is not None else None) or record
            if position is None:
                continue
            if st.st_size < position.fp_len or fingerprint(key, position.fp_len)[0] != position.fp:
                continue
            log.info("%s was renamed to %s: continuing from offset %d", old_key, key,
                     position.offset)
            with self._lock:  # commits take this lock too: none lands between read and move
                record = self.offsets.get(old_key) or record
                if track is None:
                    track = _Track(key, next(self._epochs))
                self._tracks.pop(old_key, None)
                track.path = key
                self._tracks[key] = track
                if record is not None:
                    self.offsets.forget(old_key)
                    self.offsets.set(key, record)
                position = track.read or record
            return track, position
        return None

    def _rotated_from(self, key: str, record: FileRecord | None, track: _Track) -> str | None:
        """Move the position of the file that used to be at ``key`` to where it was renamed
        in the same directory, if it was (rotation); return that path."""
        if record is None:
            return None
        path = Path(key)
        try:
            entries = list(os.scandir(path.parent))
        except OSError:
            return None
        for entry in entries:
            if entry.path == key or self.offsets.get(entry.path) is not None:
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
                return None
            log.info("%s was rotated to %s: reading the rest of it first", key, entry.path)
            committed = self.offsets.get(key)
            with self._lock:
                self._tracks.pop(key, None)
                track.path = entry.path
                self._tracks[entry.path] = track
                if committed is not None:
                    self.offsets.set(entry.path, committed)
            return entry.path
        return None

    # -- files that went away ------------------------------------------------------------

    def pending(self, path: str) -> bool:
        """Return True while payloads read from ``path`` are not all settled."""
        with self._lock:
            track = self._tracks.get(path)
            return bool(track and track.chunks)

    def forget_if_gone(self, key: str) -> bool:
        """Forget a vanished file once nothing read from it is in flight; True if forgotten.

        Its position stays in memory a while: if the file turns up under a new name
        (a rename whose second event comes later), it continues where it was.
        """
        if os.path.lexists(key):
            return False
        with self._lock:
            track = self._tracks.get(key)
            if track is not None and track.chunks:
                return False
            self._tracks.pop(key, None)
        record = self.offsets.get(key)
        if record is not None:
            log.info("%s was deleted: forgetting its offset", key)
            with self._lock:
                self._departed[(record.dev, record.ino)] = (
                    self._clock(), track or _Track(key, next(self._epochs)), record)
            self.offsets.forget(key)
        return True

    def prune(self) -> int:
        """Forget every recorded file that no longer exists; return how many."""
        return sum(1 for key in self.offsets.paths() if self.forget_if_gone(key))

    # -- reports -------------------------------------------------------------------------

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


def end_record(cursor: Cursor, path: Path, st: os.stat_result, offset: int, state: dict,
               ) -> FileRecord:
    """Return the record after one read of ``path`` (stat ``st`` taken before the read)."""
    record = cursor.record
    done = dataclasses.replace(record, offset=offset, state=state, size=st.st_size,
                               mtime_ns=st.st_mtime_ns)
    if cursor.whole:
        done.dev, done.ino = st.st_dev, st.st_ino
        done.fp, done.fp_len = fingerprint(path)
    elif record.fp_len < FINGERPRINT_BYTES and st.st_size > record.fp_len:
        # A young file: fingerprint more of it now that there is more.
        done.fp, done.fp_len = fingerprint(path)
    return done
