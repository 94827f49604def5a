"""Reading what is new in a session file and handing it over as payloads, slice by slice.

For each file the reader asks the ledger where to start (:meth:`Ledger.begin`), then
reads the file to its end in bounded slices (``Source.read``). Each slice becomes
payloads that leave as soon as they are built; the ledger records the slice as a
chunk, and the payloads settle against it, so nothing here ever writes an offset.
Reading stops early only when the dispatcher has no room (collector down and buffer
full) or the exporter is stopping; the ledger knows where the next read starts.

A last line without its newline is read only when the read is ``final`` (a one-shot
run, or a file that has been quiet for a while); otherwise :attr:`ReadStatus.WAITING`
says it is there, so the caller can come back once the file is quiet.
"""

from __future__ import annotations

import enum
import logging
import os
from pathlib import Path
from typing import Callable

from thinkt.exporter.report.counters import Counters
from thinkt.exporter.ship import payload as payloads
from thinkt.exporter.ship.builder import Builder
from thinkt.exporter.ship.dispatcher import Dispatcher
from thinkt.exporter.ship.redact import Redactor
from thinkt.exporter.sources import Source
from thinkt.exporter.state.ledger import Cursor, Ledger, end_record

log = logging.getLogger(__name__)


class ReadStatus(enum.Enum):
    """How a call to :meth:`Reader.read_file` ended."""

    DONE = "done"  # caught up with the file
    WAITING = "waiting"  # caught up but for a last line without its newline
    PAUSED = "paused"  # payloads have nowhere to go, or the exporter is stopping
    GONE = "gone"  # the file is not there
    FAILED = "failed"  # unreadable (permissions) or the parser broke; logged


