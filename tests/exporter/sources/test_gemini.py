"""Gemini CLI parser: every real sample, rewritten and re-appended files, edge cases."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from thinkt.exporter.sources import get, is_whole_file
from thinkt.exporter.report.tally import UsageTally

from .conftest import line_ends, spread

SOURCE = get("gemini")

# Facts established with python/jq over each sample, independently of the parser: the
# distinct message ids (for the JSONL file the last copy of each id), their types, the
# final tool calls with their statuses, the token sums under input - cached + tool /
# cached / output + thoughts / thoughts, models, and thought summaries (subject +
# description, UTF-8 bytes).
FACTS = {
    "Mai0313-VibeCodingTracker__gemini.jsonl": dict(
        session="0ab84937-9fe7-4284-986a-33c832af0b6a",
        roles={"system": 2, "user": 3, "assistant": 6, "tool_use": 12, "tool_result": 12},
        tools={"update_topic": 3, "read_file": 7, "write_file": 1, "replace": 1},
        tokens=(153635, 4293, 48951, 0, 2141), responses=6,
        models={"gemini-3-flash-preview", "gemini-3.1-pro-preview"}, thinking=(5, 2676),
        bookkeeping=12),
    "Mai0313-VibeCodingTracker__test_conversation_gemini@894772f.json": dict(
        session="8a20078e-2d5e-4f81-a640-9b879bbb7e6d",
        roles={"user": 1, "assistant": 3, "tool_use": 7, "tool_result": 7},
        tools={"read_file": 3, "write_file": 4},
        tokens=(36522, 20941, 39826, 0, 11616), responses=3,
        models={"gemini-3.1-pro-preview-customtools"}, thinking=(3, 10529), bookkeeping=0),
    "Mai0313-VibeCodingTracker__test_conversation_gemini@b36a8d3.json": dict(
        session="eefc44a3-0832-4bc0-ac33-fa668f038213",
        roles={"user": 1, "assistant": 18}, tools={},
        tokens=(140022, 6944, 326620, 0, 3642), responses=18,
        models={"gemini-2.5-pro"}, thinking=(17, 9278), bookkeeping=0),
    "Mai0313-VibeCodingTracker__test_conversation_gemini@bcec23f.json": dict(
        session="2d9ea14f-1e4e-44f6-8bf5-7a7819cb1cd9",
        roles={"user": 1, "assistant": 13}, tools={},
        # four of the 13 gemini messages carry all-zero tokens: 9 responses with usage
        tokens=(54874, 2397, 121305, 0, 1546), responses=9,
        models={"gemini-2.5-pro"}, thinking=(13, 7131), bookkeeping=0),
}
JSONL = "Mai0313-VibeCodingTracker__gemini.jsonl"


def totals(entries):
    tally = UsageTally().extend(entries)
    t = tally.totals()
    return (t["input_tokens"], t["output_tokens"], t["cache_read_tokens"],
            t["cache_write_tokens"], t["reasoning_tokens"]), tally.responses


def test_every_sample_has_facts(samples):
    assert {p.name for p in (samples / "gemini").iterdir()} == set(FACTS)


@pytest.mark.parametrize("name", sorted(FACTS))
def test_sample_facts(samples, name):
    facts = FACTS[name]
    result = SOURCE.read(samples / "gemini" / name, 0, None)
    entries = result.entries

    assert dict(Counter(e.role for e in entries)) == facts["roles"]
    assert {e.session_id for e in entries} == {facts["session"]}
    assert totals(entries) == (facts["tokens"], facts["responses"])
    assert {e.model for e in entries if e.role == "assistant"} == facts["models"]
    assert {e.project_path for e in entries} == {None}  # only a hash in the file
    uses = [e for e in entries if e.role == "tool_use"]
    assert dict(Counter(e.tool_name for e in uses)) == facts["tools"]
    assert all(e.has_tool_use and e.message_id for e in uses)
    assert not any(e.is_error for e in entries)  # every tool call says "success"
    thinking = [e for e in entries if e.has_thinking]
    assert (len(thinking), sum(e.thinking_len for e in thinking)) == facts["thinking"]
    assert result.skipped == ({"bookkeeping": facts["bookkeeping"]}
                              if facts["bookkeeping"] else {})
    assert len({e.uuid for e in entries}) == len(entries)
    # every tool call has its result, under the call's uuid + ":result"
    assert {e.parent_uuid for e in entries if e.role == "tool_result"} == {e.uuid for e in uses}


def test_sample_texts(samples):
    entries = SOURCE.read(samples / "gemini" / JSONL, 0, None).entries
    by_uuid = {e.uuid: e for e in entries}
    cancelled = by_uuid["9a505a5d-d89f-4df6-b74b-c8fc0e07711b"]
    assert (cancelled.role, cancelled.text) == ("system", "Request cancelled.")
    # the user's content parts are what the model saw (displayContent is "/init")
    init = by_uuid["8828dd6a-d778-464f-8160-eb2e1604a122"]
    assert init.text.startswith("\nYou are an AI agent that brings the power of Gemini")
    call = by_uuid["52e62e67-5d6b-4a2c-b12d-11b87fe3e4a4:aao1q07o"]
    assert (call.tool_name, json.loads(call.text)) == ("read_file", {"file_path": "README.md"})
    done = by_uuid["52e62e67-5d6b-4a2c-b12d-11b87fe3e4a4:aao1q07o:result"]
    assert done.text.startswith('<div align="center" markdown="1">')
    assert all(e.timestamp.endswith("Z") for e in entries)


def test_jsonl_read_in_parts_ships_each_entry_once(samples, reads):
    """A re-appended message ships only what is new (its tool calls), never a duplicate."""
    data = (samples / "gemini" / JSONL).read_bytes()
    whole = SOURCE.read(samples / "gemini" / JSONL, 0, None)
    for cuts in [spread(line_ends(data), 6), line_ends(data)]:
        entries, skipped, offset, _ = reads.growing(SOURCE, data, cuts, "chats/session-x.jsonl")
        assert offset == len(data)
        assert [e.uuid for e in entries].count(entries[0].uuid) == 1
        assert len({e.uuid for e in entries}) == len(entries)  # nothing shipped twice
        assert {e.uuid: e for e in entries} == {e.uuid: e for e in whole.entries}
        assert skipped == whole.skipped
        assert totals(entries) == totals(whole.entries)


@pytest.mark.parametrize("name", sorted(n for n in FACTS if n.endswith(".json")))
def test_json_sample_rewritten_as_it_grows(samples, tmp_path, name):
    """The session rewritten with more and more messages ships each entry exactly once."""
    document = json.loads((samples / "gemini" / name).read_bytes())
    whole = SOURCE.read(samples / "gemini" / name, 0, None)
    path = tmp_path / "chats" / "session-x.json"
    path.parent.mkdir()
    messages = document["messages"]
    for cuts in ([1, len(messages) // 2], [len(messages) - 1], list(range(1, len(messages)))):
        offset, state, entries = 0, None, []
        for count in cuts + [len(messages)]:
            path.write_text(json.dumps(dict(document, messages=messages[:count]), indent=2))
            result = SOURCE.read(path, offset, state)
            entries += result.entries
            offset, state = result.offset, json.loads(json.dumps(result.state))
        assert entries == whole.entries, cuts
        assert SOURCE.read(path, offset, state).entries == []


def test_jsonl_read_as_it_grows(samples, reads):
    reads.assert_same_as_whole(SOURCE, samples / "gemini" / JSONL)


def test_split_between_a_message_and_its_grown_copy(samples, reads):
    data = (samples / "gemini" / JSONL).read_bytes()
    cut = line_ends(data)[5]  # after the first copy of 52e62e67 (no tool calls yet)
    first = SOURCE.read(samples / "gemini" / JSONL, 0, None)
    entries, *_ = reads.growing(SOURCE, data, [cut], "chats/session-x.jsonl")
    assert {e.uuid: e for e in entries} == {e.uuid: e for e in first.entries}


def write_session(path: Path, messages, session="s-1"):
    path.write_text(json.dumps({"sessionId": session, "projectHash": "h", "messages": messages},
                               indent=2))


def gemini_message(mid, text, calls=None, tokens=None):
    message = {"id": mid, "timestamp": "2026-03-01T10:00:00.000Z", "type": "gemini",
               "content": text, "model": "gemini-2.5-pro",
               "tokens": tokens or {"input": 100, "output": 10, "cached": 40, "thoughts": 5,
                                    "tool": 2, "total": 117}}
    if calls is not None:
        message["toolCalls"] = calls
    return message


def test_rewritten_json_ships_new_and_changed_entries_only(tmp_path):
    path = tmp_path / "chats" / "session-2026-03-01T10-00-abcd.json"
    path.parent.mkdir()
    user = {"id": "u1", "timestamp": "2026-03-01T09:59:00Z", "type": "user",
            "content": [{"text": "hi"}]}
    call = {"id": "c1", "name": "run_shell_command", "args": {"command": "ls"},
            "status": "executing"}
    write_session(path, [user, gemini_message("g1", "", calls=[call])])
    assert is_whole_file(SOURCE, path)

    first = SOURCE.read(path, 0, None)
    assert [(e.uuid, e.role) for e in first.entries] == [
        ("u1", "user"), ("g1", "assistant"), ("g1:c1", "tool_use")]
    assert first.offset == path.stat().st_size

    # rewritten: the call finished with an error, a new message follows
    done = dict(call, status="error", result=[{"functionResponse": {
        "id": "c1", "name": "run_shell_command", "response": {"error": "boom"}}}])
    write_session(path, [user, gemini_message("g1", "", calls=[done]),
                         gemini_message("g2", "all done")])
    second = SOURCE.read(path, first.offset, json.loads(json.dumps(first.state)))
    assert [(e.uuid, e.role) for e in second.entries] == [
        ("g1:c1:result", "tool_result"), ("g2", "assistant")]
    assert second.entries[0].is_error and second.entries[0].text == "boom"
    assert second.entries[0].tool_name == "run_shell_command"

    # the text of g2 changes: shipped again under the same uuid; nothing else is
    write_session(path, [user, gemini_message("g1", "", calls=[done]),
                         gemini_message("g2", "all done, really")])
    third = SOURCE.read(path, second.offset, second.state)
    assert [(e.uuid, e.text) for e in third.entries] == [("g2", "all done, really")]
    assert SOURCE.read(path, third.offset, third.state).entries == []


def test_tokens_of_a_message(tmp_path):
    path = tmp_path / "chats" / "session-a.json"
    path.parent.mkdir()
    write_session(path, [gemini_message("g1", "x")])
    (entry,) = SOURCE.read(path, 0, None).entries
    # input 100 of which 40 cached, plus 2 tool-use prompt tokens; output 10 + 5 thoughts
    assert (entry.input_tokens, entry.cache_read_tokens, entry.output_tokens,
            entry.reasoning_tokens, entry.message_id) == (62, 40, 15, 5, "g1")


def test_a_file_caught_mid_rewrite_is_read_again_later(tmp_path):
    path = tmp_path / "chats" / "session-a.json"
    path.parent.mkdir()
    write_session(path, [gemini_message("g1", "x")])
    complete = path.read_text()
    path.write_text(complete[: len(complete) // 2])
    half = SOURCE.read(path, 0, None)
    assert (half.entries, half.offset, half.skipped) == ([], 0, {"malformed": 1})
    path.write_text(complete)
    assert [e.uuid for e in SOURCE.read(path, half.offset, half.state).entries] == ["g1"]


def test_empty_and_odd_documents_do_not_raise(tmp_path):
    path = tmp_path / "chats" / "session-a.json"
    path.parent.mkdir()
    path.write_bytes(b"")
    assert SOURCE.read(path, 0, None).entries == []
    path.write_text('["not", "a", "session"]')
    assert SOURCE.read(path, 0, None).skipped == {"malformed": 1}
    path.write_text(json.dumps({"sessionId": "s", "messages": [
        7, {"id": "x", "type": "mystery"}, {"type": "user", "content": "no id"}]}))
    result = SOURCE.read(path, 0, None)
    assert result.skipped == {"malformed": 1, "unknown_type": 1}
    assert [(e.role, e.text) for e in result.entries] == [("user", "no id")]


def test_jsonl_set_and_rewind_lines_are_bookkeeping(tmp_path):
    path = tmp_path / "chats" / "session-a.jsonl"
    path.parent.mkdir()
    lines = [
        {"sessionId": "s-9", "projectHash": "h", "startTime": "2026-04-01T00:00:00Z"},
        {"id": "u1", "timestamp": "2026-04-01T00:00:01Z", "type": "user", "content": "hi"},
        {"$set": {"lastUpdated": "2026-04-01T00:00:01Z"}},
        {"$rewindTo": "u1"},
        {"$set": {"messages": [{"id": "u2", "timestamp": "2026-04-01T00:00:02Z",
                                "type": "user", "content": "again"}]}},
        {"something": "else"},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = SOURCE.read(path, 0, None)
    assert [(e.session_id, e.uuid, e.text) for e in result.entries] == [
        ("s-9", "u1", "hi"), ("s-9", "u2", "again")]
    assert result.skipped == {"bookkeeping": 4, "unknown_type": 1}
    assert not is_whole_file(SOURCE, path)


def test_project_root_marker_gives_the_project_path(samples, home):
    chats = home / ".gemini" / "tmp" / "my-project" / "chats"
    chats.mkdir(parents=True)
    (chats.parent / ".project_root").write_text("/home/dev/my-project\n")
    target = chats / "session-2026-04-23T12-52-0ab84937.jsonl"
    shutil.copy(samples / "gemini" / JSONL, target)
    (root,) = SOURCE.roots(home, {})
    assert list(SOURCE.discover(root)) == [target]
    entries = SOURCE.read(target, 0, None).entries
    assert {e.project_path for e in entries} == {"/home/dev/my-project"}


def test_discovery_and_matching(home):
    base = home / ".gemini" / "tmp" / "abc123"
    (base / "chats").mkdir(parents=True)
    wanted = [base / "chats" / "session-2025-10-05T07-11-eefc44a3.json",
              base / "chats" / "session-2026-04-23T12-52-0ab84937.jsonl"]
    for path in wanted:
        path.write_text("{}")
    (base / "logs.json").write_text("[]")
    (base / "chats" / "notes.json").write_text("{}")
    (root,) = SOURCE.roots(home, {})
    assert root == home / ".gemini" / "tmp"
    assert list(SOURCE.discover(root)) == sorted(wanted)
    assert not SOURCE.matches(home / ".qwen" / "projects" / "x" / "chats" / "abc.jsonl")
    assert list(SOURCE.discover(home / "missing")) == []


def test_gemini_cli_home_replaces_the_home(home, tmp_path):
    # GEMINI_CLI_HOME stands for the home directory: sessions go to $GEMINI_CLI_HOME/.gemini.
    profile = tmp_path / "profile"
    chats = profile / ".gemini" / "tmp" / "abc123" / "chats"
    chats.mkdir(parents=True)
    (chats / "session-2026-04-23T12-52-0ab84937.jsonl").write_text("{}\n")
    (root,) = SOURCE.roots(home, {"GEMINI_CLI_HOME": f" {profile} "})
    assert root == profile / ".gemini" / "tmp"
    assert list(SOURCE.discover(root)) == [chats / "session-2026-04-23T12-52-0ab84937.jsonl"]
    assert SOURCE.roots(home, {"GEMINI_CLI_HOME": ""}) == [home / ".gemini" / "tmp"]


def test_content_as_any_part_list_union(tmp_path):
    # Gemini CLI records user content as the PartListUnion it was given: a string, a
    # single part object, or a list mixing part objects and plain strings.
    path = tmp_path / "tmp" / "h" / "chats" / "session-2026-05-01T10-00-aaaaaaaa.json"
    path.parent.mkdir(parents=True)
    write_session(path, [
        {"id": "u1", "type": "user", "timestamp": "2026-05-01T10:00:00Z", "content": "plain"},
        {"id": "u2", "type": "user", "timestamp": "2026-05-01T10:00:01Z",
         "content": {"text": "one part"}},
        {"id": "u3", "type": "user", "timestamp": "2026-05-01T10:00:02Z",
         "content": ["a string", {"text": "a part"}, {"text": "hidden", "thought": True},
                     {"inlineData": {"mimeType": "image/png", "data": "AA=="}}]},
    ])
    assert [e.text for e in SOURCE.read(path, 0, None).entries] == [
        "plain", "one part", "a string\na part"]
