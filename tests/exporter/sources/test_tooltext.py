"""Cut tool texts say so: every source flags a long tool input or output with its whole size.

Each source writes one session, in its own format where its assistant keeps it, with a
long and a short tool call, each answered by a long and a short output. The whole
sizes expected are computed here from the values written (compact JSON for an input
object, the raw string for an input the format keeps as a string).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from thinkt.exporter.entry import (
    CUT_MARK, TOOL_INPUT_LIMIT, TOOL_OUTPUT_LIMIT, clip, tool_input_text, utf8_len)
from thinkt.exporter.sources import get, is_whole_file
from thinkt.exporter.sources.tooltext import input_text

#: A file pasted into an edit call: escapes (quote, newline) and 2-, 3- and 4-byte
#: characters, longer than the input limit in characters too.
BIG_INPUT = {"path": "notes.md", "content": 'é"\n€😀 ' * 1500}
SMALL_INPUT = {"path": "notes.md"}
#: The same inputs as the string some formats keep them as (Codex, classic kimi-cli).
BIG_ARGS = json.dumps(BIG_INPUT, ensure_ascii=False)
SMALL_ARGS = json.dumps(SMALL_INPUT)
BIG_OUTPUT = "ligne é€ 😀\n" * 8000  # 136,000 bytes
SMALL_OUTPUT = "ok"


def compact(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def rendered(value) -> str:
    """Return a tool input as the sources render it uncut."""
    return value if isinstance(value, str) else compact(value)


def size(text: str) -> int:
    return len(text.encode("utf-8"))


def jsonl(path: Path, records) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                    encoding="utf-8")
    return path


# --- one session per source: calls "big" then "small" -------------------------------------

def claude(home: Path) -> Path:
    def record(kind, uuid, content):
        return {"type": kind, "uuid": uuid, "sessionId": "s", "cwd": "/w",
                "timestamp": "2026-03-01T10:00:00.000Z",
                "message": {"id": f"m-{uuid}", "role": kind, "model": "m", "content": content}}
    return jsonl(home / ".claude/projects/-w/s.jsonl", [
        record("assistant", "a1", [
            {"type": "tool_use", "id": "big", "name": "Write", "input": BIG_INPUT},
            {"type": "tool_use", "id": "small", "name": "Read", "input": SMALL_INPUT}]),
        record("user", "u1", [
            {"type": "tool_result", "tool_use_id": "big", "content": BIG_OUTPUT},
            {"type": "tool_result", "tool_use_id": "small",
             "content": [{"type": "text", "text": SMALL_OUTPUT}]}]),
    ])


def codex(home: Path) -> Path:
    sid = "019c0000-1111-7222-8333-444444444444"

    def line(payload):
        return {"timestamp": "2026-03-01T10:00:00.000Z", "type": "response_item",
                "payload": payload}
    return jsonl(home / f".codex/sessions/2026/03/01/rollout-2026-03-01T11-00-00-{sid}.jsonl", [
        {"timestamp": "2026-03-01T10:00:00.000Z", "type": "session_meta",
         "payload": {"id": sid, "cwd": "/w"}},
        line({"type": "function_call", "name": "shell", "arguments": BIG_ARGS, "call_id": "big"}),
        line({"type": "function_call_output", "call_id": "big", "output": BIG_OUTPUT}),
        line({"type": "custom_tool_call", "name": "apply_patch", "input": SMALL_ARGS,
              "call_id": "small"}),
        line({"type": "custom_tool_call_output", "call_id": "small", "output": SMALL_OUTPUT}),
    ])


def copilot(home: Path) -> Path:
    def event(kind, uuid, data):
        return {"type": kind, "id": uuid, "timestamp": "2026-04-23T17:00:00.000Z", "data": data}
    return jsonl(home / ".copilot/session-state/abc/events.jsonl", [
        event("assistant.message", "e1", {"messageId": "r1", "content": "", "toolRequests": [
            {"toolCallId": "big", "name": "edit", "arguments": BIG_INPUT},
            {"toolCallId": "small", "name": "view", "arguments": SMALL_INPUT}]}),
        event("tool.execution_complete", "e2", {"toolCallId": "big", "success": True,
                                                "result": {"content": BIG_OUTPUT}}),
        event("tool.execution_complete", "e3", {"toolCallId": "small", "success": True,
                                                "result": {"content": SMALL_OUTPUT}}),
    ])


def copilot_history(home: Path) -> Path:
    path = home / ".copilot/history-session-state/session_1.json"
    path.parent.mkdir(parents=True)
    timeline = [{"type": "tool_call_completed", "id": f"t-{name}", "callId": name,
                 "timestamp": "2025-10-11T11:41:00Z", "name": "bash", "arguments": value,
                 "result": {"type": "success", "log": output}}
                for name, value, output in [("big", BIG_INPUT, BIG_OUTPUT),
                                            ("small", SMALL_INPUT, SMALL_OUTPUT)]]
    path.write_text(json.dumps({"sessionId": "s", "timeline": timeline}), encoding="utf-8")
    return path


def gemini_messages(*bodies: dict) -> list[dict]:
    """Return a message calling "big" and "small"; ``bodies`` are more responses of "small"."""
    calls = [{"id": name, "name": "write_file", "args": value, "status": "success",
              "result": [{"functionResponse": {"id": name, "name": "write_file",
                                               "response": {"output": output}}}]}
             for name, value, output in [("big", BIG_INPUT, BIG_OUTPUT),
                                         ("small", SMALL_INPUT, SMALL_OUTPUT)]]
    calls[1]["result"] += [{"functionResponse": {"id": "small", "name": "write_file",
                                                 "response": body}} for body in bodies]
    return [{"id": "g1", "timestamp": "2026-03-01T10:00:00.000Z", "type": "gemini",
             "content": "", "model": "gemini-2.5-pro", "toolCalls": calls}]


def gemini(home: Path, *bodies: dict) -> Path:
    return jsonl(home / ".gemini/tmp/h/chats/session-2026-03-01T10-00-abcd.jsonl",
                 [{"sessionId": "s", "projectHash": "h", "kind": "main"}]
                 + gemini_messages(*bodies))


def gemini_json(home: Path, *bodies: dict) -> Path:
    path = home / ".gemini/tmp/h/chats/session-2026-03-01T10-00-abcd.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"sessionId": "s", "messages": gemini_messages(*bodies)}),
                    encoding="utf-8")
    return path


def qwen_record(kind, uuid, parts, **extra) -> dict:
    return dict({"uuid": uuid, "parentUuid": None, "sessionId": "s", "type": kind, "cwd": "/w",
                 "timestamp": "2026-06-15T14:40:22.832Z",
                 "message": {"role": "model" if kind == "assistant" else "user",
                             "parts": parts}}, **extra)


def qwen(home: Path) -> Path:
    return jsonl(home / ".qwen/projects/-w/chats/s.jsonl", [
        qwen_record("assistant", "a1", [
            {"functionCall": {"id": "big", "name": "write_file", "args": BIG_INPUT}},
            {"functionCall": {"id": "small", "name": "read_file", "args": SMALL_INPUT}}]),
        qwen_record("tool_result", "r1", [
            {"functionResponse": {"id": "big", "name": "write_file",
                                  "response": {"output": BIG_OUTPUT}}},
            {"functionResponse": {"id": "small", "name": "read_file",
                                  "response": {"output": SMALL_OUTPUT}}}]),
    ])


def kimi_code(home: Path) -> Path:
    def event(event):
        return {"type": "context.append_loop_event", "time": 1785613796907, "event": event}
    return jsonl(home / ".kimi-code/sessions/wd_w_1/session_1bcbe023/agents/main/wire.jsonl", [
        event({"type": "tool.call", "toolCallId": "big", "stepUuid": "st", "name": "Write",
               "args": BIG_INPUT}),
        event({"type": "tool.call", "toolCallId": "small", "stepUuid": "st", "name": "Read",
               "args": SMALL_INPUT}),
        event({"type": "tool.result", "toolCallId": "big", "result": {"output": BIG_OUTPUT}}),
        event({"type": "tool.result", "toolCallId": "small",
               "result": {"output": [{"type": "text", "text": SMALL_OUTPUT}]}}),
    ])


def kimi_classic_dir(home: Path, session: str) -> Path:
    return home / ".kimi/sessions" / hashlib.md5(b"/w").hexdigest() / session


def kimi_wire(home: Path) -> Path:
    def record(kind, payload):
        return {"timestamp": 1735000000.5, "message": {"type": kind, "payload": payload}}
    calls = [record(kind, payload) for name, args, output in [
        ("big", BIG_ARGS, BIG_OUTPUT), ("small", SMALL_ARGS, SMALL_OUTPUT)]
        for kind, payload in [
            ("ToolCall", {"type": "function", "id": name,
                          "function": {"name": "Shell", "arguments": args}}),
            ("ToolResult", {"tool_call_id": name, "return_value": {"output": output}})]]
    return jsonl(kimi_classic_dir(home, "s-1") / "wire.jsonl", [
        {"type": "metadata", "protocol_version": "1.3"},
        record("StepBegin", {"n": 1}), *calls, record("TurnEnd", {})])


def kimi_context(home: Path) -> Path:
    return jsonl(kimi_classic_dir(home, "s-2") / "context.jsonl", [
        {"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "id": "big", "function": {"name": "Shell", "arguments": BIG_ARGS}},
            {"type": "function", "id": "small",
             "function": {"name": "Shell", "arguments": SMALL_ARGS}}]},
        {"role": "tool", "content": BIG_OUTPUT, "tool_call_id": "big"},
        {"role": "tool", "content": [{"type": "text", "text": SMALL_OUTPUT}],
         "tool_call_id": "small"},
    ])


OBJECTS, STRINGS = (BIG_INPUT, SMALL_INPUT), (BIG_ARGS, SMALL_ARGS)
# name -> (source, session writer, the big and small inputs written)
SESSIONS = {
    "claude": ("claude", claude, OBJECTS),
    "codex": ("codex", codex, STRINGS),
    "copilot": ("copilot", copilot, OBJECTS),
    "copilot json": ("copilot", copilot_history, OBJECTS),
    "gemini": ("gemini", gemini, OBJECTS),
    "gemini json": ("gemini", gemini_json, OBJECTS),
    "qwen": ("qwen", qwen, OBJECTS),
    "kimi code": ("kimi", kimi_code, OBJECTS),
    "kimi wire": ("kimi", kimi_wire, STRINGS),
    "kimi context": ("kimi", kimi_context, STRINGS),
}


@pytest.mark.parametrize("name", SESSIONS)
def test_cut_tool_texts_are_flagged_with_their_whole_size(home, name):
    source_name, write, (big_input, small_input) = SESSIONS[name]
    source = get(source_name)
    path = write(home)
    assert source.matches(path)
    entries = source.read(path, 0, None).entries
    uses = [e for e in entries if e.role == "tool_use"]
    results = [e for e in entries if e.role == "tool_result"]
    assert [(e.text_truncated, e.text_bytes) for e in uses] == [
        (True, size(rendered(big_input))), (False, 0)]
    assert [(e.text_truncated, e.text_bytes) for e in results] == [
        (True, size(BIG_OUTPUT)), (False, 0)]
    # the texts are what they were before cuts were flagged
    assert uses[0].text == tool_input_text(big_input)
    assert uses[0].text.endswith(CUT_MARK) and utf8_len(uses[0].text) <= TOOL_INPUT_LIMIT
    assert results[0].text == clip(BIG_OUTPUT, TOOL_OUTPUT_LIMIT)
    assert (uses[1].text, results[1].text) == (rendered(small_input), SMALL_OUTPUT)
    wire = results[0].to_wire()
    assert (wire["text_truncated"], wire["text_bytes"]) == (True, 136_000)
    assert "text_truncated" not in results[1].to_wire()


@pytest.mark.parametrize("value", [
    {"content": "x" * 5000},                  # a string cut short before rendering
    {"lines": ["ab"] * 2000},                 # many short strings: only the rendering is long
    {"text": "é€😀" * 500},                   # fewer characters than the limit, more bytes
    {"quote": '"\\' * 1500},                  # escapes double the rendering
    "y" * (TOOL_INPUT_LIMIT + 1),             # a string input is its own rendering
])
def test_a_cut_input_has_the_size_of_its_whole_rendering(value):
    text, whole = input_text(value)
    assert text == tool_input_text(value)
    assert whole == rendered(value) and size(whole) > TOOL_INPUT_LIMIT


@pytest.mark.parametrize("value", [
    None, {}, {"path": "a.py"}, "short", "y" * TOOL_INPUT_LIMIT,
    {"k": "é" * ((TOOL_INPUT_LIMIT - 8) // 2)},  # exactly at the limit: not cut
    "an input that ends in the mark itself" + CUT_MARK,
])
def test_an_input_within_the_limit_is_not_flagged(value):
    assert input_text(value) == (None if value is None else rendered(value), None)


@pytest.mark.parametrize("name", ["gemini", "gemini json", "qwen"])
def test_sources_flag_a_cut_json_response_body(home, name):
    # A response without an output string is rendered as JSON cut to the input limit.
    body = {"files": [f"src/module_{n:04d}.py" for n in range(400)]}
    if name == "qwen":
        path = jsonl(home / ".qwen/projects/-w/chats/s.jsonl", [qwen_record(
            "tool_result", "r1", [{"functionResponse": {"id": "c", "name": "ls",
                                                        "response": body}}])])
        whole = compact(body)
    else:
        path = (gemini_json if name == "gemini json" else gemini)(home, body)
        whole = SMALL_OUTPUT + "\n" + compact(body)  # the call's responses, joined
    (*_, cut) = [e for e in get(name.split()[0]).read(path, 0, None).entries
                 if e.role == "tool_result"]
    assert (cut.text_truncated, cut.text_bytes) == (True, size(whole))
    assert cut.text.endswith(CUT_MARK) and size(cut.text) < size(whole)


def test_a_rewritten_cut_output_that_grows_is_shipped_again(home):
    # Still cut, the text is the same: only its whole size changed. Ship it again, so
    # the collector keeps the right size; an unchanged rewrite ships nothing.
    source = get("gemini")
    path = gemini_json(home)
    assert is_whole_file(source, path)
    first = source.read(path, 0, None)
    document = json.loads(path.read_text())
    response = document["messages"][0]["toolCalls"][0]["result"][0]["functionResponse"]
    response["response"]["output"] = BIG_OUTPUT + "more\n"
    path.write_text(json.dumps(document), encoding="utf-8")
    second = source.read(path, first.offset, first.state)
    assert [(e.uuid, e.text_bytes) for e in second.entries] == [
        ("g1:big:result", size(BIG_OUTPUT) + 5)]
    path.write_text(json.dumps(document) + " ", encoding="utf-8")
    assert source.read(path, second.offset, second.state).entries == []
