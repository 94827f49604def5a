"""Delivery: every payload ends shipped, buffered or rejected before its offset moves.

The reader hands the :class:`Dispatcher` one :class:`Ticket` per read of a session
file: the payloads built from that read, and the file record (offset, parser state,
identity) that becomes true once all of them are delivered. Sending threads POST the
payloads; a payload the collector cannot take now goes to the disk buffer; one it
refuses for good goes to ``rejected/``. Tickets of one file commit in order, so the
offsets file only ever moves past lines whose entries are safe.

A payload that fits neither the collector nor the buffer (buffer full) is *held*:
its ticket and every later ticket of that file are dropped, the file's cursor falls
back to the last committed offset, and :meth:`Dispatcher.accepting` turns False so
the reader stops reading until there is room. Nothing is lost: the lines are still
in the session file.

The collector's state (up, down, refused, none) decides where new payloads go:
while it is down they go straight to the buffer, and one payload at a time probes
it again after a growing delay (at least what its last ``Retry-After`` asked);
:meth:`Dispatcher.drain` sends buffered payloads, oldest first, whenever it is up.
Once started, a drain keeps itself going: each buffered payload the collector takes
queues the next, so the backlog goes out with every sender busy instead of at the pace
of whoever calls :meth:`~Dispatcher.drain`.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import logging
import queue
import threading
import time
from typing import Callable

from thinkt.exporter.ship import payload as payloads
from thinkt.exporter.ship.buffer import DiskBuffer
from thinkt.exporter.state.offsets import FileRecord, OffsetStore
from thinkt.exporter.ship.shipper import Answer, Result, Shipper

log = logging.getLogger(__name__)

#: A buffered payload that got HTTP 5xx this many times is a poison pill: reject it.
MAX_SERVER_ERRORS = 5
#: Waits before probing a collector that went down: doubling from MIN to MAX seconds.
PROBE_MIN, PROBE_MAX = 1.0, 60.0


class Delivery(enum.Enum):
    """Where a payload ended up."""

    SHIPPED = "shipped"
    BUFFERED = "buffered"
    REJECTED = "rejected"
    HELD = "held"  # nowhere: the buffer was full; its lines must be read again later


class Collector(enum.Enum):
    """What we know about the collector."""

    NONE = "none"  # no collector configured: buffer only
    UNKNOWN = "unknown"
    UP = "connected"
    DOWN = "unreachable"
    REFUSED = "refused"  # 401/403/404/405: wrong URL or key


@dataclasses.dataclass
class SourceCounts:
    """Counters of one source (or of everything)."""

    files: int = 0
    entries_read: int = 0
    bytes_read: int = 0
    entries_shipped: int = 0
    duplicates: int = 0
    payloads_shipped: int = 0
    payloads_buffered: int = 0
    entries_buffered: int = 0
    payloads_rejected: int = 0
    entries_rejected: int = 0
    payloads_failed: int = 0  # transient failures (each later shipped or buffered)
    skipped: dict = dataclasses.field(default_factory=dict)


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

    def total(self) -> SourceCounts:
        """Return the sums over every source."""
        with self._lock:
            total = SourceCounts()
            for counts in self.by_source.values():
                for field in dataclasses.fields(SourceCounts):
                    if field.name != "skipped":
                        setattr(total, field.name,
                                getattr(total, field.name) + getattr(counts, field.name))
                for reason, value in counts.skipped.items():
                    total.skipped[reason] = total.skipped.get(reason, 0) + value
            return total


class Job:
    """One payload on its way; resolved exactly once."""

    __slots__ = ("payload", "body", "entries", "source", "ticket", "outcome", "buffer_name",
                 "probe")

    def __init__(self, payload: dict | None, source: str, ticket: "Ticket | None" = None,
                 body: bytes | None = None, buffer_name: str | None = None,
                 probe: bool = False):
        self.payload = payload
        self.body = body
        self.entries = len(payload["entries"]) if payload is not None else 0
        self.source = source
        self.ticket = ticket
        self.outcome: Delivery | None = None
        self.buffer_name = buffer_name  # set for payloads drained from the buffer
        self.probe = probe  # a buffered payload queued as the probe of a down collector



@dataclasses.dataclass(eq=False)
class Ticket:
    """The payloads of one read of one file, and the record to commit once all are safe."""

    path: str
    record: FileRecord
    jobs: list = dataclasses.field(default_factory=list)
    remaining: int = 0
    held: bool = False


class Dispatcher:
    """Send payloads with a few threads, fall back to the buffer, commit offsets in order."""

    def __init__(self, offsets: OffsetStore, buffer: DiskBuffer, shipper: Shipper | None, *,
                 workers: int = 4, counters: Counters | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.offsets = offsets
        self.buffer = buffer
        self.shipper = shipper
        self.counters = counters or Counters()
        self._clock = clock
        self._workers = max(1, workers)
        self._queue: queue.Queue = queue.Queue(maxsize=self._workers * 4)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._tickets: dict[str, collections.deque] = {}
        self._outstanding: set[Job] = set()
        self._draining: set[str] = set()
        self._server_errors: dict[str, int] = {}
        self._threads: list[threading.Thread] = []
        self._held = False
        self._held_size = 0
        self.held_count = 0  # payloads that found the buffer full, ever (for reports)
        self.state = Collector.NONE if shipper is None else Collector.UNKNOWN
        self.refused_reason: str | None = None
        self._down_until = 0.0
        self._down_since = 0.0  # when the current outage was first noticed
        self._probe_delay = PROBE_MIN
        self._probing = False

    # -- life cycle ------------------------------------------------------------------

    def start(self) -> "Dispatcher":
        """Start the sending threads (daemon threads: a stuck POST never blocks exit)."""
        if self.shipper is not None:
            for number in range(self._workers):
                thread = threading.Thread(target=self._work, name=f"thinkt-sender-{number}",
                                          daemon=True)
                thread.start()
                self._threads.append(thread)
        return self

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every submitted payload is resolved; return False on timeout."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._idle:
            while self._outstanding:
                remaining = None if deadline is None else deadline - self._clock()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle.wait(0.5 if remaining is None else min(remaining, 0.5))
        return True

    def close(self, timeout: float = 3.0) -> None:
        """Finish in-flight payloads for up to ``timeout`` seconds, buffer the rest, stop."""
        if not self.wait_idle(timeout):
            if self.shipper is not None:
                self.shipper.stop.set()  # cut retry back-offs short
            with self._lock:
                leftovers = [j for j in self._outstanding if j.buffer_name is None]
                stuck = [j for j in self._outstanding if j.buffer_name is not None]
            log.info("%d payloads still in flight at shutdown: buffering them", len(leftovers))
            for job in leftovers:
                self._to_buffer(job)
            for job in stuck:  # buffered payloads in flight stay in the buffer
                self._resolve(job, Delivery.BUFFERED)
        if self.shipper is not None:
            self.shipper.stop.set()
        for _ in self._threads:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                break

    # -- the reader's side -----------------------------------------------------------

    def accepting(self) -> bool:
        """Return False while payloads have nowhere to go (buffer full, collector down)."""
        if not self._held:
            return True
        if self.state is Collector.UP or self.buffer.fits(self._held_size):
            self._held = False
            log.info("export buffer has room again (%d bytes): reading resumes",
                     self.buffer.bytes)
            self._held_size = 0
            return True
        return False

    @property
    def held(self) -> bool:
        """True when a payload found the buffer full since reading last resumed."""
        return self._held

    def cursor(self, path: str) -> FileRecord | None:
        """Return where the next read of ``path`` starts if reads are in flight, else None."""
        with self._lock:
            tickets = self._tickets.get(path)
            if tickets:
                return tickets[-1].record
        return None

    def pending(self, path: str) -> bool:
        """Return True while payloads read from ``path`` are not yet all resolved."""
        with self._lock:
            return bool(self._tickets.get(path))

    def submit(self, path: str, record: FileRecord, batch: list[dict], source: str) -> Ticket:
        """Hand over the payloads of one read; ``record`` is committed once all are safe."""
        ticket = Ticket(path, record)
        ticket.jobs = [Job(p, source, ticket) for p in batch]
        ticket.remaining = len(ticket.jobs)
        with self._lock:
            self._tickets.setdefault(path, collections.deque()).append(ticket)
            self._outstanding.update(ticket.jobs)
            if not ticket.jobs:
                self._advance(path)
        for job in ticket.jobs:
            self._dispatch(job)
        return ticket

    def _dispatch(self, job: Job) -> None:
        if self._buffer_directly():
            self._to_buffer(job)
            return
        while True:
            try:
                self._queue.put(job, timeout=0.5)
                return
            except queue.Full:
                if self.shipper.stop.is_set():
                    self._to_buffer(job)
                    return

    def _buffer_directly(self) -> bool:
        """True when a new payload cannot be sent now (no collector, or down and not due)."""
        if self.shipper is None:
            return True
        with self._lock:
            return self.state in (Collector.DOWN, Collector.REFUSED) and (
                self._probing or self._clock() < self._down_until)

    def _may_send(self) -> bool:
        """Decide (lock held) whether a payload may be POSTed now.

        While the collector is down, the first payload after the wait becomes the
        probe and the others go to the buffer until its answer is in.
        """
        if self.state in (Collector.UP, Collector.UNKNOWN):
            return True
        if self._probing or self._clock() < self._down_until:
            return False
        self._probing = True
        return True

    # -- the sending threads ---------------------------------------------------------

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                if job.buffer_name is not None:
                    self._send_buffered(job)
                else:
                    self._send(job)
            except Exception:  # a bug must not kill the sender and strand the ticket
                log.exception("unexpected error delivering a payload; buffering it")
                with self._lock:
                    self._probing = False
                if job.buffer_name is None:
                    self._to_buffer(job)
                else:
                    self._resolve(job, Delivery.BUFFERED)

    def _send(self, job: Job) -> None:
        with self._lock:
            send = self._may_send()
        if not send:
            self._to_buffer(job)
            return
        contents = self._contents(job)
        if contents is None:
            return  # resolved meanwhile (buffered at shutdown)
        payload, body = contents
        started = self._clock()
        answer = self.shipper.post(body)
        self._note(answer, started)
        outcome = self._settle(answer, payload, body, job.source)
        if outcome is None:  # transient failure or refusal: it waits in the buffer
            self._to_buffer(job)
        else:
            self._resolve(job, outcome)

    def _settle(self, answer: Answer, payload: dict | None, body: bytes, source: str,
                ) -> Delivery | None:
        """Act on the answer to one payload; None when the payload must wait in the buffer."""
        if answer.result is Result.SHIPPED:
            self.counters.add(source, payloads_shipped=1, entries_shipped=answer.accepted,
                              duplicates=answer.duplicates)
            if answer.rejected_entries:
                self._reject(source, body, answer, entries=answer.rejected_entries)
            return Delivery.SHIPPED
        if answer.result is Result.TOO_LARGE:
            payload = payload if payload is not None else payloads.decode(body)
            parts = payloads.split(payload)
            if len(parts) == 1:
                self._reject(source, body, answer, entries=len(payload["entries"]))
                return Delivery.REJECTED
            log.info("collector said payload too large: sending %d entries in two halves",
                     len(payload["entries"]))
            outcomes = []
            for part in parts:
                part_body = payloads.encode(part)
                part_answer = self.shipper.post(part_body)
                self._note(part_answer)
                outcomes.append(self._settle(part_answer, part, part_body, source))
            if any(o is None for o in outcomes):
                return None  # the whole payload goes to the buffer (the collector dedups)
            return Delivery.SHIPPED
        if answer.result is Result.REJECTED:
            entries = len(payload["entries"]) if payload is not None else 0
            self._reject(source, body, answer, entries=entries)
            return Delivery.REJECTED
        self.counters.add(source, payloads_failed=1)
        return None

    def _send_buffered(self, job: Job) -> None:
        name = job.buffer_name
        with self._lock:
            # Queued while the collector was up, taken after it went down: it stays in the
            # buffer unasked. Each such POST would count as a failed probe and double the
            # wait; a drain keeps 2 x workers queued, so that was a minute's stall.
            send = job.probe or self._may_send()
        if not send:
            self._resolve(job, Delivery.BUFFERED)
            return
        try:
            body = self.buffer.read(name)
        except FileNotFoundError:
            # Taken by an earlier send meanwhile (drain works from a snapshot of names),
            # or deleted by hand. Nothing was asked: while the collector is down this job
            # was the probe, and keeping its place would stop every probe until the next
            # heartbeat.
            with self._lock:
                if self.state in (Collector.DOWN, Collector.REFUSED):
                    self._probing = False
            self.buffer.remove(name)  # forget the name, or every drain would pick it again
            self._resolve(job, Delivery.SHIPPED)
            self._refill()
            return
        # One try: the drain comes back to it; a retry loop here would only delay the others.
        started = self._clock()
        answer = self.shipper.post(body, attempts=1)
        self._note(answer, started)
        if answer.result is Result.REJECTED:
            self._reject(job.source, None, answer, name=name)
        elif answer.result in (Result.SHIPPED, Result.TOO_LARGE):
            if self._settle(answer, None, body, job.source) is not None:
                self.buffer.remove(name)
                with self._lock:
                    self.counters.buffer_shipped += 1
                    self._server_errors.pop(name, None)
        elif answer.status is not None and answer.status >= 500:
            errors = self._server_errors[name] = self._server_errors.get(name, 0) + 1
            if errors >= MAX_SERVER_ERRORS:
                log.warning("buffered payload %s failed with %s %d times: moving it to "
                            "rejected/", name, answer.describe(), errors)
                self._reject(job.source, None, answer, name=name)
        self._resolve(job, Delivery.BUFFERED)
        self._refill()

    def _refill(self) -> None:
        """Queue the next buffered payloads while the collector takes them.

        Called by a sender when a buffered payload is done: waiting for the owner's
        next :meth:`drain` (the daemon's is once a second) capped the drain at
        2 x workers payloads per tick. Only while the collector is up: after a
        failure the probe logic decides when to send again, and a failure never
        refills, so nothing here can spin without progress.
        """
        if self.shipper.stop.is_set() or not self.buffer.files:
            return
        with self._lock:
            if self.state is not Collector.UP:
                return
        self.drain()

    def _reject(self, source: str, body: bytes | None, answer: Answer, *, entries: int = 0,
                name: str | None = None) -> None:
        response = {"status": answer.status, "body": answer.body, "source": source}
        path = self.buffer.reject(response, name=name, body=body)
        self.counters.add(source, payloads_rejected=1, entries_rejected=entries)
        with self._lock:
            self.counters.last_error = f"payload rejected: {answer.describe()}"
        log.warning("collector rejected a %s payload (%s); kept in %s", source,
                    answer.describe(), path)

    def _note(self, answer: Answer, started: float | None = None) -> None:
        """Update what we know about the collector from one answer (sent at ``started``)."""
        with self._lock:
            if (answer.result is Result.RETRY and self.state is Collector.DOWN
                    and started is not None and started < self._down_since):
                # Sent before the outage was noticed: the same outage seen again, not the
                # probe's answer. It must neither free the probe's place (a second probe
                # would go out) nor lengthen the wait (doubling on every payload that was
                # in flight turned a 4 s restart into a minute's stall).
                self.counters.last_error = answer.describe()
                return
            self._probing = False
            if answer.result in (Result.SHIPPED, Result.TOO_LARGE, Result.REJECTED):
                if self.state is not Collector.UP:
                    log.info("collector is reachable")
                self.state = Collector.UP
                self._probe_delay = PROBE_MIN
                if answer.result is Result.SHIPPED:
                    self.counters.last_ship_at = time.time()
                return
            reason = answer.describe()
            self.counters.last_error = reason
            if answer.result is Result.REFUSED:
                if self.state is not Collector.REFUSED:
                    log.error("collector refused us (%s): check the collector URL and API key; "
                              "payloads wait in the buffer", reason)
                self.state = Collector.REFUSED
                self.refused_reason = reason
                self._down_until = self._clock() + PROBE_MAX
                return
            now = self._clock()
            if self.state is not Collector.DOWN:
                log.warning("collector unreachable (%s): buffering payloads to disk", reason)
                self._down_since = now
            self.state = Collector.DOWN
            # A busy collector says how long to stay away (503 + Retry-After): a
            # buffered payload gets one try only, so the wait before the probe is where
            # that is honoured (capped like every probe wait).
            wait = max(self._probe_delay, min(answer.retry_after or 0.0, PROBE_MAX))
            self._down_until = now + wait
            self._probe_delay = min(PROBE_MAX, self._probe_delay * 2)

    def note_answer(self, answer: Answer) -> None:
        """Learn from an answer obtained elsewhere (registration, health)."""
        self._note(answer)

    # -- the buffer ------------------------------------------------------------------

    def _contents(self, job: Job) -> tuple[dict, bytes] | None:
        """Return the job's payload and gzip body (compressed once), or None if resolved.

        Shutdown may resolve a job while its sender still holds it; reading the
        fields under the lock keeps either side from sending or buffering nothing.
        """
        with self._lock:
            if job.outcome is not None:
                return None
            payload, body = job.payload, job.body
        if body is None:
            body = payloads.encode(payload)
            with self._lock:
                job.body = body if job.outcome is None else None
        return payload, body

    def _to_buffer(self, job: Job) -> None:
        contents = self._contents(job)
        if contents is None:
            return
        body = contents[1]
        name = self.buffer.put(body)
        if name is None:
            if not self._held:
                log.warning("export buffer is full (%d of %d bytes): reading pauses until the "
                            "collector takes payloads", self.buffer.bytes, self.buffer.max_bytes)
            with self._lock:
                self._held = True
                self._held_size = max(self._held_size, len(body))
                self.held_count += 1
            self._resolve(job, Delivery.HELD)
            return
        self.counters.add(job.source, payloads_buffered=1, entries_buffered=job.entries)
        self._resolve(job, Delivery.BUFFERED)

    def drain(self, limit: int | None = None) -> int:
        """Queue buffered payloads for sending, oldest first; return how many were queued.

        While the collector is down only one payload goes, as a probe, once its wait
        is over. Payloads already on their way are not queued twice.
        """
        if self.shipper is None:
            return 0
        limit = self._workers * 2 if limit is None else limit
        queued = 0
        with self._lock:
            names = self.buffer.oldest(limit - len(self._draining), self._draining)
        for name in names:
            with self._lock:
                if len(self._draining) >= limit:
                    break
                if name in self._draining:
                    continue
                probe = self.state in (Collector.DOWN, Collector.REFUSED)
                if probe:
                    if not self._may_send():
                        break
                    limit = len(self._draining) + 1  # just the probe
                self._draining.add(name)
                job = Job(None, "buffer", buffer_name=name, probe=probe)
                self._outstanding.add(job)
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                with self._lock:
                    self._draining.discard(name)
                    self._outstanding.discard(job)
                    if probe:
                        self._probing = False
                break
            queued += 1
        return queued

    @property
    def draining(self) -> int:
        """How many buffered payloads are on their way right now."""
        return len(self._draining)

    # -- resolution and commits ------------------------------------------------------

    def _resolve(self, job: Job, outcome: Delivery) -> None:
        with self._lock:
            if job.outcome is not None:
                return
            job.outcome = outcome
            self._outstanding.discard(job)
            if job.buffer_name is not None:
                self._draining.discard(job.buffer_name)
            ticket = job.ticket
            if ticket is not None:
                ticket.remaining -= 1
                if outcome is Delivery.HELD:
                    ticket.held = True
                if ticket.remaining == 0:
                    self._advance(ticket.path)
            job.payload = None  # free memory; the body stays only while needed
            job.body = None
            self._idle.notify_all()

    def _advance(self, path: str) -> None:
        """Commit the finished tickets at the head of ``path``'s queue (lock held)."""
        tickets = self._tickets.get(path)
        while tickets and tickets[0].remaining == 0:
            ticket = tickets.popleft()
            if ticket.held:
                # Later reads started after lines that are not safe: read them again.
                tickets.clear()
                break
            self.offsets.set(path, ticket.record)
        if tickets is not None and not tickets:
            del self._tickets[path]
