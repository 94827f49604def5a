"""The ingest envelope, entries and agent registrations are validated as the contract says."""

from datetime import datetime

import pytest
from marshmallow import ValidationError

from thinkt.collector.schemas import (ENTRY_COUNTS, ENTRY_FIELDS, MAX_COUNT, agent_schema,
                                      entry_schema, ingest_schema, load_entries)


def row(entry):
    return dict(zip(ENTRY_FIELDS, entry_schema.load(entry)))


def test_entry_defaults_fill_every_column():
    loaded = row({"uuid": "u1", "role": "user", "timestamp": "2026-01-02T03:04:05Z"})
    assert loaded["timestamp"] == datetime(2026, 1, 2, 3, 4, 5)
    assert loaded["input_tokens"] == 0 and loaded["is_error"] is False
    assert loaded["model"] is None and loaded["message_id"] is None
    assert len(loaded) == len(ENTRY_FIELDS)


@pytest.mark.parametrize("role, expected", [
    ("USER", "user"), ("Assistant", "assistant"), ("tool", "tool_result"),
    ("TOOL_USE", "tool_use"), (" system ", "system"),
])
def test_roles_are_case_insensitive(role, expected):
    assert row({"uuid": "u", "role": role})["role"] == expected


def test_unknown_role_is_refused():
    with pytest.raises(ValidationError) as err:
        entry_schema.load({"uuid": "u", "role": "robot"})
    assert "role" in err.value.messages


@pytest.mark.parametrize("value", [None, "0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"])
def test_unknown_times_become_none(value):
    entry = {"uuid": "u", "role": "user"}
    if value is not None:
        entry["timestamp"] = value
    assert row(entry)["timestamp"] is None


def test_offsets_and_nanoseconds_are_normalised_to_utc():
    assert row({"uuid": "u", "role": "user", "timestamp": "2026-01-02T05:04:05.123456789+02:00"}
               )["timestamp"] == datetime(2026, 1, 2, 3, 4, 5, 123456)


@pytest.mark.parametrize("value", ["yesterday", "2026-01-02T03:04:05", 1700000000, "2026-13-01T00:00:00Z"])
def test_bad_or_naive_times_are_refused(value):
    with pytest.raises(ValidationError) as err:
        entry_schema.load({"uuid": "u", "role": "user", "timestamp": value})
    assert "timestamp" in err.value.messages


@pytest.mark.parametrize("value", [-1, 2**63, "12", 1.5, True])
def test_token_counts_must_be_non_negative_integers(value):
    with pytest.raises(ValidationError) as err:
        entry_schema.load({"uuid": "u", "role": "assistant", "output_tokens": value})
    assert "output_tokens" in err.value.messages


@pytest.mark.parametrize("field", ENTRY_COUNTS)
def test_every_count_is_bounded_and_the_error_names_the_field_and_the_bound(field):
    # The issue: 2**63 - 1 was accepted, then broke every sum it took part in.
    assert row({"uuid": "u", "role": "assistant", field: MAX_COUNT})[field] == MAX_COUNT
    for value in (MAX_COUNT + 1, 2**63 - 1):
        with pytest.raises(ValidationError) as err:
            entry_schema.load({"uuid": "u", "role": "assistant", field: value})
        assert list(err.value.messages) == [field]
        assert f"{MAX_COUNT}" in err.value.messages[field][0]


def test_the_bound_is_above_any_real_response_and_exact_in_json():
    assert 2 * 10**6 * 1000 < MAX_COUNT < 2**53


def test_a_cut_text_keeps_its_flag_and_original_size():
    loaded = row({"uuid": "u", "role": "user", "text": "head of a paste",
                  "text_truncated": True, "text_bytes": 12_582_912})
    assert (loaded["text_truncated"], loaded["text_bytes"]) == (True, 12_582_912)


@pytest.mark.parametrize("extra", [{}, {"text_truncated": None, "text_bytes": None}])
def test_a_text_not_said_to_be_cut_is_whole(extra):
    loaded = row(dict({"uuid": "u", "role": "user", "text": "all of it"}, **extra))
    assert loaded["text_truncated"] is False and loaded["text_bytes"] == 0


@pytest.mark.parametrize("field, value", [
    ("text_truncated", "maybe"), ("text_truncated", 2), ("text_truncated", [True]),
    ("text_bytes", -1), ("text_bytes", 2**63), ("text_bytes", "12"), ("text_bytes", 1.5),
    ("text_bytes", True),
])
def test_wrong_truncation_values_name_the_field(field, value):
    with pytest.raises(ValidationError) as err:
        entry_schema.load({"uuid": "u", "role": "user", field: value})
    assert field in err.value.messages


def test_unknown_keys_are_ignored_and_texts_keep_nul_characters():
    loaded = row({"uuid": "u", "role": "user", "text": "a\x00b", "model": "m\x00",
                  "agent_id": "a1", "future": 1})
    assert (loaded["text"], loaded["model"], loaded["agent_id"]) == ("a\x00b", "m\x00", "a1")


def test_a_lone_surrogate_in_a_text_becomes_the_replacement_character():
    loaded = row({"uuid": "u", "role": "user", "text": "cut \U0001f600 emoji \ud83d",
                  "tool_name": "\udc00x"})
    assert loaded["text"] == "cut \U0001f600 emoji \ufffd"
    assert loaded["tool_name"] == "\ufffdx"


