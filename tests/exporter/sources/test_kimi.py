"""Kimi parser: real Kimi Code journals laid out as on disk; synthetic classic kimi-cli files."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from thinkt.exporter.sources import get
from thinkt.exporter.report.tally import UsageTally

from .conftest import line_ends, spread

SOURCE = get("kimi")
TOOLS_SESSION = "1bcbe023-4f7e-4971-9dc9-43b8756045b0"
SMALL_SESSION = "9eb1bf57-c1af-48a5-b658-0e8d9fe794f5"
PROJECT = "/private/tmp/as-agent-lab/kimi/project"  # workDir of both state.json files
CODE = ".kimi-code/sessions/wd_project_ac3bb318f98e"
MAIN = f"{CODE}/session_{TOOLS_SESSION}/agents/main/wire.jsonl"
AGENT = f"{CODE}/session_{TOOLS_SESSION}/agents/agent-0/wire.jsonl"
SMALL = f"{CODE}/session_{SMALL_SESSION}/agents/main/wire.jsonl"
LAYOUT = {  # where each real sample lives in a Kimi Code home
    MAIN: "jazzyalex-agent-sessions__assistant_tools@8215d299.jsonl",
    AGENT: "jazzyalex-agent-sessions__subagent_agent-0@8215d299.jsonl",
    f"{CODE}/session_{TOOLS_SESSION}/state.json":
        "jazzyalex-agent-sessions__assistant_tools.state@8215d299.json",
    SMALL: "jazzyalex-agent-sessions__small@47a50106.jsonl",
    f"{CODE}/session_{SMALL_SESSION}/state.json": "jazzyalex-agent-sessions__state@47a50106.json",
}

# Facts established with python over each journal, independently of the parser:
# context.append_message by origin.kind, step.end count (no step with content lacks one),
# usage = step.end usage + usage.record of scope other than "turn" (1, the compaction),
# tool.call names, tool.result isError, think parts (steps, UTF-8 bytes).
FACTS = {
    MAIN: dict(
        roles={"user": 8, "system": 7, "assistant": 22, "tool_use": 19, "tool_result": 19},
        tokens=(30174, 5515, 661504, 0), responses=23, errors=1, thinking=(22, 3329),
        tools={"Bash": 8, "Glob": 4, "Read": 2, "Grep": 2, "Agent": 1, "Write": 1,
               "ExitPlanMode": 1}, agents={None}, bookkeeping=74),
    AGENT: dict(
        roles={"system": 1, "assistant": 3, "tool_use": 2, "tool_result": 2},
        tokens=(12905, 330, 28416, 0), responses=3, errors=0, thinking=(3, 485),
        tools={"Glob": 1, "Bash": 1}, agents={"agent-0"}, bookkeeping=13),
    SMALL: dict(
        roles={"user": 3}, tokens=(0, 0, 0, 0), responses=0, errors=0, thinking=(0, 0),
        tools={}, agents={None}, bookkeeping=24),
}


@pytest.fixture
def kimi_home(samples, home) -> Path:
    """A home holding the real Kimi Code samples where Kimi Code writes them."""
    for target, name in LAYOUT.items():
        (home / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(samples / "kimi" / name, home / target)
    return home


def test_every_sample_is_laid_out(samples):
    assert {p.name for p in (samples / "kimi").iterdir()} == set(LAYOUT.values())


def test_discovery(kimi_home):
    roots = SOURCE.roots(kimi_home, {})
    assert roots == [kimi_home / ".kimi-code" / "sessions", kimi_home / ".kimi" / "sessions"]
    found = [p for root in roots for p in SOURCE.discover(root)]
    assert found == sorted(kimi_home / p for p in (MAIN, AGENT, SMALL))
    assert SOURCE.roots(kimi_home, {"KIMI_SHARE_DIR": "/opt/kimi"})[1] == Path(
        "/opt/kimi/sessions")


@pytest.mark.parametrize("journal", sorted(FACTS))
def test_sample_facts(kimi_home, journal):
    facts = FACTS[journal]
    result = SOURCE.read(kimi_home / journal, 0, None)
    entries = result.entries
    assert dict(Counter(e.role for e in entries)) == facts["roles"]
    session = SMALL_SESSION if journal == SMALL else TOOLS_SESSION
    assert {e.session_id for e in entries} == {session}
    assert {e.project_path for e in entries} == {PROJECT}
    tally = UsageTally().extend(entries)
    t = tally.totals()
    assert (t["input_tokens"], t["output_tokens"], t["cache_read_tokens"],
            t["cache_write_tokens"]) == facts["tokens"]
    assert tally.responses == facts["responses"]
    assert {e.model for e in entries if e.role == "assistant"} <= {"kimi-k2.7-code"}
    uses = [e for e in entries if e.role == "tool_use"]
    assert dict(Counter(e.tool_name for e in uses)) == facts["tools"]
    results = [e for e in entries if e.role == "tool_result"]
    assert sum(e.is_error for e in results) == facts["errors"]
    assert {e.parent_uuid for e in results} == {e.uuid for e in uses}
    thinking = [e for e in entries if e.has_thinking]
    assert (len(thinking), sum(e.thinking_len for e in thinking)) == facts["thinking"]
    assert {e.agent_id for e in entries} == facts["agents"]
    assert result.skipped == {"bookkeeping": facts["bookkeeping"]}
    assert len({e.uuid for e in entries}) == len(entries)
    assert all(e.timestamp and e.timestamp.endswith("Z") for e in entries)
    assert result.state.get("step") is None  # every step ended or was closed


def test_main_journal_details(kimi_home):
    entries = SOURCE.read(kimi_home / MAIN, 0, None).entries
    by_uuid = {e.uuid: e for e in entries}
    failed = by_uuid["Bash_2:result"]
    assert failed.is_error and failed.text.startswith("cat: /nonexistent-file-xyz")
    # one step: think + text parts and the step.end usage, in one entry
    step = by_uuid["d7919226-2434-41e4-bbb6-ad071011e5f9"]
    assert (step.text, step.input_tokens, step.output_tokens, step.cache_read_tokens,
            step.timestamp) == ("Hi there! How can I help you today?", 9431, 42, 14848,
                                "2026-08-01T19:49:56.907Z")  # step.begin time 1785613796907 ms
    assert step.thinking_len == len(
        "The user has sent three \"hi\" messages. This is a simple greeting. I should respond"
        " concisely and ask how I can help them.")
    call = by_uuid["Bash_0"]
    assert (call.message_id, call.parent_uuid) == (
        "67cebc54-b3ef-42c6-8df8-f1b65ae524fa", "67cebc54-b3ef-42c6-8df8-f1b65ae524fa")
    compaction = [e for e in entries if e.role == "system" and e.has_usage]
    assert [(e.input_tokens, e.output_tokens, e.cache_read_tokens) for e in compaction] == [
        (1411, 937, 40960)]
    summary = [e for e in entries if e.role == "system" and (e.text or "").startswith("I am")]
    assert len(summary) == 1


def test_subagent_uuids_do_not_collide_with_main(kimi_home):
    main = {e.uuid for e in SOURCE.read(kimi_home / MAIN, 0, None).entries}
    agent = SOURCE.read(kimi_home / AGENT, 0, None).entries
    assert "Bash_1" in main and "agent-0/Bash_1" in {e.uuid for e in agent}
    assert not main & {e.uuid for e in agent}


@pytest.mark.parametrize("journal", sorted(FACTS))
def test_read_as_it_grows(kimi_home, reads, journal):
    """Same entries whether read whole or as it grows, cut at lines or mid-line.

    (The shared ``assert_same_as_whole`` writes the growing copy under the file's bare
    name; a Kimi journal needs its ``session_*/agents/<agent>/`` path, so cuts go here.)
    """
    path = kimi_home / journal
    whole = SOURCE.read(path, 0, None)
    data = path.read_bytes()
    ends = line_ends(data)
    cut_sets = [[c] for c in spread(ends, 6)] + [spread(ends, 30), [len(data) // 3 + 7]]
    for number, cuts in enumerate(cut_sets):
        copy = reads.directory / str(number) / journal
        state_json = copy.parent.parent.parent / "state.json"
        state_json.parent.mkdir(parents=True)
        shutil.copy(path.parent.parent.parent / "state.json", state_json)
        entries, skipped, offset, state = reads.growing(
            SOURCE, data, cuts, str(copy.relative_to(reads.directory)))
        assert entries == whole.entries, cuts
        assert (skipped, offset) == (whole.skipped, whole.offset)
        assert len(json.dumps(state)) < 4096


# --- classic kimi-cli (no real sample exists: shapes from kimi-cli's source) -------------

WORK_DIR = "/home/dev/proj"
CLASSIC_WIRE = [
    {"type": "metadata", "protocol_version": "1.3"},
    {"timestamp": 1735000000.5, "message": {"type": "TurnBegin",
                                            "payload": {"user_input": "list files"}}},
    {"timestamp": 1735000001.0, "message": {"type": "StepBegin", "payload": {"n": 1}}},
    {"timestamp": 1735000001.2, "message": {"type": "ContentPart", "payload": {
        "type": "think", "think": "I should run ls", "encrypted": None}}},
    {"timestamp": 1735000001.3, "message": {"type": "ContentPart", "payload": {
        "type": "text", "text": "Let me look."}}},
    {"timestamp": 1735000001.4, "message": {"type": "ToolCall", "payload": {
        "type": "function", "id": "call_1",
        "function": {"name": "Shell", "arguments": "{\"command\":"}}}},
    {"timestamp": 1735000001.5, "message": {"type": "ToolCallPart", "payload": {
        "arguments_part": " \"ls\"}"}}},
    {"timestamp": 1735000001.6, "message": {"type": "StatusUpdate", "payload": {
        "context_usage": 0.1, "message_id": "chatcmpl-1", "token_usage": {
            "input_other": 1200, "output": 40, "input_cache_read": 800,
            "input_cache_creation": 16}}}},
    {"timestamp": 1735000002.0, "message": {"type": "ToolResult", "payload": {
        "tool_call_id": "call_1", "return_value": {
            "is_error": False, "output": "a.txt\nb.txt\n", "message": "", "display": []}}}},
    {"timestamp": 1735000002.1, "message": {"type": "StepBegin", "payload": {"n": 2}}},
    {"timestamp": 1735000002.5, "message": {"type": "ContentPart", "payload": {
        "type": "text", "text": "Two files."}}},
    {"timestamp": 1735000002.6, "message": {"type": "StatusUpdate", "payload": {
        "message_id": "chatcmpl-2", "token_usage": {
            "input_other": 50, "output": 5, "input_cache_read": 2000,
            "input_cache_creation": 0}}}},
    {"timestamp": 1735000002.7, "message": {"type": "TurnEnd", "payload": {}}},
    {"timestamp": 1735000003.0, "message": {"type": "TurnBegin", "payload": {
        "user_input": [{"type": "text", "text": "cat missing"}]}}},
    {"timestamp": 1735000003.1, "message": {"type": "StepBegin", "payload": {"n": 1}}},
    {"timestamp": 1735000003.2, "message": {"type": "ToolCall", "payload": {
        "type": "function", "id": "call_2",
        "function": {"name": "Shell", "arguments": "{\"command\": \"cat missing\"}"}}}},
    {"timestamp": 1735000003.3, "message": {"type": "ToolResult", "payload": {
        "tool_call_id": "call_2", "return_value": {
            "is_error": True, "output": "", "message": "No such file", "display": []}}}},
    {"timestamp": 1735000003.4, "message": {"type": "StepInterrupted", "payload": {}}},
    {"timestamp": 1735000003.5, "message": {"type": "ApprovalRequest", "payload": {
        "id": "r1", "tool_call_id": "call_3", "sender": "Shell", "action": "run",
        "description": "rm"}}},
    {"timestamp": 1735000003.6, "message": {"type": "SomethingNew", "payload": {}}},
]


def write_lines(path: Path, records) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(r) + "\n" for r in records).encode()
    path.write_bytes(data)
    return data


@pytest.fixture
def classic_share(home) -> Path:
    share = home / ".kimi"
    share.mkdir()
    (share / "kimi.json").write_text(json.dumps({"work_dirs": [
        {"path": "/elsewhere"}, {"path": WORK_DIR, "last_session_id": "s-1"}]}))
    return share


def classic_dir(share: Path, session: str = "s-1") -> Path:
    return share / "sessions" / hashlib.md5(WORK_DIR.encode()).hexdigest() / session


def test_classic_wire(classic_share):
    path = classic_dir(classic_share) / "wire.jsonl"
    write_lines(path, CLASSIC_WIRE)
    result = SOURCE.read(path, 0, None)
    got = [(e.role, e.tool_name, e.text, e.is_error, e.message_id) for e in result.entries]
    assert got[:7] == [
        ("user", None, "list files", False, None),
        ("tool_result", "Shell", "a.txt\nb.txt\n", False, None),
        ("assistant", None, "Let me look.", False, "chatcmpl-1"),
        ("tool_use", "Shell", '{"command": "ls"}', False, "chatcmpl-1"),
        ("assistant", None, "Two files.", False, "chatcmpl-2"),
        ("user", None, "cat missing", False, None),
        ("tool_result", "Shell", "No such file", True, None)]
    # the interrupted step only called a tool: no assistant entry, the call under a
    # message id made unique by the session (the provider's id never came)
    (role, name, text, error, message_id), = got[7:]
    assert (role, name, text, error) == ("tool_use", "Shell", '{"command": "cat missing"}', False)
    assert message_id.startswith("s-1/main@")
    first_step = result.entries[2]
    assert (first_step.input_tokens, first_step.output_tokens, first_step.cache_read_tokens,
            first_step.cache_write_tokens, first_step.thinking_len, first_step.has_thinking) == (
        1200, 40, 800, 16, len("I should run ls"), True)
    assert result.entries[0].timestamp == "2024-12-24T00:26:40.500Z"
    assert {e.session_id for e in result.entries} == {"s-1"}
    assert {e.project_path for e in result.entries} == {WORK_DIR}
    assert result.skipped == {"bookkeeping": 2, "unknown_type": 1}
    assert UsageTally().extend(result.entries).totals()["cache_read_tokens"] == 2800
    assert len({e.uuid for e in result.entries}) == len(result.entries)


def test_classic_wire_read_as_it_grows(classic_share, reads):
    path = classic_dir(classic_share) / "wire.jsonl"
    data = write_lines(path, CLASSIC_WIRE)
    whole = SOURCE.read(path, 0, None)
    for cuts in [[c] for c in line_ends(data)] + [line_ends(data)]:
        name = f"c{cuts[0]}/sessions/{path.parent.parent.name}/s-1/wire.jsonl"
        entries, skipped, offset, _ = reads.growing(SOURCE, data, cuts, name)
        for e in entries:
            e.project_path = WORK_DIR  # no kimi.json beside the copy
        assert entries == whole.entries, cuts
        assert (skipped, offset) == (whole.skipped, whole.offset)


def test_classic_subagent_journal(classic_share):
    path = classic_dir(classic_share) / "subagents" / "sub-7" / "wire.jsonl"
    write_lines(path, CLASSIC_WIRE[:9])
    entries = SOURCE.read(path, 0, None).entries
    assert {e.agent_id for e in entries} == {"sub-7"}
    assert {e.session_id for e in entries} == {"s-1"}
    assert "sub-7/call_1:result" in {e.uuid for e in entries}
    assert SOURCE.matches(path)


def test_classic_context_only_session(classic_share):
    session = classic_dir(classic_share, "s-2")
    path = session / "context.jsonl"
    records = [
        {"role": "_system_prompt", "content": "You are Kimi"},
        {"role": "user", "content": "hello"},
        {"role": "_checkpoint", "id": 0},
        {"role": "assistant", "content": [{"type": "think", "think": "hmm"},
                                          {"type": "text", "text": "Hi!"}],
         "tool_calls": [{"type": "function", "id": "c1", "function": {
             "name": "ReadFile", "arguments": "{\"path\": \"a\"}"}}]},
        {"role": "tool", "content": "file body", "tool_call_id": "c1"},
        {"role": "_usage", "token_count": 1234},
        {"role": "narrator", "content": "?"},
    ]
    data = write_lines(path, records)
    assert SOURCE.matches(path)
    result = SOURCE.read(path, 0, None)
    assert [(e.role, e.text, e.tool_name, e.thinking_len) for e in result.entries] == [
        ("user", "hello", None, 0), ("assistant", "Hi!", None, 3),
        ("tool_use", '{"path": "a"}', "ReadFile", 0), ("tool_result", "file body", None, 0)]
    assert result.skipped == {"bookkeeping": 3, "unknown_type": 1}
    assert all(e.timestamp is None and e.session_id == "s-2" for e in result.entries)
    # uuids chain record to record: the same whether read whole or line by line
    state, offset, parts = None, 0, []
    for end in line_ends(data):
        path.write_bytes(data[:end])
        step = SOURCE.read(path, offset, state)
        parts += step.entries
        offset, state = step.offset, json.loads(json.dumps(step.state))
    assert [e.uuid for e in parts] == [e.uuid for e in result.entries]
    # once the session keeps a wire.jsonl, the context file is not a session file
    (session / "wire.jsonl").write_text("")
    assert not SOURCE.matches(path)
    assert list(SOURCE.discover(classic_share / "sessions")) == [session / "wire.jsonl"]


def test_kimi_code_home_replaces_the_kimi_code_directory(home, tmp_path):
    # KIMI_CODE_HOME names the directory itself (what ~/.kimi-code is by default).
    custom = tmp_path / "kimi-profile"
    journal = custom / "sessions" / "wd_p_ac3bb318f98e" / "session_x" / "agents" / "main"
    journal.mkdir(parents=True)
    (journal / "wire.jsonl").write_text("")
    roots = SOURCE.roots(home, {"KIMI_CODE_HOME": str(custom)})
    assert roots == [custom / "sessions", home / ".kimi" / "sessions"]
    assert list(SOURCE.discover(roots[0])) == [journal / "wire.jsonl"]


def test_classic_flat_context_file(classic_share):
    # Early kimi-cli kept a session's context as sessions/<md5>/<session>.jsonl; later
    # versions move it to <session>/context.jsonl when they open the session.
    flat = classic_dir(classic_share, "s-3").parent / "s-3.jsonl"
    records = [{"role": "_system_prompt", "content": "You are Kimi"},
               {"role": "user", "content": "hello"},
               {"role": "assistant", "content": "Hi!"},
               {"role": "_usage", "token_count": 99}]
    write_lines(flat, records)
    (flat.parent / "notes.txt").write_text("")
    (classic_share / "sessions" / "not-a-hash").mkdir()
    (classic_share / "sessions" / "not-a-hash" / "x.jsonl").write_text("")
    assert list(SOURCE.discover(classic_share / "sessions")) == [flat]
    result = SOURCE.read(flat, 0, None)
    assert [(e.role, e.text, e.session_id, e.project_path) for e in result.entries] == [
        ("user", "hello", "s-3", WORK_DIR), ("assistant", "Hi!", "s-3", WORK_DIR)]
    # after the move the same records give the same uuids: the collector keeps one copy
    moved = classic_dir(classic_share, "s-3") / "context.jsonl"
    write_lines(moved, records)
    flat.unlink()
    assert [e.uuid for e in SOURCE.read(moved, 0, None).entries] == [
        e.uuid for e in result.entries]
