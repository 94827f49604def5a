"""Copilot CLI parser: the real event stream and legacy history file, tokens, edge cases."""

from __future__ import annotations

import json
import shutil
from collections import Counter

from thinkt.exporter.sources import get, is_whole_file
from thinkt.exporter.report.tally import UsageTally

SOURCE = get("copilot")
EVENTS = "Mai0313-VibeCodingTracker__copilot.jsonl"
HISTORY = "Mai0313-VibeCodingTracker__test_conversation_copilot@7bc2c73.json"
SESSION = "96ef38f0-9d09-45c3-8124-6448c36090ed"


def test_every_sample_is_covered(samples):
    assert {p.name for p in (samples / "copilot").iterdir()} == {EVENTS, HISTORY}


def test_events_sample_facts(samples):
    # Established with python over the file: 2 user.message (one with content, one empty
    # auto-continuation), 6 assistant.message with 11 toolRequests (all answered by a
    # tool.execution_complete, every one success:true), outputTokens summing to 2848 (=
    # the shutdown's outputTokens), reasoningText on 4 messages (3109 bytes), shutdown
    # usage inputTokens 186809 / cacheReadTokens 151738 / cacheWriteTokens 0.
    result = SOURCE.read(samples / "copilot" / EVENTS, 0, None)
    entries = result.entries
    assert dict(Counter(e.role for e in entries)) == {
        "user": 1, "system": 2, "assistant": 6, "tool_use": 11, "tool_result": 11}
    assert {e.session_id for e in entries} == {SESSION}
    assert {e.project_path for e in entries} == {"/home/wei/repo/VibeCodingTracker"}
    assert {e.git_branch for e in entries} == {"refactor/gemini-copilot-new-formats"}
    assert {e.model for e in entries if e.role in ("assistant", "tool_use")} == {
        "claude-sonnet-4.6"}
    uses = [e for e in entries if e.role == "tool_use"]
    assert dict(Counter(e.tool_name for e in uses)) == {
        "view": 4, "web_search": 3, "bash": 2, "report_intent": 1, "task_complete": 1}
    results = [e for e in entries if e.role == "tool_result"]
    assert {e.parent_uuid for e in results} == {e.uuid for e in uses}
    assert {e.tool_name for e in results} == {e.tool_name for e in uses}
    assert not any(e.is_error for e in results)
    thinking = [e for e in entries if e.has_thinking]
    assert (len(thinking), sum(e.thinking_len for e in thinking)) == (4, 3109)

    tally = UsageTally().extend(entries)
    assert tally.totals() == {"input_tokens": 186809 - 151738, "output_tokens": 2848,
                              "cache_read_tokens": 151738, "cache_write_tokens": 0,
                              "reasoning_tokens": 0}
    assert tally.responses == 7  # six messages, and the shutdown totals
    shutdown = [e for e in entries if e.role == "system" and e.has_usage]
    assert [(e.output_tokens, e.input_tokens) for e in shutdown] == [(0, 35071)]
    assert result.skipped == {"bookkeeping": 31}


def test_events_texts(samples):
    entries = SOURCE.read(samples / "copilot" / EVENTS, 0, None).entries
    (user,) = [e for e in entries if e.role == "user"]
    assert user.text.startswith("請不要修改任何代碼")
    injected = [e for e in entries if e.role == "system" and not e.has_usage]
    assert injected[0].text.startswith("<current_datetime>")
    first = next(e for e in entries if e.role == "tool_result")
    assert (first.tool_name, first.text) == ("report_intent", "Intent logged")
    call = next(e for e in entries if e.role == "tool_use")
    assert json.loads(call.text) == {"intent": "Investigating Rust doc tools"}


def test_events_read_as_they_grow(samples, reads):
    reads.assert_same_as_whole(SOURCE, samples / "copilot" / EVENTS)


def test_history_sample_facts(samples):
    # The timeline holds 1 user, 37 copilot, 2 info items and 59 tool_call_completed
    # (str_replace_editor 34, bash 25, all result.type "success"); no model, tokens, cwd.
    path = samples / "copilot" / HISTORY
    assert is_whole_file(SOURCE, path)
    result = SOURCE.read(path, 0, None)
    entries = result.entries
    assert dict(Counter(e.role for e in entries)) == {
        "system": 2, "user": 1, "assistant": 37, "tool_use": 59, "tool_result": 59}
    assert {e.session_id for e in entries} == {"06141331-92e8-4e9e-8bbb-9b7a729eb01a"}
    assert dict(Counter(e.tool_name for e in entries if e.role == "tool_use")) == {
        "str_replace_editor": 34, "bash": 25}
    assert not any(e.is_error or e.has_usage or e.model or e.project_path for e in entries)
    assert len({e.uuid for e in entries}) == len(entries)
    assert result.offset == path.stat().st_size
    again = SOURCE.read(path, result.offset, json.loads(json.dumps(result.state)))
    assert again.entries == []


def test_history_sample_rewritten_as_it_grows(samples, tmp_path):
    document = json.loads((samples / "copilot" / HISTORY).read_bytes())
    whole = SOURCE.read(samples / "copilot" / HISTORY, 0, None)
    path = tmp_path / "history-session-state" / "s.json"
    path.parent.mkdir()
    timeline = document["timeline"]
    offset, state, entries = 0, None, []
    for count in (1, 10, 50, 98, len(timeline)):
        path.write_text(json.dumps(dict(document, timeline=timeline[:count]), indent=4))
        result = SOURCE.read(path, offset, state)
        entries += result.entries
        offset, state = result.offset, json.loads(json.dumps(result.state))
    assert entries == whole.entries


