"""Delivery: every payload ends shipped, buffered or rejected, and says so to whoever asked.

The reader hands the :class:`Dispatcher` payloads (:meth:`Dispatcher.submit`), each
with a token of its own (the ledger's chunk); sending threads POST them; a payload
the collector cannot take now goes to the disk buffer; one it refuses for good goes
to ``rejected/``. Each payload is resolved exactly once, and ``on_settled`` is called
with it then: that is how the ledger learns which lines are safe. The dispatcher
never touches offsets.

A payload that fits neither the collector nor the buffer (collector down, buffer full)
is *parked*: kept in memory and tried again (:meth:`Dispatcher.retry_parked`) once the
collector answers or the buffer has room. While anything is parked,
:meth:`Dispatcher.has_room` is False and the reader stops reading (the session files
still hold the rest). The window of payloads in flight is bounded, so parked payloads
are too. Only :meth:`Dispatcher.close` gives payloads up (``UNSENT``): their lines are
read again by the next run.

The collector's state (up, down, refused, none) decides where new payloads go:
while it is down they go straight to the buffer, and one payload at a time probes
it again after a growing delay (at least what its last ``Retry-After`` asked);
:meth:`Dispatcher.drain` sends buffered payloads, oldest first, whenever it is up.
Once started, a drain keeps itself going: each buffered payload the collector takes
queues the next, so the backlog goes out with every sender busy. A 5xx or 429 never
makes a payload give up: a buffered payload that failed waits its own back-off so the
others go first, and is tried again for as long as it takes.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import queue
import threading
import time
from typing import Any, Callable

from thinkt.exporter.report.counters import BUFFER, Counters
from thinkt.exporter.ship import payload as payloads
from thinkt.exporter.ship.buffer import DiskBuffer
from thinkt.exporter.ship.payload import Payload
from thinkt.exporter.ship.shipper import Answer, Result, Shipper, backoff

log = logging.getLogger(__name__)

#: Waits before probing a collector that went down: doubling from MIN to MAX seconds.
PROBE_MIN, PROBE_MAX = 1.0, 60.0
#: Payloads waiting for a sender, per sender: the window that bounds memory.
QUEUE_PER_WORKER = 4


class Outcome(enum.Enum):
    """Where a payload ended up."""

    SHIPPED = "shipped"  # the collector acknowledged it
    BUFFERED = "buffered"  # safe in the disk buffer
    REJECTED = "rejected"  # refused for good; kept in rejected/
    UNSENT = "unsent"  # given up at close: neither sent nor buffered

    @property
    def safe(self) -> bool:
        """True when the payload's lines need not be read again."""
        return self is not Outcome.UNSENT


class Collector(enum.Enum):
    """What we know about the collector."""

    NONE = "none"  # no collector configured: buffer only
    UNKNOWN = "unknown"
    UP = "connected"
    DOWN = "unreachable"
    REFUSED = "refused"  # 401/403/404/405 or an answer that is not a collector's: wrong URL or key


@dataclasses.dataclass(eq=False)
class Job:
    """One payload on its way; resolved exactly once."""

    body: bytes | None
    entries: int
    source: str
    token: Any = None  # the submitter's (the ledger's chunk), handed back on settling
    clipped: int = 0
    buffer_name: str | None = None  # set for payloads drained from the buffer
    probe: bool = False  # queued as the probe of a down collector: sent whatever the wait
    outcome: Outcome | None = None


@dataclasses.dataclass
class Ack:
    """What the collector said about one payload (summed over the parts of a split one)."""

    outcome: Outcome | None  # None: not acknowledged, it must wait in the buffer
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0  # entries refused inside a 200 (partial success)
    clipped: int = 0  # entries that a 413 made the exporter clip further


