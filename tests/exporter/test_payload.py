"""Payloads: one session each, at most 100 entries and MAX_BODY bytes, gzip JSON; clipping."""

from __future__ import annotations

import gzip
import json

from thinkt.exporter.entry import CUT_MARK, Entry
from thinkt.exporter.ship import payload


def entry(session: str, n: int, project: str | None = None, text: str | None = None) -> Entry:
    return Entry(session_id=session, uuid=f"{session}-{n}", role="user",
                 timestamp="2025-01-01T00:00:00.000Z", project_path=project,
                 text=f"t{n}" if text is None else text)


def decoded(built: list[payload.Payload]) -> list[dict]:
    return [payload.decode(p.body) for p in built]


def test_build_groups_by_session_in_order_and_caps_at_100():
    entries = [entry("a", i) for i in range(150)] + [entry("b", 0, "/p")] + [entry("a", 150)]
    built = payload.build("claude", entries, instance_id="inst", machine_id="mach")
    assert [(p.session_id, p.entries) for p in built] == [("a", 100), ("a", 51), ("b", 1)]
    bodies = decoded(built)
    assert [len(b["entries"]) for b in bodies] == [100, 51, 1]
    assert bodies[1]["entries"][-1]["uuid"] == "a-150"
    assert bodies[2]["project_path"] == "/p" and "project_path" not in bodies[0]
    assert all(b["source"] == "claude" and b["instance_id"] == "inst"
               and b["machine_id"] == "mach" for b in bodies)
    assert all(p.source == "claude" and p.clipped == 0 for p in built)


def test_every_payload_names_the_user_and_none_without_one():
    entries = [entry("a", i) for i in range(120)] + [entry("b", 0)]
    built = payload.build("claude", entries, instance_id="inst", user="alice@example.com")
    assert [b["user"] for b in decoded(built)] == ["alice@example.com"] * 3
    assert all("user" not in b for b in decoded(payload.build("claude", entries,
                                                                instance_id="inst")))
    # a payload cut in two for a collector with a smaller limit keeps its envelope
    halves = payload.shrink(built[0].body)
    assert [payload.decode(body)["user"] for body, _ in halves] == ["alice@example.com"] * 2


def test_a_body_is_gzip_json_with_the_entries_as_sent():
    (built,) = payload.build("fake", [entry("a", 1)], instance_id="i")
    assert built.body[:2] == b"\x1f\x8b"
    assert json.loads(gzip.decompress(built.body)) == {
        "source": "fake", "session_id": "a", "instance_id": "i",
        "entries": [{"uuid": "a-1", "role": "user", "timestamp": "2025-01-01T00:00:00.000Z",
                     "text": "t1"}]}


def test_a_lone_surrogate_stays_valid_json():
    item = entry("a", 1, text="broken \ud800 text")
    (built,) = payload.build("fake", [item], instance_id="i")
    assert gzip.decompress(built.body).isascii()
    assert payload.decode(built.body)["entries"][0]["text"] == "broken \ud800 text"


def test_payloads_are_bounded_in_bytes_too():
    entries = [entry("a", i, text="x" * 3000) for i in range(60)]
    built = payload.build("fake", entries, instance_id="i", max_body=50_000)
    assert sum(p.entries for p in built) == 60 and len(built) > 3
    for body in decoded(built):
        assert len(json.dumps(body, separators=(",", ":"))) <= 50_000


def test_an_entry_too_large_for_a_request_is_clipped_and_says_so():
    big = "é" * 300_000 + "end"  # 600,003 UTF-8 bytes; about 1.8 MB as ASCII-escaped JSON
    built = payload.build("fake", [entry("a", 0), entry("a", 1, text=big), entry("a", 2)],
                          instance_id="i", max_entry=100_000)
    assert [p.entries for p in built] == [3] and built[0].clipped == 1
    first, clipped, last = decoded(built)[0]["entries"]
    assert "text_truncated" not in first and last["text"] == "t2"
    assert clipped["text_truncated"] is True and clipped["text_bytes"] == 600_003
    assert clipped["text"].startswith("éé") and clipped["text"].endswith(CUT_MARK)
    assert len(json.dumps(clipped, separators=(",", ":"))) <= 100_000
    assert len(json.dumps(clipped, separators=(",", ":"))) > 90_000, "clipped far too much"


def test_a_text_cut_by_its_parser_keeps_its_original_size_when_cut_again():
    item = entry("a", 0, text="y" * 200_000)
    item.text_truncated, item.text_bytes = True, 5_000_000
    (built,) = payload.build("fake", [item], instance_id="i", max_entry=50_000)
    wire = payload.decode(built.body)["entries"][0]
    assert (wire["text_truncated"], wire["text_bytes"]) == (True, 5_000_000)


def test_shrink_halves_entries_then_clips_a_single_one():
    built = payload.build("fake", [entry("a", i) for i in range(5)], instance_id="i")[0]
    first, second = payload.shrink(built.body)
    assert (first[1], second[1]) == (2, 3)
    assert [e["uuid"] for b, _ in (first, second) for e in payload.decode(b)["entries"]] == \
        [f"a-{i}" for i in range(5)]
    assert payload.decode(first[0])["session_id"] == "a"

    (single,) = payload.build("fake", [entry("a", 0, text="z" * 1_000_000)], instance_id="i")
    ((smaller, count),) = payload.shrink(single.body)
    wire = payload.decode(smaller)["entries"][0]
    assert count == 1 and wire["text_truncated"] and wire["text_bytes"] == 1_000_000
    assert 400_000 < len(wire["text"]) <= 500_000


def test_shrink_gives_up_at_the_floor():
    (small,) = payload.build("fake", [entry("a", 0, text="z" * 1000)], instance_id="i")
    assert payload.shrink(small.body) == []


def test_count_entries():
    built = payload.build("fake", [entry("a", i) for i in range(7)], instance_id="i")[0]
    assert payload.count_entries(built.body) == 7
    assert payload.count_entries(b"not gzip") == 0
