"""One-shot exports end to end with the fake source and the stub collector.

Every scenario checks the two promises: every line reaches the collector, and
(without a crash in between) none is sent twice.
"""

from __future__ import annotations

import json
import os

import pytest

from thinkt.exporter import oneshot
from thinkt.exporter.ship.buffer import DiskBuffer
from thinkt.exporter.state.lock import ExporterLock, LockHeld
from thinkt.exporter.state.offsets import OffsetStore
from thinkt.status import ExitStatus, ThinktError, ConfigError
from tests.exporter.conftest import fake_line, write_lines


class Said(list):
    def __call__(self, line):
        self.append(line)

    @property
    def text(self):
        return "\n".join(self)


def run(options):
    said = Said()
    code = oneshot.export_once(options, said)
    return code, said


def offsets(options) -> dict:
    return {p: r for p, r in OffsetStore(options.state_dir / "offsets.json").load().items()}


def ids(prefix, n, start=0):
    return [f"{prefix}{i}" for i in range(start, start + n)]


def test_everything_new_is_shipped_once_and_offsets_move(stub, fake_root, make_options):
    a, b = fake_root.path / "p1" / "a.jsonl", fake_root.path / "p2" / "b.jsonl"
    write_lines(a, ids("a", 250), session="sa")
    write_lines(b, ids("b", 3), session="sb")
    options = make_options(stub.url)
    code, said = run(options)
    assert code == ExitStatus.OK, said.text
    assert stub.uuids("sa") == set(ids("a", 250)) and stub.uuids("sb") == set(ids("b", 3))
    assert stub.resent() == {}
    assert max(len(p["entries"]) for p in stub.payloads) == 100
    assert all(len({p["session_id"]}) == 1 for p in stub.payloads)
    assert offsets(options)[str(a)].offset == a.stat().st_size
    assert "Shipped: every new entry reached the collector." in said
    assert any(line.startswith("fake: 2 files, 253 new entries (253 shipped)") for line in said)
    # The next run finds nothing new; appended lines go alone.
    code, said = run(options)
    assert code == ExitStatus.OK and "Nothing new to ship." in said
    write_lines(a, ids("a", 2, start=250), session="sa")
    run(options)
    assert stub.uuids("sa") == set(ids("a", 252)) and stub.resent() == {}
    assert len(stub.registrations) == 3


def test_a_partial_last_line_waits_for_its_newline(stub, fake_root, make_options):
    path = fake_root.path / "a.jsonl"
    line = fake_line("late")
    path.write_bytes(fake_line("early") + line[:10])
    options = make_options(stub.url)
    run(options)
    assert stub.uuids() == {"early"}
    with open(path, "ab") as fh:
        fh.write(line[10:])
    run(options)
    assert stub.uuids() == {"early", "late"} and stub.resent() == {}


def test_unreachable_collector_buffers_then_the_next_run_drains(stub, fake_root, make_options):
    write_lines(fake_root.path / "a.jsonl", ids("a", 120))
    options = make_options(stub.url)
    stub.stop()
    code, said = run(options)
    assert code == ExitStatus.OK
    assert any(line.startswith("Buffered: 120 new entries are safe in") for line in said), said
    buffer = DiskBuffer(options.buffer_dir, options.buffer_max).open()
    assert buffer.files == 2
    # Offsets moved: the lines are safe in the buffer, not read again.
    assert offsets(options)[str(fake_root.path / "a.jsonl")].offset > 0
    status = json.loads((options.state_dir / "exporter-status.json").read_text())
    assert status["collector"]["status"] == "unreachable" and status["buffer"]["files"] == 2
    stub.start()
    write_lines(fake_root.path / "a.jsonl", ["a120"])
    code, said = run(options)
    assert code == ExitStatus.OK and "buffer: 2 buffered payloads sent (120 entries)" in said
    assert stub.uuids() == set(ids("a", 121)) and stub.resent() == {}
    assert DiskBuffer(options.buffer_dir, options.buffer_max).open().files == 0


