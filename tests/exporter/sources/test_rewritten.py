"""Whole documents read item by item: a large one streamed gives what a small one parsed whole gives."""

from __future__ import annotations

import json

import pytest

from tests.exporter.sources.test_robustness import REWRITTEN, place
from thinkt.exporter.sources import get, rewritten


@pytest.fixture(params=sorted(REWRITTEN))
def document(request, samples, home):
    path, data = place(samples, home, request.param, REWRITTEN)
    return get(request.param), path, data


@pytest.fixture
def streamed(monkeypatch):
    """Every document streamed with ijson, however small."""
    pytest.importorskip("ijson")
    monkeypatch.setattr(rewritten, "WHOLE_MAX", 0)


def wires(result):
    return [e.to_wire() for e in result.entries]


def read_both(source, path, monkeypatch, offset=0, state=None):
    whole = source.read(path, offset, state)
    monkeypatch.setattr(rewritten, "WHOLE_MAX", 0)
    streamed = source.read(path, offset, state)
    monkeypatch.undo()
    return whole, streamed


def test_a_streamed_document_gives_what_a_whole_one_gives(document, monkeypatch):
    pytest.importorskip("ijson")
    source, path, data = document
    whole, streamed = read_both(source, path, monkeypatch)
    assert wires(streamed) == wires(whole) and whole.entries
    assert (streamed.offset, streamed.skipped, streamed.state) == \
        (whole.offset, whole.skipped, whole.state)


def test_a_streamed_document_comes_in_bounded_batches(document, streamed, monkeypatch):
    source, path, data = document
    monkeypatch.setattr(rewritten, "BATCH_ENTRIES", 3)
    whole = source.read(path, 0, None)
    result = source.stream(path, 0, None)
    sizes = [len(batch) for batch in result.batches]
    # cut after the message that fills a batch: its entries stay together
    assert len(sizes) > 1 and sum(sizes) == len(whole.entries)
    assert result.offset == len(data)


def test_the_session_id_is_found_wherever_it_stands(document, streamed):
    source, path, data = document
    first = source.read(path, 0, None)
    document_ = json.loads(data)
    session = document_.pop("sessionId")
    document_["sessionId"] = session  # after the array now
    path.write_text(json.dumps(document_))
    moved = source.read(path, 0, None)
    assert {e.session_id for e in moved.entries} == {e.session_id for e in first.entries}
    assert moved.state["session"] == session


def test_bytes_that_are_not_utf8_cost_a_character_not_the_document(document, streamed):
    source, path, data = document
    clean = source.read(path, 0, None)
    text = json.loads(data)
    key = "messages" if "messages" in text else "timeline"
    text[key][0]["content" if key == "messages" else "text"] = "before MARK after"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(text).encode().replace(b"MARK", b"\xff\xfe"))
    damaged = source.read(path, 0, None)
    assert len(damaged.entries) == len(clean.entries) and "malformed" not in damaged.skipped
    assert any("before \ufffd\ufffd after" in (e.text or "") for e in damaged.entries)


def test_a_document_cut_short_sends_what_it_had_and_is_read_again(document, streamed):
    source, path, data = document
    complete = source.read(path, 0, None)
    path.write_bytes(data[: len(data) * 2 // 3])  # caught in the middle of a rewrite
    cut = source.read(path, 0, None)
    assert cut.skipped.get("malformed") == 1 and cut.offset == 0, "the offset stays"
    assert 0 < len(cut.entries) < len(complete.entries)
    path.write_bytes(data)  # the rewrite completes: only what was missing goes
    rest = source.read(path, cut.offset, json.loads(json.dumps(cut.state)))
    assert sorted(e.uuid for e in cut.entries + rest.entries) == \
        sorted(e.uuid for e in complete.entries)


@pytest.mark.parametrize("content, skipped", [(b"", {}), (b"  \n", {}),
                                              (b"[1, 2]", {"malformed": 1}),
                                              (b'{"other": []}', {"malformed": 1}),
                                              (b"\xff\xfe{not json", {"malformed": 1})])
def test_odd_documents_streamed(document, streamed, content, skipped):
    source, path, _ = document
    path.write_bytes(content)
    result = source.read(path, 0, None)
    assert (result.entries, result.skipped) == ([], skipped)
