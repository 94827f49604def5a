"""The ledger: one owner for a file's position; offsets move only past settled chunks, in order."""

from __future__ import annotations

import dataclasses
import os

import pytest

from tests.exporter.conftest import write_lines
from thinkt.exporter.state.ledger import Ledger, end_record
from thinkt.exporter.state.offsets import OffsetStore


@pytest.fixture
def ledger(tmp_path):
    return Ledger(OffsetStore(tmp_path / "offsets.json"))


def read_slice(ledger, source, path, payloads=1, upto=None):
    """Begin a read of ``path`` and hand over one slice up to ``upto`` (default: the end)."""
    cursor = ledger.begin(source, path)
    assert cursor is not None
    st = os.stat(path)
    end = end_record(cursor, path, st, st.st_size if upto is None else upto,
                     {"slice": upto})
    return cursor, ledger.advance(cursor, end, payloads=payloads)


def committed(ledger, path):
    record = ledger.offsets.get(str(path))
    return None if record is None else record.offset


def test_offsets_move_only_past_chunks_that_settled_in_order(ledger, fake_source, tmp_path):
    path = tmp_path / "s" / "a.jsonl"
    write_lines(path, ["a", "b"])
    middle = len(path.read_bytes()) // 2
    cursor = ledger.begin(fake_source, path)
    st = os.stat(path)
    first = ledger.advance(cursor, end_record(cursor, path, st, middle, {}), 2)
    second = ledger.advance(cursor, end_record(cursor, path, st, st.st_size, {}), 1)
    assert ledger.begin(fake_source, path) is None, "the next read starts after what is in flight"
    ledger.settle(second, safe=True)
    assert committed(ledger, path) is None, "a later chunk never commits before an earlier one"
    ledger.settle(first, safe=True)
    assert committed(ledger, path) is None, "one of the first chunk's payloads is still out"
    ledger.settle(first, safe=True)
    assert committed(ledger, path) == st.st_size and not ledger.pending(str(path))


def test_an_unsent_payload_sends_the_reads_back_to_the_committed_offset(ledger, fake_source,
                                                                         tmp_path):
    path = tmp_path / "s" / "a.jsonl"
    write_lines(path, ["a"])
    cursor, chunk = read_slice(ledger, fake_source, path)
    ledger.settle(chunk, safe=True)
    write_lines(path, ["b", "c"])
    cursor, chunk = read_slice(ledger, fake_source, path, payloads=2)
    stale_end = dataclasses.replace(chunk.end)
    ledger.settle(chunk, safe=False)  # given up: neither sent nor buffered
    ledger.settle(chunk, safe=True)
    size_a = len(b"".join(path.read_bytes().splitlines(keepends=True)[:1]))
    assert committed(ledger, path) == size_a
    # A reader still holding the dropped reads' cursor may not hand more over.
    assert ledger.advance(cursor, stale_end, payloads=1) is None
    again = ledger.begin(fake_source, path)
    assert again.record.offset == size_a, "the lines are read again"


def test_a_rename_while_the_first_reads_are_in_flight_keeps_the_position(ledger, fake_source,
                                                                          tmp_path):
    old = tmp_path / "s" / "a.jsonl"
    write_lines(old, ["a", "b"])
    cursor, chunk = read_slice(ledger, fake_source, old)
    new = old.with_name("b.jsonl")
    old.rename(new)  # before anything was committed: no saved offset to find it by
    assert ledger.begin(fake_source, new) is None, "read already, in flight"
    ledger.settle(chunk, safe=True)
    assert committed(ledger, new) == new.stat().st_size
    assert committed(ledger, old) is None


def test_a_file_renamed_after_it_was_forgotten_continues_where_it_was(ledger, fake_source,
                                                                      tmp_path):
    old = tmp_path / "s" / "a.jsonl"
    write_lines(old, ["a", "b"])
    _, chunk = read_slice(ledger, fake_source, old)
    ledger.settle(chunk, safe=True)
    new = old.with_name("b.jsonl")
    old.rename(new)
    # The MOVED_FROM event came first and alone: the old name is forgotten.
    assert ledger.forget_if_gone(str(old)) and committed(ledger, old) is None
    assert ledger.begin(fake_source, new) is None, "the moved file is not read again"
    assert committed(ledger, new) == new.stat().st_size


def test_a_rotated_file_is_finished_first_then_its_successor_read_from_the_start(
        ledger, fake_source, tmp_path):
    path = tmp_path / "s" / "a.jsonl"
    write_lines(path, ["a"])
    _, chunk = read_slice(ledger, fake_source, path)
    ledger.settle(chunk, safe=True)
    done = path.stat().st_size
    write_lines(path, ["b"])  # written before the rotation: not read yet
    rotated = path.with_name("a.jsonl.1")
    path.rename(rotated)
    write_lines(path, ["new-1"], session="s2")
    cursor = ledger.begin(fake_source, path)
    assert cursor.rotated == str(rotated) and cursor.record.offset == 0
    rest = ledger.begin(fake_source, rotated)
    assert rest.record.offset == done, "the rotated file continues where it was"


def test_a_truncated_file_is_read_from_its_start_with_fresh_state(ledger, fake_source,
                                                                 tmp_path):
    path = tmp_path / "s" / "a.jsonl"
    write_lines(path, ["a", "b", "c"])
    _, chunk = read_slice(ledger, fake_source, path)
    ledger.settle(chunk, safe=True)
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size // 2)
    cursor = ledger.begin(fake_source, path)
    assert cursor.record.offset == 0 and cursor.record.state == {}


def test_a_file_read_in_part_is_not_taken_for_untouched(ledger, fake_source, tmp_path):
    # Regression: the record of a partial read carried the whole file's size, and the
    # next read saw "unchanged since read" and stopped after the first slice for good.
    path = tmp_path / "s" / "a.jsonl"
    write_lines(path, ["a", "b", "c", "d"])
    size = path.stat().st_size
    _, chunk = read_slice(ledger, fake_source, path, upto=size // 2)
    ledger.settle(chunk, safe=True)
    cursor = ledger.begin(fake_source, path)
    assert cursor is not None and cursor.record.offset == size // 2
    _, chunk = read_slice(ledger, fake_source, path)
    ledger.settle(chunk, safe=True)
    assert ledger.begin(fake_source, path) is None


def test_a_slice_without_payloads_commits_at_once(ledger, fake_source, tmp_path):
    path = tmp_path / "s" / "a.jsonl"
    write_lines(path, ["a"])
    read_slice(ledger, fake_source, path, payloads=0)
    assert committed(ledger, path) == path.stat().st_size


def test_an_abandoned_read_commits_nothing_and_is_read_again(ledger, tmp_path):
    from thinkt.exporter.sources import get

    # A new rewritten document whose stream stopped part-way (no room, a stop): its
    # identity must not be taken for "read", or it would never be read again.
    path = tmp_path / "chats" / "session.json"
    path.parent.mkdir()
    path.write_text('{"sessionId": "s", "messages": []}')
    source = get("gemini")
    cursor = ledger.begin(source, path)
    chunk = ledger.open(cursor)
    assert ledger.add(chunk, payloads=1)
    ledger.abandon(chunk)
    ledger.settle(chunk, safe=True)  # what went out still settles
    assert committed(ledger, path) is None and not ledger.pending(str(path))
    assert ledger.begin(source, path) is not None, "the document is read again"