def test_history_rewrite_ships_only_new_items(tmp_path):
    path = tmp_path / "history-session-state" / "session_1.json"
    path.parent.mkdir()
    items = [{"id": "t1", "timestamp": "2025-10-11T11:40:24Z", "type": "user", "text": "hi"}]
    path.write_text(json.dumps({"sessionId": "s", "timeline": items}))
    first = SOURCE.read(path, 0, None)
    items.append({"type": "tool_call_completed", "id": "t2", "timestamp": "2025-10-11T11:41Z",
                  "callId": "call-1", "name": "bash", "arguments": {"command": "false"},
                  "result": {"type": "failure", "log": "exit 1"}})
    path.write_text(json.dumps({"sessionId": "s", "timeline": items}, indent=4))
    second = SOURCE.read(path, first.offset, first.state)
    assert [(e.uuid, e.role, e.is_error, e.text) for e in second.entries] == [
        ("call-1", "tool_use", False, '{"command":"false"}'),
        ("t2", "tool_result", True, "exit 1")]


def event(kind, uuid, data, ts="2026-04-23T17:00:00.000Z"):
    return json.dumps({"type": kind, "data": data, "id": uuid, "timestamp": ts}) + "\n"


def test_shutdown_counts_only_output_not_seen_on_messages(tmp_path):
    """Two models; the second's messages report less output than its shutdown total."""
    path = tmp_path / "session-state" / "abc" / "events.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(
        event("session.start", "e0", {"sessionId": "abc", "context": {"cwd": "/w"}})
        + event("session.model_change", "e1", {"newModel": "m-a"})
        + event("assistant.message", "e2", {"messageId": "r1", "content": "a",
                                             "outputTokens": 10})
        + event("session.model_change", "e3", {"newModel": "m-b"})
        + event("assistant.message", "e4", {"messageId": "r2", "content": "b",
                                             "outputTokens": 5, "model": "m-b"})
        + event("session.shutdown", "e5", {"modelMetrics": {
            "m-a": {"usage": {"inputTokens": 100, "outputTokens": 10, "cacheReadTokens": 60,
                              "cacheWriteTokens": 7, "reasoningTokens": 3}},
            "m-b": {"usage": {"inputTokens": 50, "outputTokens": 9}}}}))
    entries = SOURCE.read(path, 0, None).entries
    totals = [(e.uuid, e.model, e.input_tokens, e.cache_read_tokens, e.cache_write_tokens,
               e.output_tokens, e.reasoning_tokens) for e in entries if e.role == "system"]
    assert totals == [("e5:m-a", "m-a", 40, 60, 7, 0, 3), ("e5:m-b", "m-b", 50, 0, 0, 4, 0)]
    assert UsageTally().extend(entries).totals()["output_tokens"] == 19
    assert {e.project_path for e in entries} == {"/w"}


def test_failed_tool_and_odd_events(tmp_path):
    path = tmp_path / "session-state" / "abc.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(
        event("assistant.message", "e1", {"messageId": "r1", "content": "",
                                          "toolRequests": [{"toolCallId": "t1", "name": "bash",
                                                            "arguments": {"command": "x"}}]})
        + event("tool.execution_complete", "e2", {"toolCallId": "t1", "success": False,
                                                  "error": {"message": "denied"}})
        + event("brand.new_event", "e3", {})
        + json.dumps({"type": "user.message", "data": "not an object"}) + "\n"
        + event("user.message", "", {"content": "no id"}))
    result = SOURCE.read(path, 0, None)
    assert [(e.role, e.tool_name, e.is_error, e.text) for e in result.entries] == [
        ("assistant", None, False, None), ("tool_use", "bash", False, '{"command":"x"}'),
        ("tool_result", "bash", True, "denied")]
    assert {e.session_id for e in result.entries} == {"abc"}  # from the file name
    assert result.skipped == {"unknown_type": 1, "malformed": 2}


def test_discovery(samples, home):
    state = home / ".copilot" / "session-state"
    (state / SESSION).mkdir(parents=True)
    shutil.copy(samples / "copilot" / EVENTS, state / SESSION / "events.jsonl")
    (state / "older.jsonl").write_text("")
    (state / SESSION / "workspace.yaml").write_text("cwd: /x\n")
    (state / SESSION / "checkpoints").mkdir()
    (state / SESSION / "checkpoints" / "index.json").write_text("{}")
    history = home / ".copilot" / "history-session-state"
    history.mkdir()
    shutil.copy(samples / "copilot" / HISTORY, history / "session_x.json")
    found = [p for root in SOURCE.roots(home, {}) for p in SOURCE.discover(root)]
    assert found == [state / SESSION / "events.jsonl", state / "older.jsonl",
                     history / "session_x.json"]
    assert not is_whole_file(SOURCE, found[0]) and is_whole_file(SOURCE, found[2])


def test_copilot_home_replaces_the_copilot_directory(home, tmp_path):
    # COPILOT_HOME names the directory itself (what ~/.copilot is by default).
    custom = tmp_path / "copilot-config"
    (custom / "session-state" / SESSION).mkdir(parents=True)
    (custom / "session-state" / SESSION / "events.jsonl").write_text("")
    roots = SOURCE.roots(home, {"COPILOT_HOME": str(custom)})
    assert roots == [custom / "session-state", custom / "history-session-state"]
    assert list(SOURCE.discover(roots[0])) == [custom / "session-state" / SESSION / "events.jsonl"]
    assert SOURCE.roots(home, {"COPILOT_HOME": " "})[0] == home / ".copilot" / "session-state"
