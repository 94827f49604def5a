"""Offsets: file identity (grown, truncated, replaced) and the atomically saved store."""

from __future__ import annotations

import json
import os

from thinkt.exporter.state.offsets import (FINGERPRINT_BYTES, Change, FileRecord, OffsetStore, compare,
                                     fingerprint, identify)


def test_a_grown_file_is_the_same_file(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"a" * 100 + b"\n")
    record = identify(path, os.stat(path), "fake")
    record.offset = 101
    with open(path, "ab") as fh:
        fh.write(b"b" * 2000 + b"\n")
    assert compare(record, path, os.stat(path)) is Change.SAME


def test_a_young_file_is_fingerprinted_on_what_it_had(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"x\n")
    record = identify(path, os.stat(path), "fake")
    assert record.fp_len == 2
    path.write_bytes(b"x\n" + b"y" * 5000)
    assert compare(record, path, os.stat(path)) is Change.SAME
    assert identify(path, os.stat(path), "fake").fp_len == FINGERPRINT_BYTES


def test_a_shorter_file_is_truncated(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"a" * 3000)
    record = identify(path, os.stat(path), "fake")
    record.offset = 3000
    with open(path, "r+b") as fh:
        fh.truncate(2000)
    assert compare(record, path, os.stat(path)) is Change.TRUNCATED
    with open(path, "r+b") as fh:
        fh.truncate(10)
    assert compare(record, path, os.stat(path)) is Change.TRUNCATED


def test_another_inode_or_other_first_bytes_is_a_replacement(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"first version\n")
    record = identify(path, os.stat(path), "fake")
    record.offset = 14
    other = tmp_path / "new"
    other.write_bytes(b"first version\nand more\n")
    os.replace(other, path)
    assert compare(record, path, os.stat(path)) is Change.REPLACED
    # Same inode (rewritten in place), different content: the fingerprint tells.
    record = identify(path, os.stat(path), "fake")
    with open(path, "r+b") as fh:
        fh.write(b"FIRST")
    assert compare(record, path, os.stat(path)) is Change.REPLACED


def test_no_record_is_new(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"x\n")
    assert compare(None, path, os.stat(path)) is Change.NEW


def test_fingerprint_hashes_the_first_bytes_only(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"a" * FINGERPRINT_BYTES + b"tail")
    digest, length = fingerprint(path)
    assert length == FINGERPRINT_BYTES
    path.write_bytes(b"a" * FINGERPRINT_BYTES + b"other tail")
    assert fingerprint(path) == (digest, length)


def test_store_round_trips_and_writes_atomically(tmp_path):
    tmp_path = tmp_path / "state"
    tmp_path.mkdir()
    store = OffsetStore(tmp_path / "offsets.json")
    record = FileRecord("fake", 1, 2, "ab", 2, 42, {"lines": 3}, 50, 7)
    store.set("/x/a.jsonl", record)
    assert store.dirty
    assert store.save() is True
    assert store.save() is False  # nothing changed
    assert [p.name for p in tmp_path.iterdir()] == ["offsets.json"]  # no temp file left
    loaded = OffsetStore(tmp_path / "offsets.json").load()
    assert loaded.get("/x/a.jsonl") == record
    assert loaded.find_inode(1, 2) == [("/x/a.jsonl", record)]
    loaded.forget("/x/a.jsonl")
    loaded.save()
    assert json.loads((tmp_path / "offsets.json").read_text())["files"] == {}


def test_get_returns_a_copy(tmp_path):
    store = OffsetStore(tmp_path / "offsets.json")
    store.set("/a", FileRecord("fake", 1, 2, "ab", 2, 42))
    copy = store.get("/a")
    copy.offset = 0
    assert store.get("/a").offset == 42


def test_a_corrupt_offsets_file_is_set_aside(tmp_path):
    tmp_path = tmp_path / "state"
    tmp_path.mkdir()
    path = tmp_path / "offsets.json"
    path.write_text("{not json")
    store = OffsetStore(path).load()
    assert len(store) == 0
    assert not path.exists()
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("offsets.json.corrupt-")]
    assert len(aside) == 1 and aside[0].read_text() == "{not json"
