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
    """Answers POSTs as scripted; holds them until the gate opens (requests in flight)."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.gate = threading.Event()
        self.result = Result.RETRY
        self.posts = 0
        self.arrived = threading.Semaphore(0)
        self.lock = threading.Lock()

    def post(self, body: bytes, attempts: int | None = None) -> Answer:
        with self.lock:
            self.posts += 1
        self.arrived.release()
        assert self.gate.wait(10), "the test never opened the gate"
        if self.result is Result.SHIPPED:
            return Answer(Result.SHIPPED, 200, accepted=1)
        return Answer(Result.RETRY, error="connection failed")


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


def test_failures_of_one_outage_do_not_compound_the_probe_wait(tmp_path):
    clock, shipper = Clock(), GatedShipper()
    buffer = DiskBuffer(tmp_path / "buffer", 10_000_000)
    buffer.open()
    dispatcher = Dispatcher(OffsetStore(tmp_path / "offsets.json"), buffer, shipper,
                            workers=4, clock=clock).start()
    try:
        record = FileRecord("claude", 1, 2, "ab", 2, 0)
        for n in range(4):  # four payloads on their way when the collector goes down
            dispatcher.submit(f"/f{n}", record, [payload(n)], "claude")
        for _ in range(4):
            assert shipper.arrived.acquire(timeout=10)
        clock.now += 0.5
        shipper.gate.set()  # all four fail, one after another
        assert settled(dispatcher)
        assert dispatcher.state is Collector.DOWN
        assert dispatcher.buffer.files == 4

        # The collector is back; after the first wait the next payload is the probe.
        shipper.result = Result.SHIPPED
        clock.now += PROBE_MIN + 0.1
        dispatcher.submit("/g", record, [payload(9)], "claude")
        assert settled(dispatcher)
        assert shipper.posts == 5, "the payload was buffered instead of probing"
        assert dispatcher.state is Collector.UP
    finally:
        dispatcher.close(timeout=1)
