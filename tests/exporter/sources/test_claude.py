"""Claude Code parser: every real sample, incremental reads, and the format's edge cases."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from thinkt.exporter.entry import TOOL_INPUT_LIMIT, utf8_len
from thinkt.exporter.sources import get
from thinkt.exporter.report.tally import UsageTally

SOURCE = get("claude")

# Facts established by reading each sample with jq, independently of the parser:
# entries per role under the documented mapping, entries per session id,
# token totals with each message.id counted once at its largest output_tokens, and so
# on. Two entireio files end without a newline: their last line is not read (facts
# below are for the complete lines; test_unterminated_last_line covers the rest).
SUBAGENTS = "marot-spotter__4d5611e5-241a-462a-8d15-5122611a9569__subagents__"
FACTS = {
    "Mai0313-VibeCodingTracker__claude_code.jsonl": dict(
        roles={"tool_result": 31, "tool_use": 30, "assistant": 11, "user": 10, "system": 2},
        sessions={"b162b1ae-97bc-475f-9b5f-ffbf55ca5b3f": 36,
                  "e9f146fa-3b20-48d0-9be4-d99ca901cae4": 48},
        tokens=(158, 3860, 1093509, 99004), responses=31,
        models={"claude-sonnet-4-20250514"}, project="/home/wei/repo/claude-code",
        branches={"main"}, agents=set(), tool_errors=2, thinking=(5, 1185),
        tools={"TodoWrite": 14, "mcp__context7__resolve-library-id": 4, "Edit": 3,
               "Write": 3, "Read": 2, "Bash": 1, "Grep": 1, "WebSearch": 1,
               "mcp__context7__get-library-docs": 1}),
    "entireio-cli__checkpoints-8e-ce5fc12e98-0__full.jsonl": dict(
        roles={"assistant": 15, "tool_use": 7, "tool_result": 7, "user": 2},
        sessions={"cc432c40-914a-4c1a-a972-0103199a736a": 31},
        tokens=(68, 30, 356227, 17620), responses=8,
        models={"claude-opus-4-5-20251101"},
        project="/Users/gtrrz-victor/wks/gtrrz-victor/improve-status-cmd-output",
        branches={"gtrrz-victor/detach-posthog-emit-event"}, agents=set(), tool_errors=0,
        thinking=(8, 2635), tools={"Read": 3, "Bash": 2, "Edit": 2}),
    "entireio-cli__checkpoints-ca-fca7ea73ac-0__full.jsonl": dict(
        roles={"assistant": 30, "tool_use": 23, "tool_result": 23, "system": 2, "user": 1},
        sessions={"d1423492-e4f5-4a86-a997-1f1c8d09a940": 79},
        tokens=(164, 3359, 2038052, 199247), responses=20,
        models={"claude-opus-4-5-20251101"}, project="/Users/soph/Work/entire/devenv/cli",
        # "main" appears only on the stop_hook_summary / turn_duration records
        branches={"soph/add-agent-type"}, agents=set(), tool_errors=0,
        thinking=(20, 4439), tools={"Read": 10, "Edit": 5, "Grep": 5, "Bash": 3}),
    SUBAGENTS + "agent-a2898e3.jsonl": dict(
        roles={"tool_use": 33, "tool_result": 33, "assistant": 7, "user": 1},
        sessions={"4d5611e5-241a-462a-8d15-5122611a9569": 74},
        tokens=(53, 136, 604156, 71257), responses=12,
        models={"claude-sonnet-4-5-20250929"},
        project="/home/USER/projects/spotter-worktrees/spotter-dov",
        branches={"spotter-dov"}, agents={"a2898e3"}, tool_errors=8, thinking=(0, 0),
        tools={"Read": 16, "Glob": 10, "Bash": 5, "Grep": 2}),
    SUBAGENTS + "agent-acompact-e1f845.jsonl": dict(
        roles={"system": 3, "user": 1, "assistant": 1},
        sessions={"4d5611e5-241a-462a-8d15-5122611a9569": 5},
        tokens=(3, 8, 164830, 8681), responses=1, models={"claude-opus-4-6"},
        project="/home/USER/projects/spotter-worktrees/spotter-dov",
        branches={"spotter-dov"}, agents={"acompact-e1f845"}, tool_errors=0,
        thinking=(0, 0), tools={}),
    "marot-spotter__short.jsonl": dict(
        roles={"assistant": 3, "user": 2, "tool_use": 2, "tool_result": 2, "system": 2},
        sessions={"55604662-cf2a-4331-851a-ec234028f8ca": 11},
        tokens=(3, 13, 11515, 13835), responses=1, models={"claude-opus-4-6"},
        project="/home/marco/projects/spotter", branches={"master"}, agents=set(),
        tool_errors=2, thinking=(1, 154), tools={"Bash": 1, "Glob": 1}),
    "marot-spotter__subagent.jsonl": dict(
        roles={"tool_use": 16, "tool_result": 16, "assistant": 12, "user": 3, "system": 1},
        sessions={"491e126e-1e71-469c-ade2-fcc8af567c74": 48},
        tokens=(1576, 1586, 427286, 25842), responses=12, models={"claude-opus-4-6"},
        project="/home/marco/projects/spotter", branches={"master"}, agents=set(),
        tool_errors=0, thinking=(4, 662),
        tools={"WebSearch": 5, "Bash": 4, "AskUserQuestion": 1, "ExitPlanMode": 1,
               "Glob": 1, "Read": 1, "Task": 1, "WebFetch": 1, "Write": 1}),
    "marot-spotter__tool_heavy.jsonl": dict(
        roles={"user": 6, "tool_use": 6, "tool_result": 6, "assistant": 3, "system": 3},
        sessions={"d6e0bada-1959-4eec-a9d2-0bfade768d8f": 24},
        tokens=(54, 212, 88231, 17696), responses=4, models={"claude-opus-4-6"},
        project="/home/marco/projects/spotter", branches={"master"}, agents=set(),
        tool_errors=0, thinking=(1, 155),
        tools={"Bash": 2, "Glob": 1, "Read": 1, "WebFetch": 1, "WebSearch": 1}),
}


def sample_files(samples: Path) -> list[Path]:
    return sorted((samples / "claude").glob("*.jsonl"))


def test_every_sample_has_facts(samples):
    assert {p.name for p in sample_files(samples)} == set(FACTS)


@pytest.mark.parametrize("name", sorted(FACTS))
def test_sample_facts(samples, name):
    facts = FACTS[name]
    result = SOURCE.read(samples / "claude" / name, 0, None)
    entries = result.entries

    assert dict(Counter(e.role for e in entries)) == facts["roles"]
    assert dict(Counter(e.session_id for e in entries)) == facts["sessions"]
    totals = UsageTally().extend(entries)
    t = totals.totals()
    assert (t["input_tokens"], t["output_tokens"], t["cache_read_tokens"],
            t["cache_write_tokens"]) == facts["tokens"]
    assert t["reasoning_tokens"] == 0
    assert totals.responses == facts["responses"]
    assert {e.model for e in entries if e.model} == facts["models"]
    assert {e.project_path for e in entries} == {facts["project"]}
    assert {e.git_branch for e in entries if e.git_branch} == facts["branches"]
    assert {e.agent_id for e in entries if e.agent_id} == facts["agents"]
    assert sum(e.is_error for e in entries if e.role == "tool_result") == facts["tool_errors"]
    thinking = [e for e in entries if e.has_thinking]
    assert (len(thinking), sum(e.thinking_len for e in thinking)) == facts["thinking"]
    tool_uses = [e for e in entries if e.role == "tool_use"]
    assert dict(Counter(e.tool_name for e in tool_uses)) == facts["tools"]
    assert all(e.has_tool_use for e in tool_uses)
    assert not any(e.has_tool_use for e in entries if e.role != "tool_use")
    # Every entry of an API response carries its id; nothing else has usage.
    assert all(e.message_id for e in entries if e.role in ("assistant", "tool_use"))
    assert not any(e.has_usage for e in entries if e.role not in ("assistant", "tool_use"))
    assert "malformed" not in result.skipped and "unknown_type" not in result.skipped


@pytest.mark.parametrize("name", sorted(FACTS))
def test_sample_ids_times_and_no_thinking_text(samples, name):
    path = samples / "claude" / name
    entries = SOURCE.read(path, 0, None).entries
    keys = [(e.session_id, e.uuid) for e in entries]
    assert len(keys) == len(set(keys))
    assert [e.uuid for e in SOURCE.read(path, 0, None).entries] == [e.uuid for e in entries]
    assert all(e.timestamp and e.timestamp.endswith("Z") for e in entries)
    # The thinking text of the file appears in no entry.
    thoughts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        content = (record.get("message") or {}).get("content")
        if isinstance(content, list):
            thoughts += [b["thinking"] for b in content
                         if b.get("type") == "thinking" and len(b.get("thinking", "")) > 20]
    texts = [e.text for e in entries if e.text]
    assert not any(t in text for t in thoughts for text in texts)


@pytest.mark.parametrize("name", sorted(FACTS))
def test_incremental_reads_equal_one_read(samples, reads, name):
    reads.assert_same_as_whole(SOURCE, samples / "claude" / name)


def test_unterminated_last_line(samples, reads):
    # The ca file's final line has no newline: not read until it ends. It is the second
    # line of response msg_013K8kmf... (output_tokens 1 on the first line, 295 here).
    name = "entireio-cli__checkpoints-ca-fca7ea73ac-0__full.jsonl"
    data = (samples / "claude" / name).read_bytes()
    assert not data.endswith(b"\n")
    first = SOURCE.read(samples / "claude" / name, 0, None)
    assert first.offset == data.rfind(b"\n") + 1
    entries, _, offset, _ = reads.growing(SOURCE, data + b"\n", [len(data)], name)
    assert offset == len(data) + 1
    assert Counter(e.role for e in entries)["assistant"] == 31
    assert entries[:len(first.entries)] == first.entries
    totals = UsageTally().extend(entries).totals()
    assert totals["output_tokens"] == 3653
    assert totals["cache_read_tokens"] == 2038052


# --- synthetic records for variants the samples lack ---------------------------------

SID = "11111111-2222-3333-4444-555555555555"


def rec(kind: str, uuid: str, **fields) -> dict:
    record = {"type": kind, "uuid": uuid, "sessionId": SID, "cwd": "/work/p",
              "timestamp": "2026-01-02T03:04:05.678Z", "parentUuid": None}
    record.update(fields)
    return record


def usage(out: int, inp: int = 5, read: int = 100, write: int = 20) -> dict:
    return {"input_tokens": inp, "output_tokens": out, "cache_read_input_tokens": read,
            "cache_creation_input_tokens": write}


def write(tmp_path: Path, records: list, name: str = f"{SID}.jsonl") -> Path:
    path = tmp_path / "projects" / "-work-p" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [r if isinstance(r, (str, bytes)) else json.dumps(r) for r in records]
    path.write_bytes(b"".join((l if isinstance(l, bytes) else l.encode()) + b"\n"
                              for l in lines))
    return path


def test_blocks_of_one_line_become_entries_with_distinct_ids(tmp_path):
    content = [{"type": "thinking", "thinking": "héllo", "signature": "x"},
               {"type": "text", "text": "Let me look."},
               {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"path": "/a"}},
               {"type": "tool_use", "id": "toolu_2", "name": "Grep", "input": {"q": "b"}}]
    path = write(tmp_path, [
        rec("assistant", "u1", requestId="req_1", message={
            "id": "msg_1", "model": "claude-opus-4-6", "role": "assistant",
            "content": content, "usage": usage(7)}),
        rec("user", "u2", message={"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_2", "content": "no match",
             "is_error": True},
            {"type": "tool_result", "tool_use_id": "toolu_1",
             "content": [{"type": "text", "text": "line1"}, {"type": "text", "text": "line2"}]},
        ]}),
    ])
    entries = SOURCE.read(path, 0, None).entries
    assert [(e.uuid, e.role) for e in entries] == [
        ("u1", "assistant"), ("u1#1", "tool_use"), ("u1#2", "tool_use"),
        ("u2", "tool_result"), ("u2#1", "tool_result")]
    reply = entries[0]
    assert reply.text == "Let me look." and reply.has_thinking and reply.thinking_len == 6
    assert [e.tool_name for e in entries[1:]] == ["Read", "Grep", "Grep", "Read"]
    assert entries[1].text == '{"path":"/a"}'
    assert [e.is_error for e in entries[3:]] == [True, False]
    assert entries[4].text == "line1\nline2"
    assert {e.message_id for e in entries[:3]} == {"msg_1"}
    assert UsageTally().extend(entries).totals()["output_tokens"] == 7  # once, not thrice


def test_split_message_counts_once_with_largest_output(tmp_path):
    common = dict(requestId="req_9")
    path = write(tmp_path, [
        rec("assistant", "a1", message={"id": "msg_9", "model": "m", "content": [
            {"type": "thinking", "thinking": "t"}], "usage": usage(3)}, **common),
        rec("assistant", "a2", message={"id": "msg_9", "model": "m", "content": [
            {"type": "text", "text": "answer"}], "usage": usage(3)}, **common),
        rec("assistant", "a3", message={"id": "msg_9", "model": "m", "content": [
            {"type": "tool_use", "id": "t", "name": "Bash", "input": {}}],
            "usage": usage(412)}, **common),
    ])
    entries = SOURCE.read(path, 0, None).entries
    assert [e.output_tokens for e in entries] == [3, 3, 412]
    tally = UsageTally().extend(entries)
    assert tally.responses == 1
    assert tally.totals() == {"input_tokens": 5, "output_tokens": 412, "cache_read_tokens": 100,
                              "cache_write_tokens": 20, "reasoning_tokens": 0}


def test_usage_without_ids_counts_once_per_line(tmp_path):
    path = write(tmp_path, [rec("assistant", "a1", message={"model": "m", "content": [
        {"type": "text", "text": "x"},
        {"type": "tool_use", "id": "t", "name": "Bash", "input": {"c": 1}}],
        "usage": usage(10)})])
    entries = SOURCE.read(path, 0, None).entries
    assert {e.message_id for e in entries} == {"a1"}
    assert UsageTally().extend(entries).totals()["output_tokens"] == 10


def test_api_error_and_injected_records(tmp_path):
    path = write(tmp_path, [
        rec("assistant", "e1", isApiErrorMessage=True, error="unknown", message={
            "id": "x", "model": "<synthetic>", "content": [
                {"type": "text", "text": "API Error: 529 overloaded"}],
            "usage": usage(0, 0, 0, 0)}),
        rec("user", "m1", isMeta=True, message={"role": "user", "content": "<system-reminder>"}),
        rec("user", "c1", isCompactSummary=True, message={"role": "user", "content": [
            {"type": "text", "text": "This session is being continued"}]}),
        rec("user", "h1", message={"role": "user", "content": "<command-name>/mcp</command-name>"}),
        rec("user", "i1", message={"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "data": "AAAA"}}]}),
        rec("user", "i2", message={"role": "user", "content": []}),
        rec("system", "s1", subtype="compact_boundary", content="Conversation compacted",
            compactMetadata={"trigger": "auto", "preTokens": 1}),
        rec("system", "s2", subtype="stop_hook_summary", content=None),
        rec("system", "s3", subtype="turn_duration", durationMs=5),
        rec("system", "s4", subtype="something_new"),
        rec("system", "s5", subtype="api_error", level="error", content="Retrying"),
    ])
    result = SOURCE.read(path, 0, None)
    got = [(e.uuid, e.role, e.is_error, e.model) for e in result.entries]
    assert got == [("e1", "assistant", True, "<synthetic>"), ("m1", "system", False, None),
                   ("c1", "system", False, None), ("h1", "user", False, None),
                   ("i1", "user", False, None),
                   ("s1", "system", False, None), ("s5", "system", True, None)]
    assert not result.entries[0].has_usage
    assert result.entries[4].text is None  # an image-only prompt: a turn without text
    assert result.skipped == {"bookkeeping": 2, "unknown_subtype": 1, "empty": 1}


def test_bookkeeping_unknown_and_broken_lines(tmp_path):
    path = write(tmp_path, [
        {"type": "file-history-snapshot", "messageId": "m", "snapshot": {}},
        {"type": "progress", "uuid": "p", "data": {"type": "hook_progress"}},
        {"type": "queue-operation", "operation": "enqueue", "content": "hi", "sessionId": SID},
        {"type": "last-prompt", "lastPrompt": "hi", "leafUuid": "x", "sessionId": SID},
        {"type": "summary", "summary": "Title", "leafUuid": "x"},
        {"type": "brand-new-type", "uuid": "n"},
        {"type": {"not": "a string"}, "uuid": "n2"},
        rec("system", "s9", subtype=["odd"]),
        '{"type": "user", "uuid": "trunc',
        "garbage \x00 not json",
        "[1, 2, 3]",
        rec("user", "nomsg"),
        rec("user", "ok", message={"role": "user", "content": "caf\udce9"},
            extra_field={"unknown": True}),
        b'{"type":"user","uuid":"latin1","sessionId":"' + SID.encode() +
        b'","message":{"content":"caf\xe9"},"timestamp":"2026-01-01T00:00:00Z"}',
    ])
    result = SOURCE.read(path, 0, None)
    assert [(e.uuid, e.text) for e in result.entries] == [("ok", "caf\udce9"),
                                                         ("latin1", "caf\ufffd")]
    assert result.skipped == {"bookkeeping": 5, "unknown_type": 2, "malformed": 3,
                              "missing_fields": 1, "unknown_subtype": 1}
    assert result.offset == path.stat().st_size


def test_partial_last_line_is_left_for_later(tmp_path):
    path = write(tmp_path, [rec("user", "u1", message={"content": "one"})])
    size = path.stat().st_size
    tail = json.dumps(rec("user", "u2", message={"content": "two"})).encode()
    with open(path, "ab") as fh:
        fh.write(tail[:30])
    first = SOURCE.read(path, 0, None)
    assert [e.uuid for e in first.entries] == ["u1"] and first.offset == size
    assert SOURCE.read(path, first.offset, first.state).entries == []
    with open(path, "ab") as fh:
        fh.write(tail[30:] + b"\n")
    second = SOURCE.read(path, first.offset, first.state)
    assert [e.uuid for e in second.entries] == ["u2"]


def test_empty_file(tmp_path):
    path = write(tmp_path, [])
    result = SOURCE.read(path, 0, None)
    assert (result.entries, result.offset, result.skipped) == ([], 0, {})


def test_text_limits_and_odd_strings(tmp_path):
    prompt = "word " * 40000  # 200 kB prompt: user text is never cut
    path = write(tmp_path, [
        rec("user", "u1", message={"content": prompt}),
        rec("assistant", "a1", message={"id": "m", "model": "m", "content": [
            {"type": "thinking", "thinking": "\ud800 lone surrogate"},
            {"type": "tool_use", "id": "t", "name": "Write",
             "input": {"content": "é" * 10000}}]}),
    ])
    entries = SOURCE.read(path, 0, None).entries
    assert entries[0].text == prompt
    assert entries[1].thinking_len == utf8_len("\ud800 lone surrogate") == 18
    assert utf8_len(entries[2].text) <= TOOL_INPUT_LIMIT
    assert entries[2].text.startswith('{"content":"ééé') and "truncated" in entries[2].text


def test_session_and_project_fallbacks(tmp_path):
    # No sessionId on the first record: the file name is the session. A later record
    # switching session (a continued session) moves the following entries with it; the
    # project stays where the file started.
    path = write(tmp_path, [
        {"type": "user", "uuid": "x1", "message": {"content": "a"}, "cwd": "/start"},
        {"type": "user", "uuid": "x2", "sessionId": "other", "message": {"content": "b"},
         "cwd": "/start/sub"},
        {"type": "user", "message": {"content": "no uuid"}},
    ])
    entries = SOURCE.read(path, 0, None).entries
    assert [e.session_id for e in entries] == [SID, "other", "other"]
    assert [e.project_path for e in entries] == ["/start"] * 3
    assert [e.cwd for e in entries] == ["/start", "/start/sub", None]
    offset = path.read_bytes().rfind(b"\n", 0, path.stat().st_size - 1) + 1
    assert entries[2].uuid == f"{SID}:{offset}"
    sub = write(tmp_path, [{"type": "user", "uuid": "y", "message": {"content": "c"}}],
                name=f"{SID}/subagents/agent-abc.jsonl")
    assert SOURCE.read(sub, 0, None).entries[0].session_id == SID


def test_roots_matches_and_discover(home, tmp_path):
    assert SOURCE.roots(home, {}) == [home / ".claude" / "projects",
                                      home / ".config" / "claude" / "projects"]
    assert SOURCE.roots(home, {"CLAUDE_CONFIG_DIR": " /a , /b/ ,"}) == [
        Path("/a/projects"), Path("/b/projects")]
    root = home / ".claude" / "projects"
    main = root / "-home-u-p" / f"{SID}.jsonl"
    agent = root / "-home-u-p" / SID / "subagents" / "agent-a1.jsonl"
    old_agent = root / "-home-u-p" / "agent-b2.jsonl"
    others = [root / "-home-u-p" / SID / "tool-results" / "x.txt",
              root / "-home-u-p" / "notes.txt",
              home / ".qwen" / "projects" / "-p" / "chats" / "s.jsonl"]
    for path in [main, agent, old_agent, *others]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    assert list(SOURCE.discover(root)) == sorted([main, agent, old_agent])
    assert all(SOURCE.matches(p) for p in (main, agent, old_agent))
    assert not any(SOURCE.matches(p) for p in others)
    assert list(SOURCE.discover(tmp_path / "missing")) == []