class Reader:
    """Turn new records of session files into payloads for the dispatcher."""

    def __init__(self, ledger: Ledger, dispatcher: Dispatcher, *, instance_id: str,
                 machine_id: str | None = None, user: str | None = None,
                 counters: Counters | None = None,
                 on_progress: Callable[[str, int], None] | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 redactor: Redactor | None = None, metadata_only: bool = False,
                 build_workers: int = 0):
        self.ledger = ledger
        self.dispatcher = dispatcher
        self.instance_id = instance_id
        self.machine_id = machine_id
        self.counters = counters or dispatcher.counters
        self.on_progress = on_progress
        self.should_stop = should_stop or (lambda: False)
        self.builder = Builder(instance_id=instance_id, machine_id=machine_id, user=user,
                               redactor=redactor, metadata_only=metadata_only,
                               workers=build_workers)
        self._failed: set[str] = set()

    def read_file(self, source: Source, path: Path, final: bool = False) -> ReadStatus:
        """Read ``path`` to its end (its last complete record), handing payloads over."""
        key = str(path)
        if not self.dispatcher.has_room() or self.should_stop():
            return ReadStatus.PAUSED
        try:
            cursor = self.ledger.begin(source, path)
        except FileNotFoundError:
            self.ledger.forget_if_gone(key)
            return ReadStatus.GONE
        except OSError as exc:
            return self._fail(key, f"cannot read it: {exc.strerror}")
        if cursor is None:
            return ReadStatus.DONE
        if cursor.rotated is not None:
            # The old file is finished: its last line will never get a newline.
            status = self.read_file(source, Path(cursor.rotated), final=True)
            if status is ReadStatus.PAUSED:
                return status
        stream = getattr(source, "stream", None) if cursor.whole else None
        if stream is not None:
            return self._read_stream(source, stream, path, cursor)
        first = True
        while True:
            if not self.dispatcher.has_room() or self.should_stop():
                return ReadStatus.PAUSED
            record = cursor.record
            try:
                st = os.stat(path)
                result = source.read(path, record.offset, record.state or None, final=final)
            except FileNotFoundError:
                self.ledger.forget_if_gone(key)
                return ReadStatus.GONE
            except OSError as exc:
                return self._fail(key, f"cannot read it: {exc.strerror}")
            except Exception:
                log.exception("the %s parser failed on %s; skipping the file this time",
                              source.name, path)
                return self._fail(key, None)
            self._failed.discard(key)
            progressed = result.offset != record.offset or bool(result.entries)
            if not progressed and not cursor.whole:
                return ReadStatus.WAITING if result.tail else ReadStatus.DONE
            built = self._build(source, result.entries)
            end = end_record(cursor, path, st, result.offset, result.state)
            chunk = self.ledger.advance(cursor, end, payloads=len(built))
            if chunk is None:
                return ReadStatus.PAUSED  # its reads were dropped meanwhile: read it later
            read_bytes = max(0, result.offset - record.offset) if not cursor.whole \
                else st.st_size
            self.counters.add(source.name, entries_read=len(result.entries),
                              bytes_read=read_bytes, files=int(first))
            first = False
            if result.skipped:
                self.counters.add_skipped(source.name, result.skipped)
            for payload in built:
                self.dispatcher.submit(payload, chunk)
            del built
            result.entries.clear()  # not kept while the next slice is read
            if self.on_progress is not None:
                self.on_progress(source.name, read_bytes)
            if cursor.whole:
                return ReadStatus.DONE
            # On to the next slice; the read that finds nothing new ends the loop, so a
            # file that grew meanwhile is read to its new end.

    def _read_stream(self, source: Source, stream, path: Path, cursor: Cursor) -> ReadStatus:
        """Read a whole document as it is parsed: payloads leave batch by batch, and the
        record (with the parser's state) commits once the document is done."""
        key = str(path)
        record = cursor.record
        chunk = self.ledger.open(cursor)
        if chunk is None:
            return ReadStatus.PAUSED
        entries = 0
        status = ReadStatus.DONE
        try:
            st = os.stat(path)
            result = stream(path, record.offset, record.state or None)
            for batch in result.batches:
                built = self._build(source, batch)
                if not self.ledger.add(chunk, len(built)):
                    status = ReadStatus.PAUSED  # its reads were dropped meanwhile
                    break
                self.counters.add(source.name, entries_read=len(batch))
                entries += len(batch)
                for payload in built:
                    self.dispatcher.submit(payload, chunk)
                if not self.dispatcher.has_room() or self.should_stop():
                    status = ReadStatus.PAUSED
                    break
        except FileNotFoundError:
            self.ledger.abandon(chunk)  # what went out is safe; nothing else moves
            self.ledger.forget_if_gone(key)
            return ReadStatus.GONE
        except OSError as exc:
            self.ledger.abandon(chunk)
            return self._fail(key, f"cannot read it: {exc.strerror}")
        except Exception:
            log.exception("the %s parser failed on %s; skipping the file this time",
                          source.name, path)
            self.ledger.abandon(chunk)
            return self._fail(key, None)
        if status is ReadStatus.PAUSED:
            # Stopped part-way: the document is read again whole later, and its parser
            # state (what was shipped) is not saved, so the part that went out goes again
            # (the collector keeps it once).
            self.ledger.abandon(chunk)
            return status
        self._failed.discard(key)
        self.ledger.seal(chunk, cursor, end_record(cursor, path, st, result.offset,
                                                    result.state))
        self.counters.add(source.name, bytes_read=st.st_size, files=1)
        if result.skipped:
            self.counters.add_skipped(source.name, result.skipped)
        if self.on_progress is not None:
            self.on_progress(source.name, st.st_size)
        return ReadStatus.DONE

    def _build(self, source: Source, entries: list) -> list[payloads.Payload]:
        """Turn entries of ``source`` into payloads (masked, bounded), as this exporter sends."""
        return self.builder.build(source.name, entries)

    def close(self) -> None:
        """Stop the build workers, if any were started."""
        self.builder.close()

    def _fail(self, key: str, reason: str | None) -> ReadStatus:
        if reason and key not in self._failed:
            log.warning("%s: %s", key, reason)
        self._failed.add(key)
        return ReadStatus.FAILED