BAD_IDS = [("abc\x00", "NUL"), ("\x00", "NUL"), ("x\ud800", "\\ud800"),
           ("x\udc00", "\\udc00"), ("\ud83d", "\\ud83d")]


@pytest.mark.parametrize("field", ["uuid", "message_id", "agent_id", "parent_uuid"])
@pytest.mark.parametrize("value, said", BAD_IDS)
def test_an_entry_id_that_cannot_be_stored_as_sent_is_refused_naming_it(field, value, said):
    entry = {"uuid": "u", "role": "user", field: value}
    with pytest.raises(ValidationError) as err:
        entry_schema.load(entry)
    assert list(err.value.messages) == [field]
    assert said in err.value.messages[field][0]


@pytest.mark.parametrize("field", ["session_id", "source", "instance_id", "machine_id"])
@pytest.mark.parametrize("value, said", BAD_IDS)
def test_an_envelope_id_that_cannot_be_stored_as_sent_is_refused_naming_it(field, value, said):
    body = {"source": "claude", "session_id": "s", "entries": [{}], field: value}
    with pytest.raises(ValidationError) as err:
        ingest_schema.load(body)
    assert list(err.value.messages) == [field]
    assert said in err.value.messages[field][0]


@pytest.mark.parametrize("field", ["instance_id", "machine_id"])
def test_an_agent_id_that_cannot_be_stored_as_sent_is_refused(field):
    with pytest.raises(ValidationError) as err:
        agent_schema.load({"instance_id": "i", "platform": "linux", field: "i\ud800"})
    assert list(err.value.messages) == [field]


@pytest.mark.parametrize("value", ["d1b5\U0001f600", "\u00e9t\u00e9", " spaced ", "a/b//c"])
def test_ids_are_kept_exactly_as_sent(value):
    loaded = row({"uuid": value, "role": "user", "message_id": value, "parent_uuid": value})
    assert loaded["uuid"] == loaded["message_id"] == loaded["parent_uuid"] == value
    assert ingest_schema.load({"source": "x", "session_id": value, "entries": [{}]}
                              )["session_id"] == value


def test_envelope_source_is_trimmed_and_lower_cased():
    envelope = ingest_schema.load({"source": " Claude ", "session_id": "s", "entries": [{}],
                                   "machine_id": "m", "metadata": {"k": "v"}, "extra": True})
    assert envelope["source"] == "claude"
    assert envelope["metadata"] == {"k": "v"}


@pytest.mark.parametrize("body, field", [
    ({"session_id": "s", "entries": [{}]}, "source"),
    ({"source": "  ", "session_id": "s", "entries": [{}]}, "source"),
    ({"source": "x", "session_id": "", "entries": [{}]}, "session_id"),
    ({"source": "x", "session_id": "s", "entries": []}, "entries"),
    ({"source": "x", "session_id": "s", "entries": [{}] * 10001}, "entries"),
    ({"source": "x", "session_id": "s", "entries": "nope"}, "entries"),
])
def test_bad_envelopes_name_the_field(body, field):
    with pytest.raises(ValidationError) as err:
        ingest_schema.load(body)
    assert field in err.value.messages


def test_load_entries_keeps_the_valid_and_reports_the_invalid_by_index():
    rows, errors = load_entries([
        {"uuid": "a", "role": "user"},
        {"role": "user"},
        "not an object",
        {"uuid": "d", "role": "assistant", "input_tokens": -5},
    ])
    assert [r[0] for r in rows] == ["a"]
    assert set(errors) == {"1", "2", "3"}
    assert "uuid" in errors["1"] and "input_tokens" in errors["3"]


def test_agent_registration_needs_instance_and_platform():
    with pytest.raises(ValidationError) as err:
        agent_schema.load({"hostname": "h"})
    assert set(err.value.messages) == {"instance_id", "platform"}
    agent = agent_schema.load({"instance_id": "i", "platform": "linux",
                               "started_at": "2026-01-01T00:00:00+01:00", "whatever": 1})
    assert agent["started_at"] == datetime(2025, 12, 31, 23, 0)


# -- user: who the sender runs for ------------------------------------------------------------

ENVELOPE = {"source": "claude", "session_id": "s", "entries": [{}]}
REGISTRATION = {"instance_id": "i", "platform": "linux"}


@pytest.mark.parametrize("body, schema", [(ENVELOPE, ingest_schema),
                                          (REGISTRATION, agent_schema)])
@pytest.mark.parametrize("value, stored", [
    ("alice@example.com", "alice@example.com"), ("  Alice Smith \n", "Alice Smith"),
    ("", None), ("   ", None), (None, None), ("\u00e9lodie@x\ud800", "\u00e9lodie@x\ufffd"),
    ("x" * 512, "x" * 512),
])
def test_the_user_is_trimmed_and_empty_is_none(body, schema, value, stored):
    assert schema.load(dict(body, user=value))["user"] == stored
    assert "user" not in schema.load(body)  # left out: nothing to say


@pytest.mark.parametrize("body, schema", [(ENVELOPE, ingest_schema),
                                          (REGISTRATION, agent_schema)])
@pytest.mark.parametrize("value", ["x" * 513, " " * 600, 42, ["alice"], {"name": "alice"}])
def test_a_user_that_is_no_text_or_too_long_is_refused_naming_it(body, schema, value):
    with pytest.raises(ValidationError) as err:
        schema.load(dict(body, user=value))
    assert list(err.value.messages) == ["user"]