class Dispatcher:
    """Send payloads with a few threads, fall back to the buffer, report each payload's fate."""

    def __init__(self, buffer: DiskBuffer, shipper: Shipper | None, *, workers: int = 4,
                 counters: Counters | None = None,
                 on_settled: Callable[[Job], None] | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.buffer = buffer
        self.shipper = shipper
        self.counters = counters or Counters()
        self.on_settled = on_settled
        self.should_stop = should_stop or (lambda: False)
        self._clock = clock
        self._workers = max(1, workers)
        self._queue: queue.Queue = queue.Queue(maxsize=self._workers * QUEUE_PER_WORKER)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._outstanding: set[Job] = set()
        self._parked: list[Job] = []
        self._draining: set[str] = set()
        self._not_before: dict[str, tuple[float, int]] = {}  # buffered name -> (due, failures)
        self._threads: list[threading.Thread] = []
        self._closed = threading.Event()
        self.parked_ever = 0  # payloads that found the buffer full (for reports)
        self.state = Collector.NONE if shipper is None else Collector.UNKNOWN
        self.refused_reason: str | None = None
        self._down_until = 0.0
        self._down_since = 0.0  # when the current outage was first noticed
        self._probe_delay = PROBE_MIN
        self._probing = False

    # -- life cycle ------------------------------------------------------------------

    def start(self) -> "Dispatcher":
        """Start the sending threads (daemon threads: a stuck POST never blocks exit)."""
        if self.shipper is not None and not self._threads:
            for number in range(self._workers):
                thread = threading.Thread(target=self._work, name=f"thinkt-sender-{number}",
                                          daemon=True)
                thread.start()
                self._threads.append(thread)
        return self

    def set_shipper(self, shipper: Shipper | None) -> None:
        """Send to another collector from now on (payloads in flight finish where they are)."""
        with self._lock:
            old, self.shipper = self.shipper, shipper
            self.state = Collector.NONE if shipper is None else Collector.UNKNOWN
            self.refused_reason = None
            self._probing = False
            self._probe_delay = PROBE_MIN
            self._down_until = 0.0
        if old is not None and old is not shipper:
            old.stop.set()  # cut its retry back-offs short: what fails now is buffered
        if shipper is not None:
            self.start()

    def wait_idle(self, timeout: float | None = None, parked_too: bool = True) -> bool:
        """Wait until every submitted payload is resolved (or only parked ones remain,
        unless ``parked_too``); return False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            while len(self._outstanding) > (0 if parked_too else len(self._parked)):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle.wait(0.2 if remaining is None else min(remaining, 0.2))
        return True

    def close(self, timeout: float = 3.0) -> None:
        """Let in-flight payloads finish for up to ``timeout`` seconds, buffer the rest,
        give up what fits nowhere (UNSENT), stop the senders."""
        self.wait_idle(timeout, parked_too=False)
        self._closed.set()
        shipper = self.shipper
        if shipper is not None:
            shipper.stop.set()  # cut retry back-offs short
        with self._lock:
            leftovers = [j for j in self._outstanding if j.buffer_name is None]
            drained = [j for j in self._outstanding if j.buffer_name is not None]
            self._parked.clear()
        if leftovers:
            log.info("%d payloads still in flight at shutdown: buffering them", len(leftovers))
        for job in leftovers:
            self._to_buffer(job, park=False)
        for job in drained:  # buffered payloads in flight stay in the buffer
            self._resolve(job, Outcome.BUFFERED)
        while True:  # what no sender took: nothing more to do
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        for thread in self._threads:
            thread.join(0.05)  # those blocked in a POST are daemon threads: never waited on

    # -- the reader's side -----------------------------------------------------------

    def has_room(self) -> bool:
        """Return False while payloads have nowhere to go (parked: buffer full, collector down)."""
        return not self._parked and not self._closed.is_set()

    @property
    def parked(self) -> int:
        """How many payloads wait in memory for the buffer or the collector."""
        return len(self._parked)

    def submit(self, payload: Payload, token: Any = None) -> Job:
        """Hand over one payload; ``on_settled`` is called once its fate is known."""
        job = Job(payload.body, payload.entries, payload.source, token, payload.clipped)
        with self._lock:
            self._outstanding.add(job)
        self._dispatch(job)
        return job

    def _dispatch(self, job: Job) -> None:
        if self._buffer_directly():
            self._to_buffer(job)
            return
        while True:
            try:
                self._queue.put(job, timeout=0.2)
                return
            except queue.Full:
                if self.should_stop() or self._closed.is_set() or self.shipper is None \
                        or self.shipper.stop.is_set():
                    self._to_buffer(job)
                    return

    def _buffer_directly(self) -> bool:
        """True when a new payload cannot be sent now (no collector, or down and not due)."""
        with self._lock:
            if self.shipper is None or self._closed.is_set():
                return True
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
        while not self._closed.is_set():
            try:
                job = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                if job.buffer_name is not None:
                    self._send_buffered(job)
                else:
                    self._send(job)
            except Exception:  # a bug must not kill the sender and strand the payload
                log.exception("unexpected error delivering a payload; buffering it")
                with self._lock:
                    self._probing = False
                if job.buffer_name is None:
                    self._to_buffer(job)
                else:
                    self._resolve(job, Outcome.BUFFERED)

    def _send(self, job: Job) -> None:
        shipper = self.shipper
        with self._lock:
            send = shipper is not None and (job.probe or self._may_send())
            body = job.body if job.outcome is None else None
        if not send or body is None:
            self._to_buffer(job)
            return
        started = self._clock()
        answer = shipper.post(body)
        self._note(answer, started)
        ack = self._settle(answer, body, job.entries, job.source, shipper)
        if ack.outcome is None:  # transient failure or refusal: it waits in the buffer
            job.probe = False
            self._to_buffer(job)
        else:
            self._resolve(job, ack.outcome, ack)

    def _settle(self, answer: Answer, body: bytes, entries: int, source: str,
                shipper: Shipper) -> Ack:
        """Act on the answer to one payload of ``entries`` entries: what was acknowledged,
        or an outcome of None when it must wait in the buffer (a transient failure, or an
        answer that does not acknowledge what was sent)."""
        if answer.result is Result.SHIPPED:
            if answer.accepted + answer.rejected_entries != entries:
                self._unexpected(answer, f"acknowledged {answer.accepted} of {entries} entries")
                return Ack(None)
            if answer.rejected_entries:
                self._reject(source, body, answer)
            return Ack(Outcome.SHIPPED, answer.accepted, answer.duplicates,
                       answer.rejected_entries)
        if answer.result is Result.TOO_LARGE:
            parts = payloads.shrink(body)
            if not parts:
                self._reject(source, body, answer)
                return Ack(Outcome.REJECTED)
            log.info("collector said payload too large: sending its %d entries as %d smaller "
                     "payloads", entries, len(parts))
            total = Ack(Outcome.SHIPPED)
            for part_body, part_entries in parts:
                part_answer = shipper.post(part_body)
                self._note(part_answer)
                part = self._settle(part_answer, part_body, part_entries, source, shipper)
                if part.outcome is None:
                    return Ack(None)  # the whole payload waits in the buffer (the collector dedups)
                if part.outcome is Outcome.REJECTED:
                    part = Ack(Outcome.REJECTED, rejected=part_entries)
                elif entries == 1:
                    part.clipped += 1  # the single entry went out clipped further
                total.accepted += part.accepted
                total.duplicates += part.duplicates
                total.rejected += part.rejected
                total.clipped += part.clipped
            return total
        if answer.result is Result.REJECTED:
            self._reject(source, body, answer)
            return Ack(Outcome.REJECTED)
        self.counters.add(source, payloads_failed=1)
        return Ack(None)

    def _unexpected(self, answer: Answer, why: str) -> None:
        """An answer that does not acknowledge what was sent: the endpoint is not trusted,
        as a refusing one is not."""
        self._note(Answer(Result.REFUSED, answer.status,
                          error=f"{why}; is the URL a thinkt collector?"))

    def _send_buffered(self, job: Job) -> None:
        name = job.buffer_name
        shipper = self.shipper
        with self._lock:
            # Queued while the collector was up, taken after it went down: it stays in the
            # buffer unasked. Each such POST would count as a failed probe and double the
            # wait; a drain keeps 2 x workers queued, so that was a minute's stall.
            send = shipper is not None and (job.probe or self._may_send())
        if not send:
            self._resolve(job, Outcome.BUFFERED)
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
            self._resolve(job, Outcome.SHIPPED)
            self._refill()
            return
        entries = self.buffer.entries(name)
        if entries is None:  # buffered by an older version: its name holds no count
            entries = payloads.count_entries(body)
        # One try: the drain comes back to it; a retry loop here would only delay the others.
        started = self._clock()
        answer = shipper.post(body, attempts=1)
        self._note(answer, started)
        if answer.result is Result.REJECTED:
            self._reject(BUFFER, None, answer, name=name)
            self.counters.add(BUFFER, payloads_rejected=1, entries_rejected=entries)
        elif answer.result in (Result.SHIPPED, Result.TOO_LARGE):
            ack = self._settle(answer, body, entries, BUFFER, shipper)
            if ack.outcome is None:
                self._back_off(name, answer)
            else:
                self.buffer.remove(name)  # shipped, or (refused) kept in rejected/ by _settle
                self._count(BUFFER, ack.outcome, entries, ack)
                with self._lock:
                    self.counters.buffer_shipped += ack.outcome is Outcome.SHIPPED
                    self._not_before.pop(name, None)
        else:
            self._back_off(name, answer)  # 5xx, 429, no answer: its turn comes again
        self._resolve(job, Outcome.BUFFERED)
        self._refill()

    def _back_off(self, name: str, answer: Answer) -> None:
        """Make a buffered payload that failed wait its turn, so the others go first (a
        payload the collector keeps failing on must not hold up the rest)."""
        with self._lock:
            failures = self._not_before.get(name, (0.0, 0))[1] + 1
            delay = backoff(failures, answer.retry_after, base=PROBE_MIN, cap=PROBE_MAX)
            self._not_before[name] = (self._clock() + max(delay, PROBE_MIN), failures)

    def _refill(self) -> None:
        """Queue the next buffered payloads while the collector takes them.

        Called by a sender when a buffered payload is done: waiting for the owner's
        next :meth:`drain` (the daemon's is once a second) capped the drain at
        2 x workers payloads per tick. Only while the collector is up: after a
        failure the probe logic decides when to send again, and a failure never
        refills, so nothing here can spin without progress.
        """
        if self.shipper is None or self.shipper.stop.is_set() or not self.buffer.files:
            return
        with self._lock:
            if self.state is not Collector.UP:
                return
        self.drain()

    def _reject(self, source: str, body: bytes | None, answer: Answer, *,
                name: str | None = None) -> None:
        """Keep a refused payload in ``rejected/`` with the answer (counted by the caller)."""
        response = {"status": answer.status, "body": answer.body, "source": source}
        path = self.buffer.reject(response, name=name, body=body)
        self.counters.note_error(f"payload rejected: {answer.describe()}")
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
                self.counters.note_error(answer.describe())
                return
            self._probing = False
            if answer.result in (Result.SHIPPED, Result.TOO_LARGE, Result.REJECTED):
                if self.state is not Collector.UP:
                    log.info("collector is reachable")
                    # What failed during the outage failed because of it: its turn is now.
                    self._not_before.clear()
                self.state = Collector.UP
                self._probe_delay = PROBE_MIN
                return
            reason = answer.describe()
            self.counters.note_error(reason)
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
        """Learn from an answer obtained elsewhere (registration, health).

        A failure while the collector is known to be down is the same outage seen again:
        it neither lengthens the wait nor moves the next probe (a heartbeat every few
        seconds would otherwise keep pushing the probe away for as long as it fails).
        """
        with self._lock:
            if answer.result is Result.RETRY and self.state is Collector.DOWN:
                self.counters.note_error(answer.describe())
                return
        self._note(answer)

    # -- the buffer ------------------------------------------------------------------

    def _to_buffer(self, job: Job, park: bool = True) -> None:
        """Put the job's payload in the buffer; park it (or, at close, give it up) when it
        does not fit."""
        with self._lock:
            body = job.body if job.outcome is None else None
        if body is None:
            return  # resolved meanwhile (buffered at shutdown)
        try:
            name = self.buffer.put(body, job.entries)
        except OSError as exc:  # disk full, permissions: as good as a full buffer
            log.warning("cannot write to the export buffer (%s)", exc.strerror or exc)
            name = None
        if name is not None:
            self._resolve(job, Outcome.BUFFERED)
            return
        if not park:
            self._resolve(job, Outcome.UNSENT)
            return
        with self._lock:
            if job.outcome is not None or job in self._parked:
                return
            if not self._parked:
                log.warning("export buffer is full (%d of %d bytes) and the collector is %s: "
                            "reading pauses until one of them takes payloads",
                            self.buffer.bytes, self.buffer.max_bytes, self.state.value)
            self._parked.append(job)
            self.parked_ever += 1

    def retry_parked(self) -> int:
        """Send or buffer parked payloads where there is a way now; return how many left.

        While the collector is down and nothing fits, the oldest parked payload is the
        probe when one is due (a buffer too small for any payload has nothing else to
        probe with).
        """
        with self._lock:
            if not self._parked or self._closed.is_set():
                return len(self._parked)
            up = self.state is Collector.UP and self.shipper is not None
        moved = 0
        while True:
            with self._lock:
                if not self._parked:
                    break
                job = self._parked[0]
                fits = self.buffer.fits(len(job.body))
                if not (up or fits):
                    if self.shipper is not None and self._may_send():
                        job.probe = True
                        self._parked.pop(0)
                        try:
                            self._queue.put_nowait(job)
                        except queue.Full:
                            self._parked.insert(0, job)
                            job.probe = self._probing = False
                    break
                self._parked.pop(0)
            moved += 1
            if up:
                try:
                    self._queue.put_nowait(job)
                    continue
                except queue.Full:
                    pass
            self._to_buffer(job)
        if moved and not self._parked:
            log.info("export buffer has room again (%d bytes): reading resumes", self.buffer.bytes)
        return len(self._parked)

    def drain(self, limit: int | None = None) -> int:
        """Queue buffered payloads for sending, oldest first; return how many were queued.

        While the collector is down only one payload goes, as a probe, once its wait
        is over. Payloads already on their way, or waiting their own back-off, are not
        queued (unless nothing else is left to probe with).
        """
        if self.shipper is None or self._closed.is_set():
            return 0
        limit = self._workers * 2 if limit is None else limit
        queued = 0
        now = self._clock()
        with self._lock:
            waiting = {n for n, (due, _) in self._not_before.items() if due > now}
            if self.state in (Collector.DOWN, Collector.REFUSED):
                # The probe is a payload that never failed, if there is one: a payload the
                # collector keeps failing on would otherwise be every probe, and keep the
                # collector "down" for the rest. Else a failed one whose wait is over, else
                # the oldest (the collector's own wait already spaces the probes).
                names = (self.buffer.oldest(1, self._draining | set(self._not_before))
                         or self.buffer.oldest(1, self._draining | waiting)
                         or (self.buffer.oldest(1, self._draining) if not self._draining
                             else []))
            else:
                names = self.buffer.oldest(limit - len(self._draining), self._draining | waiting)
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
                job = Job(None, 0, BUFFER, buffer_name=name, probe=probe)
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

    # -- resolution ------------------------------------------------------------------

    def _count(self, source: str, outcome: Outcome, entries: int, ack: Ack | None) -> None:
        """Count where one payload's entries ended."""
        if outcome is Outcome.SHIPPED and ack is not None:
            self.counters.add(source, payloads_shipped=1, entries_shipped=ack.accepted,
                              duplicates=ack.duplicates, entries_rejected=ack.rejected,
                              entries_clipped=ack.clipped)
            # A payload acknowledged, not a registration's answer: the status page put
            # "Last ship 32s ago" next to "Shipped 0 payloads".
            self.counters.last_ship_at = time.time()
        elif outcome is Outcome.BUFFERED:
            self.counters.add(source, payloads_buffered=1, entries_buffered=entries)
        elif outcome is Outcome.REJECTED:
            self.counters.add(source, payloads_rejected=1, entries_rejected=entries)
        elif outcome is Outcome.UNSENT:
            self.counters.add(source, entries_unsent=entries)

    def _resolve(self, job: Job, outcome: Outcome, ack: Ack | None = None) -> None:
        with self._lock:
            if job.outcome is not None:
                return  # resolved already (buffered at shutdown while its POST went on)
            job.outcome = outcome
            job.body = None  # free memory
            self._outstanding.discard(job)
            if job in self._parked:
                self._parked.remove(job)
            if job.buffer_name is not None:
                self._draining.discard(job.buffer_name)
                if outcome is not Outcome.BUFFERED:
                    self._not_before.pop(job.buffer_name, None)
            self._idle.notify_all()
        if job.buffer_name is None:
            if ack is not None:
                ack.clipped += job.clipped
            self._count(job.source, outcome, job.entries, ack)
            if self.on_settled is not None:
                self.on_settled(job)