def test_no_collector_at_all_buffers_and_says_so(fake_root, make_options):
    write_lines(fake_root.path / "a.jsonl", ids("a", 5))
    options = make_options(None)
    code, said = run(options)
    assert code == ExitStatus.OK
    assert said[0].startswith("No collector found")
    assert DiskBuffer(options.buffer_dir, options.buffer_max).open().files == 1


def test_a_full_buffer_stops_reading_then_resumes(stub, fake_root, make_options):
    path = fake_root.path / "a.jsonl"
    with open(path, "wb") as fh:  # random text: gzip cannot shrink it below the bound
        for uuid in ids("a", 1000):
            fh.write(fake_line(uuid, text=os.urandom(100).hex()))
    options = make_options(stub.url, buffer_max=20_000)
    stub.stop()
    with pytest.raises(ThinktError) as info:
        run(options)
    assert info.value.status == ExitStatus.TEMPFAIL
    assert "buffer is full" in info.value.message
    buffer = DiskBuffer(options.buffer_dir, options.buffer_max).open()
    assert 0 < buffer.bytes <= 20_000
    # The read that did not fit is not committed (its lines are read again later).
    record = offsets(options).get(str(path))
    assert record is None or record.offset < path.stat().st_size
    stub.start()
    code, said = run(options)
    assert code == ExitStatus.OK, said.text
    assert stub.uuids() == set(ids("a", 1000))
    assert offsets(options)[str(path)].offset == path.stat().st_size


def test_a_rejected_payload_does_not_block_the_rest(stub, fake_root, make_options):
    write_lines(fake_root.path / "a.jsonl", ids("a", 3), session="good1")
    write_lines(fake_root.path / "b.jsonl", ["poison"], session="bad")
    write_lines(fake_root.path / "c.jsonl", ids("c", 3), session="good2")
    stub.responder = lambda p: (400, {"error": "validation_error", "message": "no",
                                      "errors": {"entries": {"0": ["bad"]}}}) \
        if p["session_id"] == "bad" else None
    options = make_options(stub.url)
    said = Said()
    with pytest.raises(ThinktError) as failed:
        oneshot.export_once(options, said)
    # The run does not call itself a success: it says how many and why, and exits 75.
    assert failed.value.status == ExitStatus.TEMPFAIL, said.text
    assert str(failed.value).startswith("1 of 7 new entries did not reach the collector "
                                        "or the buffer: 1 rejected by the collector")
    assert "fake: 3 files, 7 new entries (6 shipped, 1 rejected)" in said
    assert stub.uuids() == set(ids("a", 3)) | set(ids("c", 3))
    rejected = options.buffer_dir / "rejected"
    bodies = sorted(rejected.glob("*.json.gz"))
    responses = sorted(rejected.glob("*.response.json"))
    assert len(bodies) == 1 and len(responses) == 1
    assert json.loads(responses[0].read_text())["status"] == 400
    # The rejected file's offset moved too: the next run does not send it again.
    assert run(options)[0] == ExitStatus.OK
    assert sum(1 for p in stub.payloads if p["session_id"] == "bad") == 0
    assert len(list(rejected.glob("*.json.gz"))) == 1


def test_a_too_large_payload_is_split(stub, fake_root, make_options):
    write_lines(fake_root.path / "a.jsonl", ids("a", 40))
    stub.responder = lambda p: (413, {"error": "payload_too_large"}) \
        if len(p["entries"]) > 10 else None
    code, _ = run(make_options(stub.url))
    assert code == ExitStatus.OK
    assert stub.uuids() == set(ids("a", 40)) and stub.resent() == {}
    assert max(len(p["entries"]) for p in stub.payloads) <= 10


def test_a_refused_key_stops_with_a_config_error(stub, fake_root, make_options):
    write_lines(fake_root.path / "a.jsonl", ids("a", 3))
    # Registration passes in the stub; the ingest says 401 (a key the collector dropped).
    stub.responder = lambda p: (401, {"error": "unauthorized"})
    options = make_options(stub.url)
    with pytest.raises(ConfigError, match="refused"):
        run(options)
    assert DiskBuffer(options.buffer_dir, options.buffer_max).open().files == 1


