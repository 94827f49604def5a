"""Found by the chaos harness: one short outage must not stall the exporter for a minute.

Every payload in flight when the collector stops fails (after its retries), one after
another. Those failures are one outage, seen several times; only the first, and the
failure of each later probe, may lengthen the wait before the next probe. Counting each
in-flight failure doubled the wait up to a minute, so a 4-second collector restart
stalled shipping for 30-60 s (until the next heartbeat happened to succeed).
"""

from __future__ import annotations

from tests.exporter.dispatching import eventually, gated_dispatcher, payload
from thinkt.exporter.ship.dispatcher import PROBE_MIN, Collector, Dispatcher
from thinkt.exporter.ship.shipper import Answer, Result


def settled(dispatcher: Dispatcher) -> bool:
    """Wait (real time, bounded) until every payload is resolved; the test clock stands still."""
    return eventually(lambda: dispatcher.wait_idle(timeout=0))


def test_failures_of_one_outage_do_not_compound_the_probe_wait(tmp_path):
    with gated_dispatcher(tmp_path) as (clock, shipper, dispatcher):
        for n in range(4):  # four payloads on their way when the collector goes down
            dispatcher.submit(payload(n))
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
        dispatcher.submit(payload(9))
        assert settled(dispatcher)
        assert shipper.posts == 5, "the payload was buffered instead of probing"
        assert dispatcher.state is Collector.UP


def test_a_late_in_flight_failure_does_not_let_a_second_probe_out(tmp_path):
    with gated_dispatcher(tmp_path) as (clock, shipper, dispatcher):
        dispatcher.submit(payload(0))
        dispatcher.submit(payload(1))
        for _ in range(2):
            assert shipper.arrived.acquire(timeout=10)
        clock.now += 0.5
        shipper.open(0)  # the first in-flight POST fails: the collector is down
        eventually(lambda: dispatcher.state is Collector.DOWN)
        assert dispatcher.state is Collector.DOWN

        clock.now += PROBE_MIN + 0.1
        dispatcher.submit(payload(2))  # the probe, held open
        assert shipper.arrived.acquire(timeout=10)
        shipper.open(1)  # the other POST from before the outage fails meanwhile
        eventually(lambda: dispatcher.buffer.files >= 2)
        # While the probe is out, a new payload goes straight to the buffer (decided in
        # submit itself), instead of becoming a second probe.
        dispatcher.submit(payload(3))
        assert dispatcher.buffer.files == 3, "a second probe went out"
        assert shipper.posts == 3


def test_a_probe_whose_buffered_payload_is_gone_frees_its_place(tmp_path):
    with gated_dispatcher(tmp_path) as (clock, shipper, dispatcher):
        shipper.open(*range(20))
        dispatcher.note_answer(Answer(Result.RETRY, error="connection failed"))
        dispatcher.submit(payload(0))  # buffered: collector down
        (name,) = dispatcher.buffer.names()
        # Shipped and removed by another send after drain listed the names.
        (dispatcher.buffer.directory / name).unlink()
        clock.now += PROBE_MIN + 0.1
        assert dispatcher.drain() == 1  # the probe: a payload that is no longer there
        assert settled(dispatcher)

        shipper.result = Result.SHIPPED
        dispatcher.submit(payload(1))
        assert settled(dispatcher)
        assert shipper.posts == 1, "no probe went out: the gone payload kept the probe's place"
        assert dispatcher.state is Collector.UP
