"""The fast path of ``load_entries`` gives exactly what marshmallow gives, for any entry.

``load_entries`` builds the row of a plainly well-formed entry itself and leaves every
other entry to ``EntrySchema``; these tests compare it, entry by entry, with
``entry_schema.load`` alone: the same row tuple (types included), or the same errors.
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError, fields

from thinkt.collector import schemas
from thinkt.collector.schemas import (ENTRY_COUNTS, ENTRY_FIELDS, ENTRY_FLAGS, ENTRY_IDS,
                                      ENTRY_TEXTS, MAX_COUNT, ROLES, EntrySchema, entry_schema,
                                      load_entries)

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"


def by_marshmallow(raw):
    """What ``entry_schema`` alone makes of one entry: ("row", tuple) or ("error", messages)."""
    if not isinstance(raw, dict):
        return "error", {"_schema": ["Entry must be a JSON object."]}
    try:
        return "row", entry_schema.load(raw)
    except ValidationError as err:
        return "error", err.messages


def by_load_entries(raw):
    rows, errors = load_entries([raw])
    if rows:
        assert not errors
        return "row", rows[0]
    return "error", errors["0"]


def typed(result):
    """A result with the type of every value, so that 1 and True or 0 and False differ."""
    kind, value = result
    if kind == "row":
        return kind, [(type(item), item) for item in value]
    return kind, value


def assert_same(raw):
    assert typed(by_load_entries(raw)) == typed(by_marshmallow(raw)), raw


# -- strategies -------------------------------------------------------------------------
surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
odd_chars = st.sampled_from(["\x00", "\ufffd", "\U0001f600", "\u00e9", " ", "\n", "\u0663"])
strings = st.one_of(
    st.text(max_size=12),
    st.text(st.one_of(st.characters(), surrogates, odd_chars), max_size=12),
    st.sampled_from(["", " ", "x" * 512, "x" * 513, "a\x00b", "x\ud800", "\udc00x"]),
)
big_ints = st.sampled_from([-1, 0, 1, MAX_COUNT, MAX_COUNT + 1, 2**53, 2**63 - 1, 2**63, 2**64,
                            -(2**63), 10**30])
scalars = st.one_of(st.none(), st.booleans(), st.integers(), big_ints, st.floats(),
                    st.sampled_from([0.0, 1.0, 12.0, -0.0]), strings)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=6)

@st.composite
def timestamps(draw):
    """RFC 3339 times and near misses: offsets, 0-12 digit fractions, Go's zero time, and
    one character replaced, added or removed (a 13th month, a lower-case z, ...)."""
    moment = draw(st.one_of(st.datetimes(), st.just(datetime(1, 1, 1)),
                            st.just(datetime(9999, 12, 31, 23, 59, 59))))
    text = moment.isoformat(timespec="seconds")
    text += draw(st.one_of(st.just(""), st.integers(1, 12).map(lambda n: "." + "0" * n),
                           st.lists(st.sampled_from("0123456789"), min_size=1, max_size=12
                                    ).map(lambda ds: "." + "".join(ds))))
    text += draw(st.sampled_from(["Z", "Z", "Z", "Z", "z", "", "+00:00", "-00:00", "+02:00",
                                  "-07:30", "+14:00", "+0200", "Z\n", " Z", "UTC"]))
    if draw(st.integers(0, 2)) == 0:
        at = draw(st.integers(0, len(text)))
        char = draw(st.sampled_from(list("0123456789-:T tZz,.+x\n\u0662\uff11")))
        change = draw(st.sampled_from(["replace", "insert", "delete"]))
        tail = text[at:] if change == "insert" else text[at + 1:]
        text = text[:at] + ("" if change == "delete" else char) + tail
    return text


roles = st.one_of(st.sampled_from([*ROLES, "tool", "USER", "Assistant", " system ", "Tool",
                                   "TOOL_USE", "robot", "", "user\n", "tool_Result"]),
                  strings)


def field_values(name):
    """Values for one entry field: mostly right for it, often wrong."""
    if name == "uuid" or name in ENTRY_IDS:
        right = strings
    elif name == "role":
        right = roles
    elif name == "timestamp":
        right = st.one_of(timestamps(), st.sampled_from(
            ["", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000000Z",
             "2026-01-02T03:04:05.123456789Z", "2026-01-02T03:04:05.123Z"]))
    elif name in ENTRY_TEXTS:
        right = strings
    elif name in ENTRY_FLAGS:
        right = st.one_of(st.booleans(), st.sampled_from([0, 1, 0.0, 1.0, "true", "no", 2]))
    else:
        right = st.one_of(st.integers(0, 5000), big_ints, st.sampled_from([True, 1.0, "12"]))
    return st.one_of(right, right, st.none(), json_values)


@st.composite
def entries(draw):
    entry = {}
    for name in ENTRY_FIELDS:
        # uuid and role are usually there, the rest usually not.
        if draw(st.integers(0, 9)) < (9 if name in ("uuid", "role") else 3):
            entry[name] = draw(field_values(name))
    for key in draw(st.lists(st.sampled_from(["future", "UUID", "Role", "", "session_id"]),
                             max_size=2)):
        entry[key] = draw(json_values)
    return entry


@st.composite
def plain_entries(draw):
    """Entries shaped like an exporter's: what the fast path is for."""
    entry = {"uuid": draw(st.text(min_size=1, max_size=40)),
             "role": draw(st.sampled_from([*ROLES, "tool"])),
             "timestamp": draw(timestamps())}
    for name in ENTRY_TEXTS + ENTRY_IDS:
        if draw(st.booleans()):
            entry[name] = draw(st.text(max_size=30))
    for name in ENTRY_FLAGS:
        if draw(st.booleans()):
            entry[name] = draw(st.booleans())
    for name in ENTRY_COUNTS:
        if draw(st.booleans()):
            entry[name] = draw(st.integers(0, MAX_COUNT))
    return entry