def test_truncated_file_is_read_again_from_its_start(stub, fake_root, make_options):
    path = fake_root.path / "a.jsonl"
    write_lines(path, ids("a", 50))
    options = make_options(stub.url)
    run(options)
    write_lines(path, ["new0", "new1"], mode="wb")  # truncated and rewritten shorter
    run(options)
    assert stub.uuids() == set(ids("a", 50)) | {"new0", "new1"}
    assert offsets(options)[str(path)].state == {"lines": 2}  # fresh parser state


def test_replaced_file_is_read_from_its_start_with_fresh_state(stub, fake_root, make_options):
    path = fake_root.path / "a.jsonl"
    write_lines(path, ids("a", 5))
    options = make_options(stub.url)
    run(options)
    replacement = fake_root.path / "tmp-replacement"
    write_lines(replacement, ids("r", 10))  # longer than the old one: only identity tells
    os.replace(replacement, path)
    run(options)
    assert stub.uuids() == set(ids("a", 5)) | set(ids("r", 10))
    record = offsets(options)[str(path)]
    assert record.ino == path.stat().st_ino and record.state == {"lines": 10}


def test_rotated_file_is_finished_before_its_successor(stub, fake_root, make_options):
    path = fake_root.path / "a.jsonl"
    write_lines(path, ids("a", 5))
    options = make_options(stub.url)
    run(options)
    write_lines(path, ["tail0", "tail1"])  # written just before rotation, not yet shipped
    os.rename(path, fake_root.path / "a.jsonl.1")
    write_lines(path, ids("n", 3))
    run(options)
    assert stub.uuids() == set(ids("a", 5)) | {"tail0", "tail1"} | set(ids("n", 3))
    assert stub.resent() == {}


def test_renamed_file_keeps_its_offset(stub, fake_root, make_options):
    path = fake_root.path / "a.jsonl"
    write_lines(path, ids("a", 5))
    options = make_options(stub.url)
    run(options)
    moved = fake_root.path / "sub" / "b.jsonl"
    moved.parent.mkdir()
    os.rename(path, moved)
    write_lines(moved, ["after"])
    run(options)
    assert stub.uuids() == set(ids("a", 5)) | {"after"} and stub.resent() == {}
    assert set(offsets(options)) == {str(moved)}


def test_deleted_file_is_forgotten(stub, fake_root, make_options):
    keep, gone = fake_root.path / "keep.jsonl", fake_root.path / "gone.jsonl"
    write_lines(keep, ["k"])
    write_lines(gone, ["g"])
    options = make_options(stub.url)
    run(options)
    assert set(offsets(options)) == {str(keep), str(gone)}
    gone.unlink()
    run(options)
    assert set(offsets(options)) == {str(keep)}


def test_a_running_exporter_makes_a_one_shot_exit_75(stub, fake_root, make_options):
    write_lines(fake_root.path / "a.jsonl", ["a"])
    options = make_options(stub.url)
    holder = ExporterLock(options.state_dir).acquire()
    try:
        with pytest.raises(LockHeld) as info:
            run(options)
        assert info.value.status == ExitStatus.TEMPFAIL
    finally:
        holder.release()
    assert stub.payloads == []


def test_flush_drains_the_buffer_and_reports(stub, fake_root, make_options):
    write_lines(fake_root.path / "a.jsonl", ids("a", 150))
    options = make_options(stub.url)
    stub.stop()
    run(options)
    stub.start()
    said = Said()
    assert oneshot.flush(options, said) == ExitStatus.OK
    assert said[-1].startswith("Flushed 2 of 2 buffered payloads (150 entries, 0 already there)"
                               "; 0 rejected; 0 left in"), said
    assert stub.uuids() == set(ids("a", 150)) and stub.resent() == {}


