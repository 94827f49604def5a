"""The dispatcher: each payload's fate is told once; nothing is given up while the exporter runs."""

from __future__ import annotations

import threading

from tests.exporter.dispatching import (Clock, dispatcher_for, eventually, gated_dispatcher,
                                        payload)
from thinkt.exporter.ship.dispatcher import PROBE_MAX, Collector, Outcome
from thinkt.exporter.ship.shipper import Answer, Result


class ScriptedShipper:
    """Answers every POST with ``answer(body)``; counts them."""

    def __init__(self, answer) -> None:
        self.stop = threading.Event()
        self.answer = answer
        self.posts = 0

    def post(self, body: bytes, attempts: int | None = None) -> Answer:
        self.posts += 1
        return self.answer(body)


def settled_jobs(dispatcher):
    jobs = []
    dispatcher.on_settled = jobs.append
    return jobs


def test_an_answer_that_acknowledges_fewer_entries_than_sent_keeps_the_payload(tmp_path):
    shipper = ScriptedShipper(lambda body: Answer(Result.SHIPPED, 200, accepted=0))
    dispatcher = dispatcher_for(tmp_path, shipper)
    jobs = settled_jobs(dispatcher)
    try:
        dispatcher.submit(payload(1))
        assert dispatcher.wait_idle(10)
        assert [job.outcome for job in jobs] == [Outcome.BUFFERED]
        assert dispatcher.buffer.files == 1
        assert dispatcher.state is Collector.REFUSED
        assert "acknowledged 0 of 1 entries" in dispatcher.refused_reason
        assert dispatcher.counters.total().entries_shipped == 0
    finally:
        dispatcher.close(timeout=1)


def test_5xx_never_makes_a_buffered_payload_give_up(tmp_path):
    clock = Clock()
    shipper = ScriptedShipper(lambda body: Answer(Result.RETRY, 503, retry_after=1.0))
    dispatcher = dispatcher_for(tmp_path, shipper, clock)
    try:
        dispatcher.buffer.put(payload(1).body)
        dispatcher.note_answer(Answer(Result.SHIPPED, 200))
        for _ in range(12):  # twelve probes over what would be many minutes
            assert dispatcher.drain() == 1
            assert eventually(lambda: dispatcher.draining == 0)
            clock.now += PROBE_MAX + 1
        assert shipper.posts == 12
        assert dispatcher.buffer.files == 1
        assert dispatcher.buffer.rejected_count() == 0
        shipper.answer = lambda body: Answer(Result.SHIPPED, 200, accepted=1)
        assert dispatcher.drain() == 1
        assert eventually(lambda: dispatcher.buffer.files == 0)
    finally:
        dispatcher.close(timeout=1)


def test_a_payload_the_collector_keeps_failing_on_waits_its_turn_behind_the_others(tmp_path):
    poison = payload(0).body
    shipper = ScriptedShipper(lambda body: Answer(Result.RETRY, 500) if body == poison
                              else Answer(Result.SHIPPED, 200, accepted=1))
    clock = Clock()
    dispatcher = dispatcher_for(tmp_path, shipper, clock)
    try:
        dispatcher.buffer.put(poison)
        for n in range(1, 6):
            dispatcher.buffer.put(payload(n).body)
        dispatcher.note_answer(Answer(Result.SHIPPED, 200))
        for _ in range(10):  # a probe at a time while the poison says "down"
            dispatcher.drain()
            eventually(lambda: dispatcher.draining == 0)
            clock.now += PROBE_MAX + 1
            if dispatcher.buffer.files == 1:
                break
        assert dispatcher.buffer.names() == [dispatcher.buffer.names()[0]]
        assert dispatcher.buffer.read(dispatcher.buffer.names()[0]) == poison
        assert dispatcher.buffer.rejected_count() == 0
    finally:
        dispatcher.close(timeout=1)


