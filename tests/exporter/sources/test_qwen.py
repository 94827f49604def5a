"""Qwen Code parser: the real sample, incremental reads, and documented variants."""

from __future__ import annotations

import json
import shutil
from collections import Counter

from thinkt.exporter.sources import get
from thinkt.exporter.report.tally import UsageTally

SOURCE = get("qwen")
NAME = "Piebald-AI-splitrail__qwen_code.jsonl"
SESSION = "69f0814a-8bfc-4c8e-93d3-05757f17b96f"


def test_every_sample_is_covered(samples):
    assert [p.name for p in (samples / "qwen").iterdir()] == [NAME]


def test_sample_facts(samples):
    # Read with python: 8 records; user 1, assistant 2 (one functionCall list_directory
    # call_1, one text "Done."), tool_result 1 with toolCallResult.status "error", system 4
    # (attribution_snapshot, 3 ui_telemetry). usageMetadata: prompt 500 / candidates 20 /
    # cached 0, then prompt 600 / candidates 5 / cached 50; thoughts 0 on both.
    result = SOURCE.read(samples / "qwen" / NAME, 0, None)
    entries = result.entries
    assert [(e.role, e.uuid[:8]) for e in entries] == [
        ("user", "e3ef2de4"), ("assistant", "c5a42b61"), ("tool_use", "c5a42b61"),
        ("tool_result", "6f707088"), ("assistant", "f134fbd1")]
    assert {e.session_id for e in entries} == {SESSION}
    assert {e.project_path for e in entries} == {"/tmp/qwentest"}
    assert {e.model for e in entries if e.role in ("assistant", "tool_use")} == {"coder-model"}
    tally = UsageTally().extend(entries)
    assert tally.totals() == {"input_tokens": 500 + 550, "output_tokens": 25,
                              "cache_read_tokens": 50, "cache_write_tokens": 0,
                              "reasoning_tokens": 0}
    assert tally.responses == 2
    call, failure = entries[2], entries[3]
    assert (call.uuid, call.tool_name, json.loads(call.text), call.has_tool_use) == (
        "c5a42b61-a532-4784-88a1-fb5f254241f9:call_1", "list_directory", {"path": "."}, True)
    assert (failure.tool_name, failure.is_error, failure.text) == (
        "list_directory", True, "Path must be absolute: .")
    assert (entries[0].text, entries[4].text) == ("List the files here.", "Done.")
    assert result.skipped == {"bookkeeping": 4}
    assert not any(e.has_thinking for e in entries)


def test_read_as_it_grows(samples, reads):
    reads.assert_same_as_whole(SOURCE, samples / "qwen" / NAME)


def record(kind, uuid, message, **extra):
    return json.dumps(dict({"uuid": uuid, "parentUuid": None, "sessionId": "s1",
                            "timestamp": "2026-06-15T14:40:22.832Z", "type": kind,
                            "cwd": "/w", "message": message}, **extra)) + "\n"


def test_thoughts_usage_and_successful_results(tmp_path):
    path = tmp_path / "projects" / "-w" / "chats" / "s1.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(
        record("assistant", "a1", {"role": "model", "parts": [
            {"text": "Let me think about it", "thought": True},
            {"text": "Reading."}, {"functionCall": {"name": "read_file", "args": {"p": 1}}},
            {"functionCall": {"id": "k2", "name": "ls", "args": {}}}]},
            model="qwen3-coder-plus", usageMetadata={
                "promptTokenCount": 1000, "candidatesTokenCount": 30, "thoughtsTokenCount": 12,
                "cachedContentTokenCount": 900, "totalTokenCount": 1042})
        + record("tool_result", "r1", {"role": "user", "parts": [
            {"functionResponse": {"id": "0", "name": "read_file", "response": {"output": "x"}}},
            {"functionResponse": {"id": "k2", "name": "ls", "response": {"output": "y"}}}]},
            toolCallResult={"callId": "0", "status": "success"})
        + record("mystery", "m1", {"role": "user", "parts": []})
        + record("user", "u9", "not a message")
        + "not json at all\n")
    result = SOURCE.read(path, 0, None)
    a1 = result.entries[0]
    assert (a1.text, a1.has_thinking, a1.thinking_len) == ("Reading.", True, 21)
    assert (a1.input_tokens, a1.cache_read_tokens, a1.output_tokens, a1.reasoning_tokens) == (
        100, 900, 42, 12)
    assert [(e.uuid, e.role, e.tool_name, e.text, e.is_error) for e in result.entries[1:]] == [
        ("a1:0", "tool_use", "read_file", '{"p":1}', False),
        ("a1:k2", "tool_use", "ls", "{}", False),
        ("r1", "tool_result", "read_file", "x", False),
        ("r1:1", "tool_result", "ls", "y", False)]
    assert result.skipped == {"unknown_type": 1, "malformed": 2}


def test_discovery(samples, home):
    chats = home / ".qwen" / "projects" / "-tmp-qwentest" / "chats"
    chats.mkdir(parents=True)
    shutil.copy(samples / "qwen" / NAME, chats / f"{SESSION}.jsonl")
    (chats.parent / "notes.jsonl").write_text("")
    (root,) = SOURCE.roots(home, {})
    assert list(SOURCE.discover(root)) == [chats / f"{SESSION}.jsonl"]
    assert not SOURCE.matches(home / ".gemini" / "tmp" / "h" / "chats" / "session-1.jsonl")
    assert dict(Counter(e.role for e in SOURCE.read(chats / f"{SESSION}.jsonl", 0, None)
                        .entries))["assistant"] == 2