def test_flush_with_the_collector_down_exits_75_and_keeps_everything(stub, fake_root,
                                                                     make_options):
    write_lines(fake_root.path / "a.jsonl", ids("a", 3))
    options = make_options(stub.url)
    stub.stop()
    run(options)
    with pytest.raises(ThinktError) as info:
        oneshot.flush(options, Said())
    assert info.value.status == ExitStatus.TEMPFAIL
    assert DiskBuffer(options.buffer_dir, options.buffer_max).open().files == 1


def test_flush_needs_a_collector(make_options):
    with pytest.raises(ConfigError):
        oneshot.flush(make_options(None), Said())


def test_malformed_lines_are_counted_in_the_summary(stub, fake_root, make_options):
    path = fake_root.path / "a.jsonl"
    write_lines(path, ["a"])
    with open(path, "ab") as fh:
        fh.write(b"{not json\n")
    _, said = run(make_options(stub.url))
    assert any("skipped records: malformed 1" in line for line in said), said


class WholeFileSource:
    """A JSON array of ``{"id", "text"}`` rewritten in place; state: ids already sent."""

    name = "whole"
    whole_file = True

    def roots(self, home, env):
        return []

    def matches(self, path):
        return path.suffix == ".json"

    def discover(self, root):
        yield from sorted(root.rglob("*.json"))

    def read(self, path, offset, state, final=False):
        from thinkt.exporter.entry import Entry
        from thinkt.exporter.sources import ReadResult

        sent = dict((state or {}).get("sent", {}))
        data = path.read_bytes()
        result = ReadResult([], len(data), {"sent": sent})
        for item in json.loads(data):
            if sent.get(item["id"]) != item["text"]:
                sent[item["id"]] = item["text"]
                result.entries.append(Entry("w", item["id"], "user", None, text=item["text"]))
        return result


def test_rewritten_files_are_read_whole_with_their_state(stub, tmp_path, make_options):
    from thinkt.exporter.watch.roots import WatchRoot

    root = tmp_path / "whole"
    root.mkdir()
    path = root / "chat.json"
    path.write_text(json.dumps([{"id": "m1", "text": "a"}]))
    options = make_options(stub.url, roots=[WatchRoot(WholeFileSource(), root)])
    run(options)
    # Rewritten the way editors and Gemini do: a new file renamed over the old one.
    tmp = root / "chat.json.tmp"
    tmp.write_text(json.dumps([{"id": "m1", "text": "a"}, {"id": "m2", "text": "b"}]))
    os.replace(tmp, path)
    run(options)
    run(options)  # unchanged: not read again
    sent = [e["uuid"] for p in stub.payloads for e in p["entries"]]
    assert sent == ["m1", "m2"]


def test_a_large_rewritten_document_ships_batch_by_batch_once(stub, samples, tmp_path,
                                                              make_options, monkeypatch):
    """Streamed (as a document over rewritten.WHOLE_MAX is), in batches of a few entries:
    every entry once, and the next run, with nothing rewritten, sends nothing."""
    import shutil

    from thinkt.exporter.sources import get, rewritten
    from thinkt.exporter.watch.roots import WatchRoot

    pytest.importorskip("ijson")
    monkeypatch.setattr(rewritten, "WHOLE_MAX", 0)
    monkeypatch.setattr(rewritten, "BATCH_ENTRIES", 4)
    root = tmp_path / "gemini" / "tmp"
    chats = root / "8a20078e" / "chats"
    chats.mkdir(parents=True)
    path = chats / "session-2026-03-27T10-19-8a20078e.json"
    shutil.copy(samples / "gemini" / "Mai0313-VibeCodingTracker__test_conversation_gemini"
                "@894772f.json", path)
    expected = {e.uuid for e in get("gemini").read(path, 0, None).entries}
    options = make_options(stub.url, roots=[WatchRoot(get("gemini"), root)])
    code, said = run(options)
    assert code == ExitStatus.OK, said.text
    assert stub.uuids() == expected and not stub.resent()
    assert len(stub.payloads) > 1, "one payload: the batches were not streamed"
    assert offsets(options)[str(path)].offset == path.stat().st_size
    code, said = run(options)
    assert said[-1] == "Nothing new to ship." and not stub.resent()
