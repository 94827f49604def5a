"""Found by the chaos harness: one short outage must not stall the exporter for a minute.

Every payload in flight when the collector stops fails (after its retries), one after
another. Those failures are one outage, seen several times; only the first, and the
failure of each later probe, may lengthen the wait before the next probe. Counting each
in-flight failure doubled the wait up to a minute, so a 4-second collector restart
stalled shipping for 30-60 s (until the next heartbeat happened to succeed).
"""

from __future__ import annotations

import threading
import time

from thinkt.exporter.buffer import DiskBuffer
from thinkt.exporter.delivery import PROBE_MIN, Collector, Dispatcher
from thinkt.exporter.offsets import FileRecord, OffsetStore
from thinkt.exporter.shipper import Answer, Result


class Clock:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class GatedShipper:
    """Answers POSTs as scripted; holds the n-th until ``gates[n]`` opens (in flight)."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.gates = [threading.Event() for _ in range(20)]
        self.result = Result.RETRY
        self.posts = 0
        self.arrived = threading.Semaphore(0)
        self.lock = threading.Lock()

    def post(self, body: bytes, attempts: int | None = None) -> Answer:
        with self.lock:
            number = self.posts
            self.posts += 1
        self.arrived.release()
        assert self.gates[number].wait(10), "the test never opened this POST's gate"
        if self.result is Result.SHIPPED:
            return Answer(Result.SHIPPED, 200, accepted=1)
        return Answer(Result.RETRY, error="connection failed")

    def open(self, *numbers: int) -> None:
        for number in numbers:
            self.gates[number].set()


def settled(dispatcher: Dispatcher) -> bool:
    """Wait (real time, bounded) until every payload is resolved; the test clock stands still."""
    deadline = time.monotonic() + 10
    while not dispatcher.wait_idle(timeout=0):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def payload(n: int) -> dict:
    return {"source": "claude", "session_id": "s", "entries": [{"uuid": f"u{n}"}]}


def dispatcher_for(tmp_path, clock: Clock, shipper: GatedShipper) -> Dispatcher:
    buffer = DiskBuffer(tmp_path / "buffer", 10_000_000)
    buffer.open()
    return Dispatcher(OffsetStore(tmp_path / "offsets.json"), buffer, shipper,
                      workers=4, clock=clock).start()


def test_failures_of_one_outage_do_not_compound_the_probe_wait(tmp_path):
    clock, shipper = Clock(), GatedShipper()
    dispatcher = dispatcher_for(tmp_path, clock, shipper)
    try:
        record = FileRecord("claude", 1, 2, "ab", 2, 0)
        for n in range(4):  # four payloads on their way when the collector goes down
            dispatcher.submit(f"/f{n}", record, [payload(n)], "claude")
        for _ in range(4):
            assert shipper.arrived.acquire(timeout=10)
        clock.now += 0.5
        shipper.open(0, 1, 2, 3)  # all four fail, one after another
        assert settled(dispatcher)
        assert dispatcher.state is Collector.DOWN
        assert dispatcher.buffer.files == 4

        # The collector is back; after the first wait the next payload is the probe.
        shipper.result = Result.SHIPPED
        shipper.open(4)
        clock.now += PROBE_MIN + 0.1
        dispatcher.submit("/g", record, [payload(9)], "claude")
        assert settled(dispatcher)
        assert shipper.posts == 5, "the payload was buffered instead of probing"
        assert dispatcher.state is Collector.UP
    finally:
        dispatcher.close(timeout=1)


def test_a_late_in_flight_failure_does_not_let_a_second_probe_out(tmp_path):
    clock, shipper = Clock(), GatedShipper()
    dispatcher = dispatcher_for(tmp_path, clock, shipper)
    record = FileRecord("claude", 1, 2, "ab", 2, 0)
    try:
        dispatcher.submit("/a", record, [payload(0)], "claude")
        dispatcher.submit("/b", record, [payload(1)], "claude")
        for _ in range(2):
            assert shipper.arrived.acquire(timeout=10)
        clock.now += 0.5
        shipper.open(0)  # the first in-flight POST fails: the collector is down
        deadline = time.monotonic() + 10
        while dispatcher.state is not Collector.DOWN and time.monotonic() < deadline:
            time.sleep(0.01)
        assert dispatcher.state is Collector.DOWN

        clock.now += PROBE_MIN + 0.1
        dispatcher.submit("/c", record, [payload(2)], "claude")  # the probe, held open
        assert shipper.arrived.acquire(timeout=10)
        shipper.open(1)  # the other POST from before the outage fails meanwhile
        deadline = time.monotonic() + 10
        while dispatcher.buffer.files < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        # While the probe is out, a new payload goes straight to the buffer (decided in
        # submit itself), instead of becoming a second probe.
        dispatcher.submit("/d", record, [payload(3)], "claude")
        assert dispatcher.buffer.files == 3, "a second probe went out"
        assert shipper.posts == 3
    finally:
        shipper.open(*range(20))
        dispatcher.close(timeout=1)


def test_a_probe_whose_buffered_payload_is_gone_frees_its_place(tmp_path):
    clock, shipper = Clock(), GatedShipper()
    dispatcher = dispatcher_for(tmp_path, clock, shipper)
    shipper.open(*range(20))
    record = FileRecord("claude", 1, 2, "ab", 2, 0)
    try:
        dispatcher.note_answer(Answer(Result.RETRY, error="connection failed"))
        dispatcher.submit("/a", record, [payload(0)], "claude")  # buffered: collector down
        (name,) = dispatcher.buffer.names()
        # Shipped and removed by another send after drain listed the names.
        (dispatcher.buffer.directory / name).unlink()
        clock.now += PROBE_MIN + 0.1
        assert dispatcher.drain() == 1  # the probe: a payload that is no longer there
        assert settled(dispatcher)

        shipper.result = Result.SHIPPED
        dispatcher.submit("/b", record, [payload(1)], "claude")
        assert settled(dispatcher)
        assert shipper.posts == 1, "no probe went out: the gone payload kept the probe's place"
        assert dispatcher.state is Collector.UP
    finally:
        dispatcher.close(timeout=1)