def usage_entry(tmp_path, usage):
    path = tmp_path / "projects" / "-w" / "chats" / "s1.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(record("assistant", "a1", {"role": "model", "parts": [{"text": "ok"}]},
                           model="qwen3-coder-plus", usageMetadata=usage))
    (entry,) = SOURCE.read(path, 0, None).entries
    return entry.input_tokens, entry.cache_read_tokens, entry.output_tokens, entry.reasoning_tokens


def test_reasoning_inside_openai_completion_tokens_counts_once(tmp_path):
    # Qwen Code's OpenAI converter copies completion_tokens (reasoning included) into
    # candidatesTokenCount and reasoning_tokens into thoughtsTokenCount: total = prompt +
    # candidates. Adding the thoughts again would count the reasoning twice.
    assert usage_entry(tmp_path, {
        "promptTokenCount": 1000, "candidatesTokenCount": 300, "thoughtsTokenCount": 200,
        "cachedContentTokenCount": 600, "totalTokenCount": 1300}) == (400, 600, 300, 200)


def test_thoughts_apart_from_candidates_are_added(tmp_path):
    # Gemini's own API (Qwen Code with a Gemini key): total = prompt + candidates + thoughts.
    assert usage_entry(tmp_path, {
        "promptTokenCount": 1000, "candidatesTokenCount": 30, "thoughtsTokenCount": 200,
        "totalTokenCount": 1230}) == (1000, 0, 230, 200)


def test_usage_without_a_total(tmp_path):
    # No total: thoughts within candidates are taken as part of them (the OpenAI shape
    # of the default backends); thoughts beyond candidates can only be apart.
    assert usage_entry(tmp_path, {"promptTokenCount": 10, "candidatesTokenCount": 8,
                                  "thoughtsTokenCount": 5}) == (10, 0, 8, 5)
    assert usage_entry(tmp_path, {"promptTokenCount": 10, "candidatesTokenCount": 3,
                                  "thoughtsTokenCount": 5}) == (10, 0, 8, 5)


def test_injected_user_records_are_system_and_subagents_are_named(tmp_path):
    # Newer Qwen Code writes type "user" records it injects itself (cron prompts,
    # background-task notifications, goal runtime nudges), a message typed while tools
    # ran (mid_turn_user_message, the human's, with the typed text in displayText), and
    # subagent records carrying agentId/isSidechain in the session file.
    path = tmp_path / "projects" / "-w" / "chats" / "s1.jsonl"
    path.parent.mkdir(parents=True)
    parts = {"role": "user", "parts": [{"text": "injected text"}]}
    path.write_text(
        record("user", "u1", {"role": "user", "parts": [{"text": "fix it @a.py\nCONTENT"}]},
               provenance="real_user", systemPayload={"displayText": "fix it @a.py"})
        + record("user", "u2", parts, subtype="cron", systemPayload={"displayText": "every 5m"})
        + record("user", "u3", parts, subtype="notification", provenance="system")
        + record("user", "u4", parts, subtype="goal_runtime", provenance="goal_runtime")
        + record("user", "u5", {"role": "user", "parts": [
            {"text": "\n[User message received during tool execution]: save logs"}]},
            subtype="mid_turn_user_message", systemPayload={"displayText": "save logs"})
        + record("user", "u6", parts, subtype="some_future_subtype")
        + record("assistant", "a1", {"role": "model", "parts": [{"text": "sub says"}]},
                 agentId="explore-7f3c", isSidechain=True))
    entries = SOURCE.read(path, 0, None).entries
    assert [(e.uuid, e.role, e.text, e.agent_id) for e in entries] == [
        ("u1", "user", "fix it @a.py", None),
        ("u2", "system", "every 5m", None),
        ("u3", "system", "injected text", None),
        ("u4", "system", "injected text", None),
        ("u5", "user", "save logs", None),
        ("u6", "system", "injected text", None),
        ("a1", "assistant", "sub says", "explore-7f3c")]


def test_qwen_home_and_runtime_dir(home, tmp_path):
    # QWEN_HOME replaces ~/.qwen; QWEN_RUNTIME_DIR, where set, holds the sessions.
    assert SOURCE.roots(home, {}) == [home / ".qwen" / "projects"]
    assert SOURCE.roots(home, {"QWEN_HOME": str(tmp_path / "q")}) == [
        tmp_path / "q" / "projects"]
    assert SOURCE.roots(home, {"QWEN_HOME": str(tmp_path / "q"),
                               "QWEN_RUNTIME_DIR": str(tmp_path / "run")}) == [
        tmp_path / "run" / "projects", tmp_path / "q" / "projects"]
    chats = tmp_path / "run" / "projects" / "-w" / "chats"
    chats.mkdir(parents=True)
    (chats / "s1.jsonl").write_text("")
    root = SOURCE.roots(home, {"QWEN_RUNTIME_DIR": str(tmp_path / "run")})[0]
    assert list(SOURCE.discover(root)) == [chats / "s1.jsonl"]