SOME = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=5_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_entry(raw):
    assert_same(raw)


test_any_entry_gives_marshmallows_row_or_errors = SOME(given(entries())(check_entry))
test_any_plain_entry_gives_marshmallows_row_or_errors = SOME(given(plain_entries())(check_entry))
# The same, long enough to find a rare case (about two minutes; 20,000 passed in seven).
test_many_entries_give_marshmallows_row_or_errors = pytest.mark.slow(
    MANY(given(st.one_of(entries(), plain_entries()))(check_entry)))


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_any_json_value_as_an_entry_gives_marshmallows_answer(raw):
    assert_same(raw)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(entries(), plain_entries(), json_values), max_size=8))
def test_a_batch_keeps_order_and_indexes(raws):
    rows, errors = load_entries(raws)
    expected_rows, expected_errors = [], {}
    for index, raw in enumerate(raws):
        kind, value = by_marshmallow(raw)
        if kind == "row":
            expected_rows.append(value)
        else:
            expected_errors[str(index)] = value
    assert rows == expected_rows and errors == expected_errors


@pytest.mark.parametrize("raw", [
    {"uuid": "u", "role": "user", "timestamp": "2026-01-02T03:04:05.123456789Z"},
    {"uuid": "u", "role": "tool", "timestamp": "0001-01-01T00:00:00Z"},
    {"uuid": "u", "role": "user", "timestamp": "0001-01-01T00:00:00.5Z"},
    {"uuid": "u", "role": "user", "timestamp": "2026-02-30T00:00:00Z"},
    {"uuid": "u", "role": "user", "timestamp": "\u0662\u0660\u0662\u0666-01-02T03:04:05Z"},
    {"uuid": "u", "role": "user", "timestamp": "2026-01-02T03:04:05z"},
    {"uuid": "u", "role": "user", "timestamp": "2026-01-02T03:04:05,5Z"},
    {"uuid": "u", "role": "user", "timestamp": "2026-01-02T03:04:05.Z"},
    {"uuid": "u", "role": "user", "timestamp": "2026-01-02T03:04:05.1234567890Z"},
    {"uuid": "u", "role": "user", "timestamp": "2026-01-02T03:04:05." + "1" * 60 + "Z"},
    {"uuid": "u", "role": "user", "timestamp": "2026-01-02T03:04:05.1234567+02:00"},
    {"uuid": "u", "role": "user", "timestamp": "0001-01-01T00:00:00Z\n"},
    {"uuid": "u", "role": "user", "timestamp": "0001-01-01T00:30:00+01:00"},
    {"uuid": "u", "role": "user", "timestamp": "9999-12-31T23:30:00-01:00"},
    {"uuid": "u", "role": "user", "text": "", "model": "", "message_id": "", "cwd": None},
    {"uuid": "u", "role": "user", "text": "cut \ud83d", "git_branch": "\udc00"},
    {"uuid": "u\x00", "role": "user"}, {"uuid": "u\ud800", "role": "user"},
    {"uuid": "x" * 512, "role": "user"}, {"uuid": "x" * 513, "role": "user"},
    {"uuid": "", "role": "user"}, {"uuid": None, "role": "user"}, {"uuid": "u", "role": None},
    {"uuid": "u"}, {"role": "user"}, {},
    {"uuid": "u", "role": "user", "is_error": 1}, {"uuid": "u", "role": "user", "is_error": 0},
    {"uuid": "u", "role": "user", "input_tokens": True},
    {"uuid": "u", "role": "user", "input_tokens": 12.0},
    {"uuid": "u", "role": "user", "input_tokens": MAX_COUNT + 1},
    {"uuid": "u", "role": "user", "input_tokens": 2**64},
    {"uuid": "u", "role": "user", "input_tokens": None, "is_error": None},
    {"uuid": 12, "role": "user"}, {"uuid": "u", "role": ["user"]}, {"uuid": "u", "role": {}},
    {"uuid": "u", "role": "user", "future": {"nested": [1]}},
])
def test_edge_cases_match_marshmallow(raw):
    assert_same(raw)