def test_a_full_buffer_parks_payloads_until_there_is_room(tmp_path):
    shipper = ScriptedShipper(lambda body: Answer(Result.RETRY, error="connection failed"))
    first = payload(1)
    dispatcher = dispatcher_for(tmp_path, shipper, Clock(), max_bytes=len(first.body) + 10)
    jobs = settled_jobs(dispatcher)
    try:
        dispatcher.note_answer(Answer(Result.RETRY, error="connection failed"))  # down
        dispatcher.submit(first)  # buffered directly
        dispatcher.submit(payload(2))  # no room: parked
        assert [job.outcome for job in jobs] == [Outcome.BUFFERED]
        assert not dispatcher.has_room() and dispatcher.parked == 1
        assert dispatcher.retry_parked() == 1, "still no room"
        dispatcher.buffer.remove(dispatcher.buffer.names()[0])  # the collector took one
        assert dispatcher.retry_parked() == 0 and dispatcher.has_room()
        assert [job.outcome for job in jobs] == [Outcome.BUFFERED, Outcome.BUFFERED]
    finally:
        dispatcher.close(timeout=1)


def test_what_is_parked_at_close_is_given_up_and_said_unsafe(tmp_path):
    shipper = ScriptedShipper(lambda body: Answer(Result.RETRY, error="connection failed"))
    dispatcher = dispatcher_for(tmp_path, shipper, Clock(), max_bytes=10)
    jobs = settled_jobs(dispatcher)
    dispatcher.note_answer(Answer(Result.RETRY, error="connection failed"))
    dispatcher.submit(payload(1))
    assert dispatcher.parked == 1 and jobs == []
    dispatcher.close(timeout=1)
    assert [job.outcome for job in jobs] == [Outcome.UNSENT]
    assert not jobs[0].outcome.safe
    assert dispatcher.counters.total().entries_unsent == 1


def test_close_is_bounded_when_the_collector_never_answers(tmp_path):
    with gated_dispatcher(tmp_path) as (clock, shipper, dispatcher):
        jobs = settled_jobs(dispatcher)
        for n in range(3):
            dispatcher.submit(payload(n))
        for _ in range(3):
            assert shipper.arrived.acquire(timeout=10)  # all three POSTs hang
        shipper.result = Result.SHIPPED  # were close to wait for them, they would ship
        closer = threading.Thread(target=dispatcher.close, kwargs={"timeout": 0.5})
        closer.start()
        closer.join(8)  # the POSTs' gates stay shut all along (10 s each)
        assert not closer.is_alive(), "close waited for POSTs that never answer"
        assert sorted(job.outcome.value for job in jobs) == ["buffered"] * 3
        assert dispatcher.buffer.files == 3


def test_heartbeats_failing_during_an_outage_do_not_push_the_probe_away(tmp_path):
    with gated_dispatcher(tmp_path) as (clock, shipper, dispatcher):
        dispatcher.buffer.put(payload(1).body)
        dispatcher.note_answer(Answer(Result.RETRY, error="connection failed"))  # down
        assert dispatcher.state is Collector.DOWN
        for _ in range(10):  # a heartbeat every few seconds, each failing
            clock.now += 0.3
            dispatcher.note_answer(Answer(Result.RETRY, error="connection failed"))
        clock.now += 0.1  # past the first wait (1 s): the probe goes, not 10 waits later
        assert dispatcher.drain() == 1


def test_the_last_ship_is_a_payload_acknowledged_not_a_registration(tmp_path):
    shipper = ScriptedShipper(lambda body: Answer(Result.SHIPPED, 200, accepted=1))
    dispatcher = dispatcher_for(tmp_path, shipper)
    try:
        dispatcher.note_answer(Answer(Result.SHIPPED, 200))  # the registration
        assert dispatcher.counters.last_ship_at is None
        dispatcher.submit(payload(1))
        assert dispatcher.wait_idle(10)
        assert dispatcher.counters.last_ship_at is not None
        assert dispatcher.counters.total().payloads_shipped == 1
    finally:
        dispatcher.close(timeout=1)
