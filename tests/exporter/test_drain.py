"""Draining the disk buffer: every sender busy, oldest first, and an outage still respected.

The forward exporter calls :meth:`Dispatcher.drain` once a second; before the drain
kept itself going, that capped a backlog at 2 x workers payloads a second however fast
the collector was. These tests call ``drain()`` once and expect the whole buffer.
"""

from __future__ import annotations

import threading

from tests.exporter.dispatching import (WORKERS, dispatcher_for, eventually, gated_dispatcher,
                                        payload)
from thinkt.exporter.ship.buffer import DiskBuffer
from thinkt.exporter.ship.dispatcher import PROBE_MIN, Collector
from thinkt.exporter.ship.shipper import Answer, Result


class BarrierShipper:
    """Lets POSTs through only ``parties`` at a time, all in flight together."""

    def __init__(self, parties: int) -> None:
        self.stop = threading.Event()
        self.barrier = threading.Barrier(parties, timeout=10)
        self.lock = threading.Lock()
        self.bodies: list[bytes] = []

    def post(self, body: bytes, attempts: int | None = None) -> Answer:
        with self.lock:
            self.bodies.append(body)
        # Breaks (and the payload stays buffered) unless `parties` POSTs are out at once.
        self.barrier.wait()
        return Answer(Result.SHIPPED, 200, accepted=1)


def fill(buffer: DiskBuffer, count: int) -> list[bytes]:
    bodies = [payload(n).body for n in range(count)]
    for body in bodies:
        buffer.put(body)
    return bodies


def wait_until(predicate, what: str) -> None:
    assert eventually(predicate, timeout=20), f"timed out waiting for {what}"


def test_one_drain_sends_the_whole_buffer_with_every_sender_busy(tmp_path):
    shipper = BarrierShipper(WORKERS)
    dispatcher = dispatcher_for(tmp_path, shipper)
    bodies = fill(dispatcher.buffer, WORKERS * 10)
    try:
        dispatcher.note_answer(Answer(Result.SHIPPED, 200))  # the registration: up
        assert dispatcher.drain() == WORKERS * 2
        wait_until(lambda: dispatcher.buffer.files == 0 and dispatcher.draining == 0,
                   "an empty buffer after one drain() call")
        assert sorted(shipper.bodies) == sorted(bodies)  # each once: none lost, none twice
        assert sorted(shipper.bodies[:WORKERS]) == sorted(bodies[:WORKERS])  # oldest first
        assert dispatcher.counters.buffer_shipped == len(bodies)
        assert not list((tmp_path / "buffer").glob("*.json.gz"))
    finally:
        dispatcher.close(timeout=1)


def test_a_payload_deleted_by_hand_is_forgotten_and_the_drain_goes_on(tmp_path):
    shipper = BarrierShipper(1)
    dispatcher = dispatcher_for(tmp_path, shipper)
    bodies = fill(dispatcher.buffer, 6)
    try:
        (dispatcher.buffer.directory / dispatcher.buffer.names()[2]).unlink()
        dispatcher.note_answer(Answer(Result.SHIPPED, 200))
        dispatcher.drain()
        wait_until(lambda: dispatcher.buffer.files == 0 and dispatcher.draining == 0,
                   "the rest of the buffer")
        assert sorted(shipper.bodies) == sorted(bodies[:2] + bodies[3:])
    finally:
        dispatcher.close(timeout=1)


def test_queued_payloads_stay_buffered_unasked_once_the_collector_is_down(tmp_path):
    with gated_dispatcher(tmp_path) as (clock, shipper, dispatcher):
        fill(dispatcher.buffer, WORKERS * 3)
        dispatcher.note_answer(Answer(Result.SHIPPED, 200))
        assert dispatcher.drain() == WORKERS * 2  # WORKERS in flight, WORKERS queued
        for _ in range(WORKERS):
            assert shipper.arrived.acquire(timeout=10)
        clock.now += 0.5
        shipper.open(0)  # the collector went down: the first POST fails
        wait_until(lambda: dispatcher.state is Collector.DOWN, "the outage noticed")
        shipper.open(*range(1, WORKERS))  # the others in flight fail too
        assert dispatcher.wait_idle(timeout=10)
        # The queued ones were not sent (each would have failed as a probe and doubled
        # the wait), nothing was removed, and no refill ran while down.
        assert shipper.posts == WORKERS
        assert dispatcher.buffer.files == WORKERS * 3
        assert dispatcher.drain() == 0, "a probe before the wait was over"

        clock.now += PROBE_MIN + 0.1  # the first wait, not doubled by the queued ones
        shipper.result = Result.SHIPPED
        shipper.open(*range(20))
        assert dispatcher.drain() == 1  # the probe
        # Its 200 brings the collector back and the drain carries on by itself.
        wait_until(lambda: dispatcher.buffer.files == 0 and dispatcher.draining == 0,
                   "the buffer drained after the probe")
        assert shipper.posts == WORKERS + WORKERS * 3
        assert dispatcher.state is Collector.UP


def test_the_probe_waits_at_least_what_retry_after_asked(tmp_path):
    with gated_dispatcher(tmp_path) as (clock, shipper, dispatcher):
        fill(dispatcher.buffer, 2)
        dispatcher.note_answer(Answer(Result.RETRY, 503, retry_after=7.0))
        assert dispatcher.state is Collector.DOWN
        clock.now += PROBE_MIN + 0.1
        assert dispatcher.drain() == 0, "probed before Retry-After was over"
        clock.now += 6.0
        assert dispatcher.drain() == 1