def test_the_common_entry_takes_the_fast_path():
    # Not a result (the tests above hold those equal) but the point: no schema involved.
    raw = {"uuid": "d1b5", "role": "assistant", "timestamp": "2026-01-02T03:04:05.123Z",
           "model": "claude-opus-4-6", "text": "\u00e9t\u00e9 \U0001f600", "input_tokens": 5,
           "has_thinking": True, "message_id": "msg_1", "cwd": "/home/dev"}
    assert schemas._common_row(raw) == entry_schema.load(raw)


def test_every_entry_field_has_a_fast_kind_matching_its_schema_field():
    kinds = {schemas.Id: (schemas._UUID, schemas._ID), schemas.Role: (schemas._ROLE,),
             schemas.Timestamp: (schemas._TIME,), schemas.Text: (schemas._TEXT, schemas._BODY),
             fields.Boolean: (schemas._FLAG,), fields.Integer: (schemas._COUNT,)}
    declared = EntrySchema().fields
    assert tuple(declared) == ENTRY_FIELDS
    for name, field in declared.items():
        assert schemas._KINDS[name] in kinds[type(field)], name


def sample_entries():
    """Every entry the exporter's parsers make of the shared samples, as sent on the wire."""
    import sys
    bench = Path(__file__).resolve().parents[2] / "bench"
    sys.path.insert(0, str(bench))
    try:
        from front import read_samples
    finally:
        sys.path.remove(str(bench))
    with tempfile.TemporaryDirectory() as home:
        return [entry.to_wire() for entry in read_samples(SAMPLES, Path(home))]


@pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"no samples at {SAMPLES}")
def test_every_entry_of_the_real_samples_matches_marshmallow():
    wires = sample_entries()
    assert len(wires) > 1000
    fast = 0
    for wire in wires:
        raw = json.loads(json.dumps(wire))  # as the collector receives it
        assert_same(raw)
        fast += schemas._common_row(raw) is not None
    assert fast == len(wires)  # every real entry is a common one
