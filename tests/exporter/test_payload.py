"""Payloads: one session each, at most 100 entries, gzip JSON."""

from __future__ import annotations

import gzip
import json

from thinkt.exporter.ship import payload
from thinkt.exporter.entry import Entry


def entry(session: str, n: int, project: str | None = None) -> Entry:
    return Entry(session_id=session, uuid=f"{session}-{n}", role="user",
                 timestamp="2025-01-01T00:00:00.000Z", project_path=project, text=f"t{n}")


def test_build_groups_by_session_in_order_and_caps_at_100():
    entries = [entry("a", i) for i in range(150)] + [entry("b", 0, "/p")] + [entry("a", 150)]
    built = payload.build("claude", entries, instance_id="inst", machine_id="mach")
    assert [(p["session_id"], len(p["entries"])) for p in built] == [("a", 100), ("a", 51),
                                                                     ("b", 1)]
    assert built[1]["entries"][-1]["uuid"] == "a-150"
    assert built[2]["project_path"] == "/p" and "project_path" not in built[0]
    assert all(p["source"] == "claude" and p["instance_id"] == "inst"
               and p["machine_id"] == "mach" for p in built)


def test_encode_is_gzip_json_that_decodes_back():
    built = payload.build("fake", [entry("a", 1)], instance_id="i")[0]
    body = payload.encode(built)
    assert body[:2] == b"\x1f\x8b"
    assert json.loads(gzip.decompress(body)) == built == payload.decode(body)


def test_encode_keeps_a_lone_surrogate_valid_json():
    item = entry("a", 1)
    item.text = "broken \ud800 text"
    body = payload.encode(payload.build("fake", [item], instance_id="i")[0])
    assert gzip.decompress(body).isascii()
    assert payload.decode(body)["entries"][0]["text"] == "broken \ud800 text"


def test_split_halves_the_entries():
    built = payload.build("fake", [entry("a", i) for i in range(5)], instance_id="i")[0]
    first, second = payload.split(built)
    assert [e["uuid"] for e in first["entries"] + second["entries"]] == \
        [e["uuid"] for e in built["entries"]]
    assert len(first["entries"]) == 2 and first["session_id"] == "a"
    single = payload.build("fake", [entry("a", 1)], instance_id="i")[0]
    assert payload.split(single) == [single]
