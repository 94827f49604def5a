"""The disk buffer: creation order, atomic files, the bound, rejected payloads."""

from __future__ import annotations

import json
import os
import threading

import pytest
from freezegun import freeze_time

from tests.harness import wait_for
from thinkt.exporter.ship import buffer as module
from thinkt.exporter.ship.buffer import DiskBuffer


@pytest.fixture
def buffer(tmp_path):
    return DiskBuffer(tmp_path / "buf", 1000).open()


def test_names_sort_in_creation_order_even_when_the_clock_stands_still(buffer):
    with freeze_time("2025-01-01T00:00:00Z"):
        names = [buffer.put(bytes([i]) * 10) for i in range(5)]
    assert buffer.names() == names == sorted(names)
    assert [buffer.read(n)[0] for n in buffer.names()] == [0, 1, 2, 3, 4]


def test_names_keep_their_order_when_the_clock_steps_back(buffer):
    with freeze_time("2025-01-01T00:00:10Z"):
        first = buffer.put(b"a")
    with freeze_time("2025-01-01T00:00:00Z"):
        second = buffer.put(b"b")
    assert buffer.names() == [first, second]


def test_order_survives_reopening(tmp_path):
    buffer = DiskBuffer(tmp_path / "buf", 1000).open()
    with freeze_time("2025-01-01T00:00:10Z"):
        first = buffer.put(b"a")
    reopened = DiskBuffer(tmp_path / "buf", 1000).open()
    with freeze_time("2025-01-01T00:00:00Z"):  # an earlier clock after a restart
        second = reopened.put(b"b")
    assert reopened.names() == [first, second]


def test_oldest_gives_the_first_names_not_skipped_even_after_reopening(tmp_path):
    buffer = DiskBuffer(tmp_path / "buf", 1000).open()
    with freeze_time("2025-01-01T00:00:00Z"):
        names = [buffer.put(bytes([i])) for i in range(6)]
    # Reopened, the names come from the directory in whatever order it lists them.
    reopened = DiskBuffer(tmp_path / "buf", 1000).open()
    newer = reopened.put(b"n")
    assert reopened.oldest(3) == names[:3]
    assert reopened.oldest(3, {names[0], names[2]}) == [names[1], names[3], names[4]]
    assert reopened.oldest(10, set(names[:5])) == [names[5], newer]
    assert reopened.oldest(0) == []
    reopened.remove(names[1])
    assert reopened.oldest(2) == [names[0], names[2]]


def test_the_bound_refuses_what_does_not_fit(buffer):
    assert buffer.put(b"x" * 600)
    assert buffer.put(b"y" * 500) is None
    assert buffer.put(b"z" * 400)
    assert buffer.bytes == 1000 and buffer.files == 2 and buffer.full
    buffer.remove(buffer.names()[0])
    assert buffer.bytes == 400 and not buffer.full


def test_reopening_counts_what_is_there_and_drops_stale_temp_files(tmp_path):
    buffer = DiskBuffer(tmp_path / "buf", 1000).open()
    buffer.put(b"x" * 100)
    (tmp_path / "buf" / ".tmp-123-000.json.gz").write_bytes(b"half")
    reopened = DiskBuffer(tmp_path / "buf", 1000).open()
    assert (reopened.files, reopened.bytes) == (1, 100)
    assert not (tmp_path / "buf" / ".tmp-123-000.json.gz").exists()


def test_files_are_private_and_complete(buffer):
    name = buffer.put(b"payload")
    path = buffer.directory / name
    assert path.read_bytes() == b"payload"
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert [p.name for p in buffer.directory.iterdir()] == [name]


def test_reject_moves_the_payload_with_the_response(buffer):
    name = buffer.put(b"bad")
    buffer.put(b"good")
    target = buffer.reject({"status": 400, "body": {"error": "validation_error"}}, name=name)
    assert target.read_bytes() == b"bad"
    response = json.loads(target.with_name(name.replace(".json.gz", ".response.json")).read_text())
    assert response["status"] == 400 and response["body"]["error"] == "validation_error"
    assert buffer.files == 1 and buffer.bytes == 4 and buffer.rejected_count() == 1
    assert buffer.read(buffer.names()[0]) == b"good"


def test_reject_stores_a_body_that_never_was_buffered(buffer):
    target = buffer.reject({"status": 422, "body": "x" * 100000}, body=b"payload")
    assert target.read_bytes() == b"payload"
    assert buffer.files == 0 and buffer.rejected_count() == 1
    response = json.loads(target.with_name(target.name.replace(".json.gz", ".response.json"))
                          .read_text())
    assert len(response["body"]) == 16 * 1024  # a huge response is cut


def test_a_payload_still_being_written_is_not_handed_to_a_drain(tmp_path, monkeypatch):
    """A drain that took a reserved name found no file, took the payload for sent and
    forgot it, while the put went on to write it: its lines were lost to the run."""
    buffer = DiskBuffer(tmp_path / "buf", 1000).open()
    older = buffer.put(b"older")
    writing, release = threading.Event(), threading.Event()
    real = module.write_atomic

    def slow_write(path, data):
        writing.set()
        assert release.wait(10), "the test never let the write finish"
        real(path, data)

    monkeypatch.setattr(module, "write_atomic", slow_write)
    names = []
    put = threading.Thread(target=lambda: names.append(buffer.put(b"newer", 1)))
    put.start()
    try:
        wait_for(writing.is_set, 10, "the put to start writing")
        assert buffer.files == 2 and buffer.bytes == len(b"older") + len(b"newer")
        assert buffer.oldest(5) == [older] and buffer.names() == [older]
    finally:
        release.set()
        put.join(10)
    assert buffer.oldest(5) == [older, names[0]] == buffer.names()
    assert buffer.read(names[0]) == b"newer" and DiskBuffer.entries(names[0]) == 1
