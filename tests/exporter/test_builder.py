"""Payloads built with worker processes are the payloads the reader alone would build.

Same bodies (byte for byte: same sessions, same batches, same masking, same project
path), in the same order, and the masking counts land in the reader's redactor. A
worker that dies costs time only: its part is built in the reader.
"""

from __future__ import annotations

import pytest

from thinkt.exporter.entry import Entry
from thinkt.exporter.ship import payload as payloads
from thinkt.exporter.ship.builder import PARALLEL_ENTRIES, Builder, split
from thinkt.exporter.ship.redact import Redactor

SECRET = "AKIA" + "IOSFODNN7EXAMPLE"  # the shape of an AWS access key id


def entries(sessions: dict[str, int]) -> list[Entry]:
    """Entries of these sessions (name -> count), interleaved; one in nine holds a secret,
    and only each session's third entry names its project."""
    made, counts = [], dict.fromkeys(sessions, 0)
    while any(counts[s] < n for s, n in sessions.items()):
        for session, wanted in sessions.items():
            number = counts[session]
            if number >= wanted:
                continue
            counts[session] += 1
            text = f"line {number} of {session} " + ("word " * (number % 40))
            if number % 9 == 4:
                text += f" key {SECRET}"
            made.append(Entry(session_id=session, uuid=f"{session}-{number}", role="user",
                              timestamp="2025-01-01T00:00:00.000Z", text=text,
                              project_path=f"/p/{session}" if number == 2 else None))
    return made


def build_alone(slice_: list[Entry], redactor: Redactor,
                user: str | None = None) -> list[payloads.Payload]:
    return payloads.build("fake", slice_, instance_id="i", machine_id="m", user=user,
                          redactor=redactor)


def test_split_keeps_order_and_cuts_only_between_sessions_or_batches():
    slice_ = entries({"a": 250, "b": 30, "c": 170, "d": 5})
    parts, paths = split(slice_, 3)
    assert 2 <= len(parts) <= 3 and all(parts)
    grouped = sorted(slice_, key=lambda e: "abcd".index(e.session_id))  # stable: in order
    assert [e for part in parts for e in part] == grouped
    for before, after in zip(parts, parts[1:]):
        if before[-1].session_id == after[0].session_id:
            position = int(after[0].uuid.split("-")[1])
            assert position % payloads.MAX_ENTRIES == 0
    assert paths == {s: f"/p/{s}" for s in "abcd"}


def test_a_small_slice_is_built_here_without_workers():
    builder = Builder(instance_id="i", machine_id="m", redactor=Redactor(), workers=2)
    slice_ = entries({"a": PARALLEL_ENTRIES - 1})
    try:
        assert builder.build("fake", slice_) == build_alone(slice_, Redactor())
        assert builder._pool is None
    finally:
        builder.close()


@pytest.mark.slow
def test_workers_build_the_payloads_the_reader_would():
    slice_ = entries({"a": 450, "b": 60, "c": 230, "d": 7, "e": 120})
    alone = Redactor()
    expected = build_alone(slice_, alone, user="alice@example.com")
    shared = Redactor()
    builder = Builder(instance_id="i", machine_id="m", user="alice@example.com",
                      redactor=shared, workers=2)
    try:
        built = builder.build("fake", slice_)
        assert builder._pool is not None  # the workers did take part
    finally:
        builder.close()
    assert [p.body for p in built] == [p.body for p in expected]
    assert built == expected
    # the user travelled to the workers: every payload names it, theirs included
    assert {payloads.decode(p.body)["user"] for p in built} == {"alice@example.com"}
    assert shared.totals() == alone.totals() and alone.totals()
    assert sum(p.entries for p in built) == len(slice_)


@pytest.mark.slow
def test_a_dead_worker_costs_time_only():
    slice_ = entries({"a": 300, "b": 300, "c": 300})
    expected = build_alone(slice_, Redactor())
    builder = Builder(instance_id="i", machine_id="m", redactor=Redactor(), workers=2)
    try:
        assert builder.build("fake", slice_) == expected
        for process in list(builder._pool._processes.values()):
            process.kill()
            process.join(10)
        assert builder.build("fake", slice_) == expected  # built here instead
        assert builder._broken
        assert builder.build("fake", slice_) == expected
    finally:
        builder.close()


@pytest.mark.slow
def test_without_a_redactor_the_workers_ship_text_as_it_is():
    slice_ = entries({"a": 250, "b": 250})
    expected = payloads.build("fake", slice_, instance_id="i", redactor=None)
    builder = Builder(instance_id="i", redactor=None, workers=1)
    try:
        assert builder.build("fake", slice_) == expected
        assert builder._pool is not None
    finally:
        builder.close()


def test_metadata_only_is_built_here():
    slice_ = entries({"a": 250, "b": 250})
    expected = payloads.build("fake", slice_, instance_id="i", metadata_only=True)
    builder = Builder(instance_id="i", redactor=Redactor(), metadata_only=True, workers=2)
    try:
        assert builder.build("fake", slice_) == expected
        assert builder._pool is None
    finally:
        builder.close()
