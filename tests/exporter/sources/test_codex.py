"""Codex parser: every real rollout, incremental reads, token increases, tool errors."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from thinkt.exporter.sources import get
from thinkt.exporter.report.tally import UsageTally

from .conftest import line_ends

SOURCE = get("codex")
LOCALPUSH = "madshn-localpush__rollout-2026-02-23T"

# Facts established with jq over each sample: user = event_msg user_message,
# assistant = agent_message + agent_reasoning, tool_use = function_call +
# custom_tool_call + web_search_call, tool_result = their outputs, system = one per
# increase of total_token_usage (+ the compacted record). Tokens are the increases of
# the cumulative total: (input without cached, cached, output, reasoning).
FACTS = {
    "Mai0313-VibeCodingTracker__codex.jsonl": dict(
        session="01996135-afde-7911-97f0-d863511eca56",
        roles={"user": 1, "assistant": 9, "system": 19, "tool_use": 18, "tool_result": 18},
        tokens=(270530 - 136832, 136832, 12551, 9536), increases=19,
        model="aide-gpt-5", project="/proj/ds906659/gai/claude-code", branch="main",
        thinking=(0, 0), user_bytes=599, tools={"shell": 14, "update_plan": 4}),
    LOCALPUSH + "12-40-23-019c8a4c-ed82-79a1-aa28-7738fc5ab61a.jsonl": dict(
        session="019c8a4c-ed82-79a1-aa28-7738fc5ab61a",
        roles={"user": 5, "assistant": 102, "tool_use": 105, "system": 81, "tool_result": 104},
        tokens=(7204025 - 6836352, 6836352, 36075, 17896), increases=81,
        model="gpt-5.3-codex", project="/redacted/path/fa3f7eaace", branch="main",
        thinking=(59, 2065), user_bytes=191,
        tools={"exec_command": 71, "apply_patch": 22, "write_stdin": 9, "update_plan": 2,
               "web_search": 1}),
    LOCALPUSH + "12-54-34-019c8a59-e9dd-71f0-9ae3-4079fe9726a9.jsonl": dict(
        session="019c8a59-e9dd-71f0-9ae3-4079fe9726a9",
        roles={"user": 38, "assistant": 454, "tool_use": 372, "system": 287,
               "tool_result": 365},
        tokens=(33810485 - 31621504, 31621504, 133999, 42113), increases=286,
        model="gpt-5.3-codex", project="/redacted/path/59b923df4d", branch="main",
        thinking=(199, 6965), user_bytes=1462,
        tools={"exec_command": 212, "write_stdin": 70, "apply_patch": 49,
               "mcp__supabase_right_aim_ops__execute_sql": 22, "web_search": 7,
               "update_plan": 2, "[REDACTED_NAME len=41 sha=6507ee77]": 2,
               "[REDACTED_NAME len=44 sha=314a252b]": 1, "[REDACTED_NAME len=44 sha=9b7621db]": 1,
               "[REDACTED_NAME len=44 sha=cf7b17a4]": 1, "list_mcp_resource_templates": 1,
               "list_mcp_resources": 1, "mcp__associates-tools__List_Budgets": 1,
               "mcp__n8n-mcp__n8n_health_check": 1,
               "mcp__supabase_right_aim_ops__list_tables": 1}),
    # An unfinished turn: the last line is a call whose output was never written.
    LOCALPUSH + "13-19-38-019c8a70-dda7-7f33-98ea-f30553347322.jsonl": dict(
        session="019c8a70-dda7-7f33-98ea-f30553347322",
        roles={"user": 1, "assistant": 2, "tool_use": 1, "system": 1},
        tokens=(34469 - 3456, 3456, 431, 264), increases=1,
        model="gpt-5.3-codex", project="/redacted/path/da0ba47443", branch="main",
        thinking=(1, 35), user_bytes=38, tools={"exec_command": 1}),
}


def test_every_sample_has_facts(samples):
    assert {p.name for p in (samples / "codex").glob("*.jsonl")} == set(FACTS)


@pytest.mark.parametrize("name", sorted(FACTS))
def test_sample_facts(samples, name):
    facts = FACTS[name]
    result = SOURCE.read(samples / "codex" / name, 0, None)
    entries = result.entries
    assert result.offset == (samples / "codex" / name).stat().st_size

    assert dict(Counter(e.role for e in entries)) == facts["roles"]
    assert {e.session_id for e in entries} == {facts["session"]}
    tally = UsageTally().extend(entries)
    t = tally.totals()
    assert (t["input_tokens"], t["cache_read_tokens"], t["output_tokens"],
            t["reasoning_tokens"]) == facts["tokens"]
    assert t["cache_write_tokens"] == 0  # Codex reports no cache writes
    assert tally.responses == facts["increases"]
    usage_entries = [e for e in entries if e.has_usage]
    assert len(usage_entries) == facts["increases"]
    assert all(e.role == "system" and e.text is None for e in usage_entries)
    # Each increase is named by the session and the cumulative total it reached.
    assert len({e.message_id for e in usage_entries}) == facts["increases"]
    assert all(e.message_id.startswith(facts["session"] + "@") for e in usage_entries)
    assert {e.model for e in entries if e.model} == {facts["model"]}
    assert {e.project_path for e in entries} == {facts["project"]}
    assert {e.git_branch for e in entries} == {facts["branch"]}
    thinking = [e for e in entries if e.has_thinking]
    assert (len(thinking), sum(e.thinking_len for e in thinking)) == facts["thinking"]
    users = [e for e in entries if e.role == "user"]
    assert sum(len(e.text.encode()) for e in users) == facts["user_bytes"]
    calls = [e for e in entries if e.role == "tool_use"]
    assert dict(Counter(e.tool_name for e in calls)) == facts["tools"]
    assert all(e.has_tool_use for e in calls)
    # Every call renders its input (one web search in the samples records no action).
    assert sum(e.text is None for e in calls) == (1 if "12-40-23" in name else 0)
    # No sample states a failing exit code (older outputs all say exit_code 0; newer
    # outputs are redacted), so no entry is an error.
    assert not any(e.is_error for e in entries)
    assert all(e.timestamp and e.timestamp.endswith("Z") for e in entries)
    keys = [e.uuid for e in entries]
    assert len(keys) == len(set(keys))
    assert "malformed" not in result.skipped and "unknown_type" not in result.skipped


def test_tool_outputs_are_named_and_unwrapped(samples):
    entries = SOURCE.read(samples / "codex" / "Mai0313-VibeCodingTracker__codex.jsonl",
                          0, None).entries
    results = [e for e in entries if e.role == "tool_result"]
    assert Counter(e.tool_name for e in results) == {"shell": 14, "update_plan": 4}
    # The 0.39 JSON wrapper {"output", "metadata"} is unwrapped to the output text.
    assert not any(e.text.startswith('{"output"') for e in results)
    assert sum(e.text == "Plan updated" for e in results) == 4


def test_compacted_record_is_a_system_entry(samples):
    name = LOCALPUSH + "12-54-34-019c8a59-e9dd-71f0-9ae3-4079fe9726a9.jsonl"
    entries = SOURCE.read(samples / "codex" / name, 0, None).entries
    compacted = [e for e in entries if e.role == "system" and not e.has_usage]
    assert [e.timestamp for e in compacted] == ["2026-02-24T09:51:48.878Z"]


@pytest.mark.parametrize("name", sorted(FACTS))
def test_incremental_reads_equal_one_read(samples, reads, name):
    reads.assert_same_as_whole(SOURCE, samples / "codex" / name)


# --- synthetic rollouts for what the samples lack ------------------------------------

SID = "019c0000-1111-7222-8333-444444444444"


def line(kind: str, payload, ts: str = "2026-03-01T10:00:00.000Z") -> dict:
    return {"timestamp": ts, "type": kind, "payload": payload}


def meta(cwd: str = "/repo") -> dict:
    return line("session_meta", {"id": SID, "timestamp": "2026-03-01T10:00:00Z", "cwd": cwd,
                                 "git": {"branch": "dev"}, "cli_version": "0.135.0"})


def usage(inp, cached, out, reasoning) -> dict:
    return {"input_tokens": inp, "cached_input_tokens": cached, "output_tokens": out,
            "reasoning_output_tokens": reasoning, "total_tokens": inp + out}


def count(total=None, last=None) -> dict:
    info = {}
    if total:
        info["total_token_usage"] = usage(*total)
    if last:
        info["last_token_usage"] = usage(*last)
    return line("event_msg", {"type": "token_count", "info": info or None})


def write(tmp_path: Path, lines: list, name: str = f"rollout-2026-03-01T11-00-00-{SID}.jsonl"):
    path = tmp_path / "sessions" / "2026" / "03" / "01" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
    path.write_bytes(text.encode("utf-8", "surrogateescape"))  # lets a test write raw bytes
    return path


def test_token_increases(tmp_path):
    path = write(tmp_path, [
        meta(),
        count(),                                    # rate limits only
        count(total=(100, 40, 10, 4), last=(100, 40, 10, 4)),
        count(total=(100, 40, 10, 4), last=(100, 40, 10, 4)),   # repeated: nothing
        count(total=(250, 90, 30, 9), last=(150, 50, 20, 5)),
        count(total=(60, 20, 5, 1), last=(60, 20, 5, 1)),       # went down: restart
        count(last=(7, 2, 3, 0)),                   # no total: its last usage
        count(total=(80, 30, 6, 1)),                # increase from the restart baseline
    ])
    result = SOURCE.read(path, 0, None)
    got = [(e.input_tokens, e.cache_read_tokens, e.output_tokens, e.reasoning_tokens)
           for e in result.entries]
    assert got == [(60, 40, 10, 4), (100, 50, 20, 5), (40, 20, 5, 1), (5, 2, 3, 0),
                   (10, 10, 1, 0)]
    assert result.skipped == {"bookkeeping": 3}
    assert UsageTally().extend(result.entries).totals() == {
        "input_tokens": 215, "output_tokens": 39, "cache_read_tokens": 122,
        "cache_write_tokens": 0, "reasoning_tokens": 10}


def test_streams_model_and_ids(tmp_path):
    path = write(tmp_path, [
        meta(),
        line("turn_context", {"cwd": "/repo", "model": "gpt-5"}),
        line("response_item", {"type": "message", "role": "developer", "content": []}),
        line("response_item", {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "<environment_context>..."}]}),
        line("response_item", {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "fix it"}]}),
        line("event_msg", {"type": "user_message", "message": "fix it", "images": []}),
        line("response_item", {"type": "reasoning", "summary": [
            {"type": "summary_text", "text": "Thinking…"}], "encrypted_content": "x"}),
        line("event_msg", {"type": "agent_reasoning", "text": "Thinking…"}),
        line("turn_context", {"cwd": "/repo/sub", "model": "",
                              "collaboration_mode": {"settings": {"model": "gpt-5.5"}}}),
        line("event_msg", {"type": "agent_message", "message": "Done."}),
        line("response_item", {"type": "message", "role": "assistant", "content": [
            {"type": "output_text", "text": "Done."}]}),
    ])
    result = SOURCE.read(path, 0, None)
    entries = result.entries
    assert [(e.role, e.text, e.model) for e in entries] == [
        ("user", "fix it", None), ("assistant", None, "gpt-5"),
        ("assistant", "Done.", "gpt-5.5")]
    assert entries[1].has_thinking and entries[1].thinking_len == len("Thinking…".encode())
    assert [e.cwd for e in entries] == ["/repo", "/repo", "/repo/sub"]
    assert {e.project_path for e in entries} == {"/repo"}
    assert {e.git_branch for e in entries} == {"dev"}
    starts = [0] + line_ends(path.read_bytes())
    assert [e.uuid for e in entries] == [f"{SID}:{starts[i]}" for i in (5, 7, 9)]
    assert result.skipped == {"bookkeeping": 3, "duplicate": 5}


def test_tool_calls_and_exit_codes(tmp_path):
    def call(call_id, name="shell"):
        return line("response_item", {"type": "function_call", "name": name,
                                      "arguments": '{"command":["ls"]}', "call_id": call_id})

    def output(call_id, out, kind="function_call_output"):
        return line("response_item", {"type": kind, "call_id": call_id, "output": out})

    path = write(tmp_path, [
        meta(),
        call("c1"), output("c1", json.dumps({"output": "boom", "metadata": {"exit_code": 1}})),
        call("c2"), output("c2", json.dumps({"output": "ok", "metadata": {"exit_code": 0}})),
        call("c3", "exec_command"),
        output("c3", "Chunk ID: 1\nWall time: 0.2 seconds\nProcess exited with code 127\n"
                     "Original token count: 3\nOutput:\nnot found"),
        call("c4", "exec_command"),
        output("c4", "Exit code: 0\nWall time: 1 seconds\nOutput:\nfine"),
        call("c5"), output("c5", "patch rejected: empty patch"),
        call("c6"), output("c6", {"content": "denied", "success": False}),
        call("c7"), output("c7", [{"type": "input_text", "text": "a"},
                                  {"type": "input_text", "text": "b"}]),
        line("response_item", {"type": "custom_tool_call", "call_id": "c8", "name": "apply_patch",
                               "input": "*** Begin Patch", "status": "completed"}),
        output("c8", "Exit code: 2\nOutput:\nbad hunk", "custom_tool_call_output"),
        line("response_item", {"type": "web_search_call", "status": "completed",
                               "action": {"type": "search", "query": "duckdb"}}),
        output("zz", "orphan output"),
    ])
    entries = SOURCE.read(path, 0, None).entries
    results = [(e.tool_name, e.is_error, e.text) for e in entries if e.role == "tool_result"]
    assert results == [
        ("shell", True, "boom"), ("shell", False, "ok"),
        ("exec_command", True, "Chunk ID: 1\nWall time: 0.2 seconds\nProcess exited with code"
                               " 127\nOriginal token count: 3\nOutput:\nnot found"),
        ("exec_command", False, "Exit code: 0\nWall time: 1 seconds\nOutput:\nfine"),
        ("shell", False, "patch rejected: empty patch"),   # unknown: not an error
        ("shell", True, "denied"), ("shell", False, "a\nb"),
        ("apply_patch", True, "Exit code: 2\nOutput:\nbad hunk"),
        (None, False, "orphan output")]
    calls = [(e.tool_name, e.text) for e in entries if e.role == "tool_use"]
    assert calls[0] == ("shell", '{"command":["ls"]}')
    assert calls[-2:] == [("apply_patch", "*** Begin Patch"),
                          ("web_search", '{"type":"search","query":"duckdb"}')]
    assert all(e.has_tool_use for e in entries if e.role == "tool_use")


def test_other_records(tmp_path):
    path = write(tmp_path, [
        meta(),
        line("compacted", {"message": "", "replacement_history": []}),
        line("event_msg", {"type": "context_compacted"}),
        line("event_msg", {"type": "turn_aborted", "reason": "interrupted"}),
        line("event_msg", {"type": "error", "message": "stream disconnected"}),
        line("event_msg", {"type": "task_started", "turn_id": "t"}),
        line("event_msg", {"type": "brand_new_event"}),
        line("response_item", {"type": "brand_new_item"}),
        line("response_item", {"type": ["not", "a", "string"]}),
        line("event_msg", {"type": {"x": 1}}),
        line("brand_new_line", {}),
        {"timestamp": "x", "type": "event_msg", "payload": "not an object"},
        line("event_msg", {"type": "user_message"}),
        '{"timestamp": "2026-03-01T10:00:00Z", "type": "event_msg", "payl',
        "\udcff garbage",
    ])
    result = SOURCE.read(path, 0, None)
    assert [(e.role, e.text, e.is_error) for e in result.entries] == [
        ("system", "Context compacted", False),
        ("system", "Turn aborted: interrupted", False),
        ("system", "stream disconnected", True)]
    assert result.skipped == {"bookkeeping": 3, "unknown_event": 2, "unknown_item": 2,
                              "unknown_type": 1, "missing_fields": 2, "malformed": 2}


def test_pre_envelope_rollout(tmp_path):
    # Early-2025 rollouts: a bare header line, then bare response items and no events.
    path = write(tmp_path, [
        {"id": SID, "timestamp": "2025-04-01T10:00:00.000Z", "instructions": None},
        {"record_type": "state"},
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "<environment_context>cwd</environment_context>"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "hmm"}]},
        {"type": "message", "role": "assistant", "content": [
            {"type": "output_text", "text": "hello"}]},
        {"type": "function_call", "name": "shell", "arguments": "{}", "call_id": "c"},
        {"type": "function_call_output", "call_id": "c", "output": "Exit code: 1\nOutput:\n"},
    ], name="rollout-2025-04-01T10-00-00-x.jsonl")
    entries = SOURCE.read(path, 0, None).entries
    assert [(e.role, e.text) for e in entries] == [
        ("system", "<environment_context>cwd</environment_context>"), ("user", "hi"),
        ("assistant", None), ("assistant", "hello"), ("tool_use", "{}"),
        ("tool_result", "Exit code: 1\nOutput:\n")]
    assert entries[2].thinking_len == 3 and entries[-1].is_error
    assert {e.session_id for e in entries} == {SID}


def test_session_from_file_name_and_partial_line(tmp_path):
    path = write(tmp_path, [line("event_msg", {"type": "user_message", "message": "a"})])
    first = SOURCE.read(path, 0, None)
    assert first.entries[0].session_id == SID and first.entries[0].uuid == f"{SID}:0"
    size = path.stat().st_size
    with open(path, "a") as fh:
        fh.write('{"timestamp": "2026-03-01T10:00:00Z", "type": "event_msg"')
    again = SOURCE.read(path, first.offset, first.state)
    assert again.entries == [] and again.offset == size
    empty = write(tmp_path, [], name="rollout-empty.jsonl")
    assert SOURCE.read(empty, 0, None).entries == []


def test_roots_matches_and_discover(home, tmp_path):
    # Archived sessions move to the flat ~/.codex/archived_sessions: still sessions.
    assert SOURCE.roots(home, {}) == [home / ".codex" / "sessions",
                                      home / ".codex" / "archived_sessions"]
    assert SOURCE.roots(home, {"CODEX_HOME": "/opt/codex"}) == [
        Path("/opt/codex/sessions"), Path("/opt/codex/archived_sessions")]
    root, archive = SOURCE.roots(home, {})
    files = [root / "2026" / "02" / "23" / f"rollout-2026-02-23T12-40-23-{SID}.jsonl",
             root / "2025" / "09" / "19" / "rollout-2025-09-19T09-02-12-x.jsonl"]
    archived = [archive / f"rollout-2026-01-02T10-00-00-{SID}.jsonl"]
    others = [root / "2026" / "02" / "23" / "notes.jsonl", home / ".codex" / "history.jsonl"]
    for path in files + archived + others:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    assert list(SOURCE.discover(root)) == sorted(files)
    assert list(SOURCE.discover(archive)) == archived
    assert all(SOURCE.matches(p) for p in archived)
    assert all(SOURCE.matches(p) for p in files)
    assert not any(SOURCE.matches(p) for p in others)
    assert list(SOURCE.discover(tmp_path / "missing")) == []


def test_forked_rollout_counts_the_parent_history_once(tmp_path):
    # Codex forks a session by writing a new rollout: its own session_meta (with
    # forked_from_id), then the parent's lines replayed as they were (the parent's
    # session_meta and token_count events too), then its own turns, whose cumulative
    # totals continue from the parent's last one.
    fork_id = "019c0000-9999-7222-8333-444444444444"
    history = [
        meta(),
        line("event_msg", {"type": "user_message", "message": "first"}),
        count(total=(100, 40, 10, 4)),
        count(total=(100, 40, 10, 4)),
        line("event_msg", {"type": "user_message", "message": "second"}),
        count(total=(300, 140, 30, 9)),
    ]
    parent = write(tmp_path, history + [
        line("event_msg", {"type": "user_message", "message": "parent goes on"}),
        count(total=(500, 240, 50, 9))])
    fork = write(tmp_path, [
        line("session_meta", {"id": fork_id, "forked_from_id": SID, "cwd": "/repo"}),
        *history,
        line("event_msg", {"type": "user_message", "message": "fork goes on"}),
        count(total=(450, 200, 45, 12)),
    ], name=f"rollout-2026-03-01T12-00-00-{fork_id}.jsonl")
    parent_entries = SOURCE.read(parent, 0, None).entries
    fork_entries = SOURCE.read(fork, 0, None).entries
    assert {e.session_id for e in fork_entries} == {fork_id}
    assert [e.text for e in fork_entries if e.role == "user"] == [
        "first", "second", "fork goes on"]
    tally = UsageTally().extend(parent_entries + fork_entries)
    # the parent's 500/240/50/9, plus what the fork added after the replay: 150/60/15/3
    assert tally.totals() == {"input_tokens": 260 + 90, "cache_read_tokens": 240 + 60,
                              "output_tokens": 50 + 15, "reasoning_tokens": 9 + 3,
                              "cache_write_tokens": 0}
    assert tally.responses == 4
