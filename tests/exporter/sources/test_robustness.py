"""Every registered source survives bad input: skipped and counted, never raised.

Each source reads a real sample placed where its assistant writes it, then the same
sample with garbage, truncated lines, non-UTF-8 bytes, a 5 MiB line, unknown record types
and unknown fields mixed in, an empty file, a partial last line, and seeded random
mutations. Offsets shift when lines are inserted, so results are compared by what
entries say (roles, texts, tokens), not by uuids derived from offsets.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from thinkt.exporter.sources import NAMES, get, is_whole_file
from thinkt.exporter.report.tally import UsageTally

from .conftest import line_ends

# source -> (sample file, where the assistant would keep it, relative to home)
APPENDED = {
    "claude": ("claude/marot-spotter__short.jsonl",
               ".claude/projects/-home-marco-projects-spotter/"
               "55604662-cf2a-4331-851a-ec234028f8ca.jsonl"),
    "codex": ("codex/madshn-localpush__rollout-2026-02-23T13-19-38-"
              "019c8a70-dda7-7f33-98ea-f30553347322.jsonl",
              ".codex/sessions/2026/02/23/"
              "rollout-2026-02-23T13-19-38-019c8a70-dda7-7f33-98ea-f30553347322.jsonl"),
    "gemini": ("gemini/Mai0313-VibeCodingTracker__gemini.jsonl",
               ".gemini/tmp/9da8b3df/chats/session-2026-04-23T12-52-0ab84937.jsonl"),
    "copilot": ("copilot/Mai0313-VibeCodingTracker__copilot.jsonl",
                ".copilot/session-state/96ef38f0-9d09-45c3-8124-6448c36090ed/events.jsonl"),
    "kimi": ("kimi/jazzyalex-agent-sessions__subagent_agent-0@8215d299.jsonl",
             ".kimi-code/sessions/wd_p_ac3bb318f98e/"
             "session_1bcbe023-4f7e-4971-9dc9-43b8756045b0/agents/agent-0/wire.jsonl"),
    "qwen": ("qwen/Piebald-AI-splitrail__qwen_code.jsonl",
             ".qwen/projects/-tmp-qwentest/chats/69f0814a-8bfc-4c8e-93d3-05757f17b96f.jsonl"),
}
REWRITTEN = {
    "gemini": ("gemini/Mai0313-VibeCodingTracker__test_conversation_gemini@894772f.json",
               ".gemini/tmp/8a20078e/chats/session-2026-03-27T10-19-8a20078e.json"),
    "copilot": ("copilot/Mai0313-VibeCodingTracker__test_conversation_copilot@7bc2c73.json",
                ".copilot/history-session-state/session_06141331.json"),
}
GARBAGE = [b"garbage", b"{", b"[1, 2]", b"null", b'"a string"', b"\xff\xfe\x00\x01",
           b'{"truncated": "rec']


def test_every_source_is_covered():
    assert set(APPENDED) == set(NAMES)


def place(samples: Path, home: Path, name: str, table=APPENDED) -> tuple[Path, bytes]:
    sample, target = table[name]
    path = home / target
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(samples / sample, path)
    return path, path.read_bytes()


def read_all(source, path: Path):
    """Read ``path`` to its end, the way the exporter does (slices of complete lines)."""
    result = source.read(path, 0, None)
    entries, skipped = list(result.entries), Counter(result.skipped)
    for _ in range(64):
        if is_whole_file(source, path):
            break
        more = source.read(path, result.offset, result.state)
        if more.offset == result.offset:
            break
        entries += more.entries
        skipped.update(more.skipped)
        result = more
    return entries, skipped, result.offset


def summary(entries):
    """What the entries say, independent of offset-derived ids."""
    tally = UsageTally()
    for entry in entries:
        tally.add(entry)
    return (Counter((e.role, e.tool_name, e.text, e.is_error, e.thinking_len)
                    for e in entries), tally.totals())


def lines_of(data: bytes) -> list[bytes]:
    return data.split(b"\n")[:-1]


def join(lines) -> bytes:
    return b"".join(line + b"\n" for line in lines)


@pytest.fixture(params=sorted(APPENDED))
def placed(request, samples, home):
    name = request.param
    path, data = place(samples, home, name)
    source = get(name)
    clean = read_all(source, path)
    assert clean[0], f"{name}: the sample gives entries"
    return source, path, data, clean


def test_garbage_and_truncated_lines_are_skipped_and_counted(placed):
    source, path, data, (entries, skipped, _) = placed
    lines = lines_of(data)
    mixed = []
    for number, line in enumerate(lines):
        mixed.append(line)
        if number % 3 == 1:
            mixed.append(GARBAGE[number % len(GARBAGE)])
    added = len(mixed) - len(lines)
    path.write_bytes(join(mixed))
    got, got_skipped, offset = read_all(source, path)
    assert summary(got) == summary(entries)
    assert got_skipped["malformed"] == skipped.get("malformed", 0) + added
    assert offset == path.stat().st_size


def test_non_utf8_bytes_inside_records_cost_nothing(placed):
    source, path, data, (entries, skipped, _) = placed
    # a stray byte inside the strings of every line: before an escaped newline, or at the
    # start of a "text" / "message" value (the redacted Codex sample has no newlines)
    spoiled = []
    for line in lines_of(data):
        for mark in (rb'(?<!\\)\\n', rb'"text":"', rb'"message":"'):
            found = re.search(mark, line)
            if found:
                at = found.start() if mark.endswith(b"n") else found.end()
                line = line[:at] + b"\xff" + line[at:]
        spoiled.append(line)
    path.write_bytes(join(spoiled))
    got, got_skipped, _ = read_all(source, path)
    assert len(got) == len(entries)
    assert Counter(e.role for e in got) == Counter(e.role for e in entries)
    assert summary(got)[1] == summary(entries)[1]
    assert got_skipped == skipped
    assert any("\ufffd" in (e.text or "") for e in got)


def test_a_5_mib_line_and_unknown_fields(placed):
    """Every record gains an unknown field; one of them carries 5 MiB of it."""
    source, path, data, (entries, skipped, _) = placed
    padded = []
    for number, line in enumerate(lines_of(data)):
        record = json.loads(line)
        if isinstance(record, dict):
            record["zz_future_field"] = {"nested": [1, None, "x"]}
            if number == 1:
                record["zz_padding"] = "p" * (5 * 1024 * 1024)
        padded.append(json.dumps(record, ensure_ascii=False).encode())
    assert max(len(line) for line in padded) > 5 * 1024 * 1024
    path.write_bytes(join(padded))
    got, got_skipped, offset = read_all(source, path)
    assert summary(got) == summary(entries)
    assert got_skipped == skipped
    assert offset == path.stat().st_size


def test_unknown_record_types(placed):
    source, path, data, (entries, skipped, _) = placed
    unknown = [
        {"type": "zz.brand_new", "timestamp": "2026-01-01T00:00:00Z", "payload": {},
         "data": {}, "message": {"type": "ZzNew", "payload": {}}, "event": {"type": "zz"}},
        {"type": "assistant.zz", "id": "zz-1", "uuid": "zz-1", "data": {}},
        {"no_type_at_all": True},
    ]
    lines = lines_of(data)
    mixed = lines[:2] + [json.dumps(r).encode() for r in unknown] + lines[2:]
    path.write_bytes(join(mixed))
    got, got_skipped, _ = read_all(source, path)
    assert summary(got) == summary(entries)
    assert sum(got_skipped.values()) == sum(skipped.values()) + len(unknown)


def test_empty_file(placed):
    source, path, *_ = placed
    path.write_bytes(b"")
    result = source.read(path, 0, None)
    assert (result.entries, result.offset) == ([], 0)
    path.write_bytes(b"\n\n  \n")
    assert source.read(path, 0, None).entries == []


def test_partial_last_line_waits_for_its_newline(placed):
    source, path, data, (entries, skipped, _) = placed
    ends = line_ends(data)
    for end in (ends[len(ends) // 2], ends[-2]):
        path.write_bytes(data[: end + 40])  # a line half written
        first = source.read(path, 0, None)
        assert first.offset == end
        path.write_bytes(data[:end])
        assert first.entries == source.read(path, 0, None).entries
        path.write_bytes(data)  # the line is finished, and the rest arrives
        rest, rest_skipped, offset = read_all_from(source, path, first)
        assert first.entries + rest == entries
        assert offset == len(data)


def test_a_final_record_without_newline_is_taken_when_the_read_is_final(placed):
    source, path, data, (entries, skipped, _) = placed
    path.write_bytes(data[:-1])  # the tool was killed before its last newline
    waiting, _, offset = read_all(source, path)
    assert offset < len(data) - 1, "a read that is not final leaves the last record"
    last = source.read(path, offset, None)
    assert last.tail == len(data) - 1 - offset
    taken = read_all_from(source, path, waiting_result(source, path), final=True)
    assert waiting + taken[0] == entries
    assert taken[2] == len(data) - 1
    path.write_bytes(data)  # the newline arrives later: it adds nothing
    after = source.read(path, len(data) - 1, None)
    assert (after.entries, after.offset, after.tail) == ([], len(data), 0)


def test_a_half_written_last_line_is_not_taken_even_when_final(placed):
    source, path, data, _ = placed
    end = line_ends(data)[-2]
    path.write_bytes(data[: end + 40])
    result = source.read(path, 0, None, final=True)
    while result.offset < end:
        result = source.read(path, result.offset, result.state, final=True)
    assert result.offset == end and result.tail == 40


def waiting_result(source, path):
    """The result of reading ``path`` to its end without ``final`` (its last state)."""
    result = source.read(path, 0, None)
    while True:
        more = source.read(path, result.offset, result.state)
        if more.offset == result.offset:
            return result
        result = more


def read_all_from(source, path, result, final=False):
    entries, skipped = [], Counter()
    while True:
        more = source.read(path, result.offset, json.loads(json.dumps(result.state)),
                           final=final)
        if more.offset == result.offset:
            return entries, skipped, result.offset
        entries += more.entries
        skipped.update(more.skipped)
        result = more


@pytest.mark.parametrize("odd", [{"x": [1]}, [1, 2], 7, None, True, ""],
                         ids=["object", "array", "number", "null", "bool", "empty"])
def test_fields_of_the_wrong_type(placed, odd):
    """Lines again with one field of another type: top level (type, id, payload...) or
    one level down (payload.type, data.content, message.role...)."""
    source, path, data, _ = placed
    variants = []
    for line in lines_of(data)[:40]:
        record = json.loads(line)
        for key, value in list(record.items())[:10]:
            variants.append(json.dumps(dict(record, **{key: odd})).encode())
            for inner in list(value)[:10] if isinstance(value, dict) else ():
                changed = dict(record, **{key: dict(value, **{inner: odd})})
                variants.append(json.dumps(changed).encode())
    path.write_bytes(join(variants))
    entries, _, offset = read_all(source, path)
    assert offset == path.stat().st_size
    json.dumps([e.to_wire() for e in entries])


def mutate(data: bytes, rng: random.Random) -> bytes:
    """Return ``data`` with one random kind of damage."""
    kind = rng.randrange(6)
    at = rng.randrange(len(data))
    if kind == 0:  # flip bytes
        buf = bytearray(data)
        for _ in range(rng.randint(1, 20)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        return bytes(buf)
    if kind == 1:  # truncate anywhere
        return data[:at]
    if kind == 2:  # insert random bytes (newlines included)
        return data[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))) + data[at:]
    lines = lines_of(data)
    if not lines:
        return data[:at]
    pick = rng.randrange(len(lines))
    if kind == 3:  # drop a line
        return join(lines[:pick] + lines[pick + 1:])
    if kind == 4:  # repeat a line
        return join(lines[:pick + 1] + lines[pick:])
    # replace every value of one record with a value of another type
    try:
        record = json.loads(lines[pick])
    except ValueError:
        return data  # a line of a pretty-printed document
    if isinstance(record, dict):
        for key in list(record):
            record[key] = rng.choice([None, 7, [], {}, True, "", {"x": [1]}])
    return join(lines[:pick] + [json.dumps(record).encode()] + lines[pick + 1:])


@pytest.mark.parametrize("name", sorted(APPENDED))
def test_random_mutations_never_raise(samples, home, name):
    source = get(name)
    path, data = place(samples, home, name)
    rng = random.Random(f"thinkt-{name}")
    for _ in range(25):
        damaged = mutate(data, rng)
        path.write_bytes(damaged)
        entries, _, offset = read_all(source, path)
        assert offset <= len(damaged)
        assert all(e.uuid and e.role in ("user", "assistant", "tool_use", "tool_result",
                                         "system") for e in entries)
        json.dumps([e.to_wire() for e in entries])  # shippable
        # and read in two parts at a random point
        cut = rng.randrange(len(damaged) + 1)
        path.write_bytes(damaged[:cut])
        first = source.read(path, 0, None)
        path.write_bytes(damaged)
        source.read(path, first.offset, json.loads(json.dumps(first.state)))


@pytest.mark.parametrize("name", sorted(REWRITTEN))
def test_rewritten_files_survive_damage(samples, home, name):
    source = get(name)
    path, data = place(samples, home, name, REWRITTEN)
    assert is_whole_file(source, path)
    clean = source.read(path, 0, None)
    assert clean.entries
    rng = random.Random(f"thinkt-rewritten-{name}")
    for _ in range(25):
        path.write_bytes(mutate(data, rng))
        result = source.read(path, 0, None)
        json.dumps([e.to_wire() for e in result.entries])
        # a damaged rewrite after a good one: nothing raised, state still JSON
        again = source.read(path, clean.offset, json.loads(json.dumps(clean.state)))
        json.dumps(again.state)
    path.write_bytes(b"")
    assert source.read(path, 0, None).entries == []
    path.write_bytes(b"\xff\xfe{not json")
    assert source.read(path, 0, None).skipped == {"malformed": 1}
