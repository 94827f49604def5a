"""One exporter run's machinery: lock, identity, ledger, buffer, shipper, dispatcher, reader.

:class:`Runtime` is built from :class:`Options` (resolved settings) and is shared by
the one-shot export, ``--flush`` and the forward daemon: each of those is a loop
around :meth:`Runtime.scan`, :meth:`Runtime.drain_buffer` and the status file. It
wires the stages together: the reader hands payloads to the dispatcher, and the
dispatcher tells the ledger each payload's fate, which is how offsets move.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from thinkt import __version__
from thinkt.exporter.read.reader import Reader, ReadStatus
from thinkt.exporter.report import statusfile
from thinkt.exporter.report.counters import Counters
from thinkt.exporter.ship.buffer import DiskBuffer
from thinkt.exporter.ship.builder import default_workers as default_build_workers
from thinkt.exporter.ship.dispatcher import Collector, Dispatcher, Job
from thinkt.exporter.ship.endpoint import Endpoint
from thinkt.exporter.ship.redact import Redactor
from thinkt.exporter.ship.shipper import Answer, Shipper, registration
from thinkt.exporter.sources import Source
from thinkt.exporter.state import identity
from thinkt.exporter.state.ledger import Ledger
from thinkt.exporter.state.lock import ExporterLock
from thinkt.exporter.state.offsets import OffsetStore
from thinkt.exporter.watch.roots import WatchRoot

log = logging.getLogger(__name__)

OFFSETS_FILE = "offsets.json"
#: Save offsets at most this often while payloads keep committing.
SAVE_INTERVAL = 1.0


@dataclasses.dataclass
class Options:
    """Everything an exporter run needs, resolved from flags, environment and config."""

    endpoint: Endpoint
    roots: list[WatchRoot]
    state_dir: Path
    buffer_dir: Path
    buffer_max: int = 100 * 1024 * 1024
    concurrency: int = 8  # in flight: each POST waits for the collector's group commit
    #: Processes that help the reader build large slices' payloads (None: the default).
    build_workers: int | None = None
    timeout: float = 30.0
    attempts: int = 4
    quiet: bool = False
    polling: bool = False
    poll_interval: float = 1.0
    rescan_interval: float = 60.0
    heartbeat_interval: float = 60.0
    status_interval: float = 5.0
    coalesce: float = 0.1
    #: How long a file must be left alone before a last line without its newline ships.
    quiet_period: float = 3.0
    #: How long in-flight payloads may take to finish at shutdown before they are buffered.
    shutdown_timeout: float = 3.0
    #: Masks secrets in entry text before payloads are built; None ships text as it is.
    redactor: Redactor | None = dataclasses.field(default_factory=Redactor)
    metadata_only: bool = False  # ship entries without their text
    #: Who the sessions belong to (``--user``, resolved); None sends none.
    user: str | None = None


class Runtime:
    """The parts of a running exporter, opened together and closed together."""

    def __init__(self, options: Options, mode: str,
                 should_stop: Callable[[], bool] | None = None):
        self.options = options
        self.mode = mode
        self.should_stop = should_stop or (lambda: False)
        self.started_at = time.time()
        self.lock = ExporterLock(options.state_dir)
        self.counters = Counters()
        self.offsets = OffsetStore(options.state_dir / OFFSETS_FILE)
        self.ledger = Ledger(self.offsets)
        self.buffer = DiskBuffer(options.buffer_dir, options.buffer_max)
        self.shipper: Shipper | None = None
        self.dispatcher: Dispatcher | None = None
        self.reader: Reader | None = None
        self.instance_id = ""
        self.machine_id: str | None = None
        self.watch_mode = "none"
        self.watched_directories = 0
        self.known: set[str] = set()  # session files seen by the last scan or an event
        self.paused: str | None = None
        self._last_save = 0.0
        self._lag = 0
        self._lag_at = 0.0
        self._status_at = 0.0

    def open(self) -> "Runtime":
        """Take the lock (LockHeld if another exporter has it) and open every state file."""
        self.options.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.lock.acquire()
        try:
            self.machine_id = identity.machine_id()
            self.instance_id = identity.instance_id(self.options.state_dir, self.machine_id)
            self.offsets.load()
            self.buffer.open()
            self.set_endpoint(self.options.endpoint)
        except BaseException:
            self.lock.release()
            raise
        return self

    def set_endpoint(self, endpoint: Endpoint) -> None:
        """Send to ``endpoint`` from now on (the first call builds the dispatcher and reader)."""
        self.options.endpoint = endpoint
        self.shipper = None
        if endpoint.url is not None:
            self.shipper = Shipper(endpoint, timeout=self.options.timeout,
                                   attempts=self.options.attempts)
        if self.dispatcher is not None:
            # The same dispatcher goes on: payloads in flight keep their place, and the
            # ledger's chunks stay whole (a new dispatcher would have to give them up).
            self.dispatcher.set_shipper(self.shipper)
            return
        self.dispatcher = Dispatcher(self.buffer, self.shipper,
                                     workers=self.options.concurrency, counters=self.counters,
                                     on_settled=self._settled,
                                     should_stop=self.should_stop).start()
        self.reader = Reader(self.ledger, self.dispatcher, instance_id=self.instance_id,
                             machine_id=self.machine_id, user=self.options.user,
                             counters=self.counters,
                             should_stop=self.should_stop, redactor=self.options.redactor,
                             metadata_only=self.options.metadata_only,
                             build_workers=(default_build_workers()
                                            if self.options.build_workers is None
                                            else self.options.build_workers))

    def _settled(self, job: Job) -> None:
        """A payload's fate is known: tell the ledger, which moves the offset."""
        if job.token is not None:
            self.ledger.settle(job.token, job.outcome.safe)

    def close(self) -> None:
        """Finish in-flight payloads (bounded), save offsets and status, release the lock."""
        try:
            if self.reader is not None:
                self.reader.close()
            if self.dispatcher is not None:
                self.dispatcher.close(self.options.shutdown_timeout)
            self.offsets.save(force=True)
            self.write_status(running=False)
        finally:
            self.lock.release()

    # -- collector -----------------------------------------------------------------------

    def register(self) -> Answer | None:
        """Register (or heartbeat) with the collector; None when there is none."""
        if self.shipper is None:
            return None
        started = datetime.fromtimestamp(self.started_at, tz=timezone.utc)
        answer = self.shipper.register(registration(self.instance_id, self.machine_id, started,
                                                    self.options.user))
        self.dispatcher.note_answer(answer)
        log.debug("registration: %s", answer.describe())
        return answer

    def drain_buffer(self, budget: float) -> None:
        """Send buffered payloads, oldest first, while the collector takes them (bounded)."""
        deadline = time.monotonic() + budget
        while time.monotonic() < deadline and not self.should_stop():
            if self.dispatcher.state in (Collector.NONE, Collector.DOWN, Collector.REFUSED):
                break
            queued = self.dispatcher.drain()
            if not queued and not self.dispatcher.draining:
                break
            time.sleep(0.02)
        self.dispatcher.wait_idle(max(0.0, deadline - time.monotonic()))

    # -- reading -------------------------------------------------------------------------

    def files(self, roots: list[WatchRoot] | None = None) -> list[tuple[Source, Path]]:
        """Return every session file under ``roots`` (default: all), each once."""
        seen: set[str] = set()
        result = []
        for root in roots if roots is not None else self.options.roots:
            if not root.path.is_dir():
                continue
            try:
                found = sorted(root.source.discover(root.path))
            except OSError as exc:
                log.warning("cannot list %s: %s", root.path, exc)
                continue
            for path in found:
                key = str(path)
                if key not in seen:
                    seen.add(key)
                    result.append((root.source, Path(path)))
        self.known = seen
        return result

    def scan(self, files: list[tuple[Source, Path]] | None = None, final: bool = False,
             waiting: dict[Path, Source] | None = None) -> ReadStatus:
        """Read everything new in ``files`` (default: all); stop early when paused or stopping.

        ``final`` reads a last line without its newline (see the reader); files left
        waiting for one are added to ``waiting`` when given.
        """
        files = self.files() if files is None else files
        for source, path in files:
            status = self.reader.read_file(source, path, final=final)
            if status is ReadStatus.WAITING and waiting is not None:
                waiting[path] = source
            self.save_offsets()
            self.maybe_write_status()
            if status is ReadStatus.PAUSED:
                self.paused = "buffer full" if self.dispatcher.parked else None
                return status
            if self.dispatcher.state is Collector.REFUSED and self.mode != "forward":
                return ReadStatus.PAUSED
        self.paused = None
        self.ledger.prune()
        return ReadStatus.DONE

    def save_offsets(self, force: bool = False) -> None:
        """Save offsets if they moved, at most every SAVE_INTERVAL unless ``force``."""
        now = time.monotonic()
        if force or now - self._last_save >= SAVE_INTERVAL:
            if self.offsets.save(force=False):
                self._last_save = now

    # -- status --------------------------------------------------------------------------

    def lag(self, max_age: float = 0.0) -> int:
        """Bytes of session files not yet delivered (recomputed when older than ``max_age``)."""
        now = time.monotonic()
        if now - self._lag_at >= max_age:
            self._lag = self.ledger.lag(self.known)
            self._lag_at = now
        return self._lag

    def status(self, running: bool = True) -> dict:
        """Return the status file's content (see :mod:`thinkt.exporter.report.statusfile`)."""
        total = self.counters.total()
        endpoint = self.options.endpoint
        return {
            "pid": os.getpid(),
            "mode": self.mode,
            "version": __version__,
            "instance_id": self.instance_id,
            "running": running,
            "started_at": statusfile.rfc3339(self.started_at),
            "updated_at": statusfile.rfc3339(time.time()),
            "collector": {
                "url": endpoint.url,
                "found_by": endpoint.found_by,
                "status": self.dispatcher.state.value,
                "last_error": self.counters.last_error,
            },
            "watch": {
                "mode": self.watch_mode,
                "roots": [str(r) for r in self.options.roots],
                "directories": self.watched_directories,
                "files": len(self.known),
            },
            "buffer": {
                "dir": str(self.buffer.directory),
                "files": self.buffer.files,
                "bytes": self.buffer.bytes,
                "max_bytes": self.buffer.max_bytes,
                "full": bool(self.dispatcher.parked),
                "rejected": self.buffer.rejected_count(),
            },
            "counts": {
                "entries_read": total.entries_read,
                "entries_shipped": total.entries_shipped,
                "duplicates": total.duplicates,
                "payloads_shipped": total.payloads_shipped,
                "payloads_buffered": total.payloads_buffered,
                "payloads_failed": total.payloads_failed,
                "payloads_rejected": total.payloads_rejected,
                "entries_rejected": total.entries_rejected,
                "redactions": self.options.redactor.totals() if self.options.redactor else {},
            },
            "redaction": statusfile.redaction_mode(self.options.redactor is not None,
                                                   self.options.metadata_only),
            "last_ship_at": statusfile.rfc3339(self.counters.last_ship_at),
            "lag_bytes": self.lag(max_age=self.options.status_interval),
            "paused": self.paused,
        }

    def write_status(self, running: bool = True) -> None:
        """Rewrite the status file."""
        statusfile.write_status(self.options.state_dir, self.status(running))
        self._status_at = time.monotonic()

    def maybe_write_status(self) -> None:
        """Rewrite the status file if the last write is older than ``status_interval``."""
        if time.monotonic() - self._status_at >= self.options.status_interval:
            self.write_status()
