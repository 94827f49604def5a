"""Gemini JSONL: which copy of a message ships, where, and under which session, in one read."""

from __future__ import annotations

import json
from pathlib import Path

from thinkt.exporter.sources import get

SOURCE = get("gemini")


def write_lines(path: Path, *records) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in records))
    return path


def message(mid: str, text: str, kind: str = "gemini", **extra) -> dict:
    return {"id": mid, "timestamp": "2026-03-01T10:00:00.000Z", "type": kind,
            "content": text, **extra}


def test_the_last_copy_ships_at_the_place_of_the_first(tmp_path):
    path = write_lines(
        tmp_path / "chats" / "session-a.jsonl",
        {"sessionId": "s-1"},
        message("a", "draft"),
        message("u", "question", "user"),
        message("a", "final", toolCalls=[{"id": "c", "name": "ls", "args": {"d": "."},
                                          "status": "success"}]),
    )
    entries = SOURCE.read(path, 0, None).entries
    assert [(e.uuid, e.text) for e in entries] == [
        ("a", "final"), ("a:c", '{"d":"."}'), ("a:c:result", None), ("u", "question")]


def test_messages_before_the_header_take_its_session(tmp_path):
    path = write_lines(
        tmp_path / "chats" / "session-b.jsonl",
        message("a", "early"),
        message("u", "also early", "user"),
        {"sessionId": "s-2"},
        message("b", "late"),
    )
    result = SOURCE.read(path, 0, None)
    assert [(e.uuid, e.session_id) for e in result.entries] == [
        ("a", "s-2"), ("u", "s-2"), ("b", "s-2")]
    assert result.state["session"] == "s-2"


def test_a_header_without_a_usable_id_leaves_the_file_name_for_the_whole_read(tmp_path):
    path = write_lines(
        tmp_path / "chats" / "session-c.jsonl",
        {"sessionId": "s-3"},
        message("a", "first"),
        {"sessionId": 42},
        message("b", "second"),
    )
    result = SOURCE.read(path, 0, None)
    assert {e.session_id for e in result.entries} == {"session-c"}
    assert result.state["session"] == "session-c"
