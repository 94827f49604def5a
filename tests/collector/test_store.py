"""The store on a real DuckDB file: dedup, sessions, usage once per response, queries, opening."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import duckdb
import pytest
from freezegun import freeze_time

from tests.collector.conftest import T0, build_entry, build_request
from tests.collector import facade as store
from thinkt.collector import ingest
from thinkt.collector.migrations import MIGRATIONS, m001_tables
from thinkt.status import ExitStatus


def count(con, table="collected_entries", where="true"):
    return con.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0]


def session(cur, session_id):
    return next(s for s in store.list_sessions(cur, 500, None, None) if s["id"] == session_id)


def entries_page(cur, session_id, limit=10, offset=0):
    return store.session_entries(cur, session_id, limit, offset)["entries"]


def tokens_of(row):
    return tuple(row[t] for t in store.TOKEN_FIELDS)


# -- dedup ---------------------------------------------------------------------------------

def test_sending_the_same_batch_twice_changes_no_count(con, cur):
    # GIVEN a stored batch with usage and an agent
    batch = [build_request("s1", [build_entry("a", text="hi", input_tokens=5, output_tokens=2,
                                              message_id="m1"),
                                  build_entry("b", text="there")], instance_id="i1")]
    assert store.ingest(con, batch) == [(2, 0)]
    before = (store.stats(cur, T0, ":none:"), store.list_sessions(cur, 10, None, None),
              store.list_agents(cur, T0)[0]["trace_count"])
    # WHEN it arrives again
    assert store.ingest(con, batch) == [(0, 2)]
    # THEN nothing counted twice
    after = (store.stats(cur, T0, ":none:"), store.list_sessions(cur, 10, None, None),
             store.list_agents(cur, T0)[0]["trace_count"])
    assert after == before
    assert before[0]["total_traces"] == 2 and before[2] == 2
    assert before[0]["tokens"]["input"] == 5


def test_a_group_mixing_new_entries_and_a_resend_stores_each_once(con, cur, monkeypatch):
    # GIVEN a stored entry, and a group that brings it again beside new ones
    assert store.ingest(con, [build_request("s1", [build_entry("a", text="kept")])]) == [(1, 0)]
    tried = []
    for path in ("_append", "_write"):
        monkeypatch.setattr(ingest, path, lambda c, group, path=path, real=getattr(ingest, path):
                            tried.append(path) or real(c, group))
    # WHEN the group is stored
    results = store.ingest(con, [build_request("s1", [build_entry("b"), build_entry("a", text="kept")]),
                                 build_request("s2", [build_entry("c")])])
    # THEN the plain insert failed on the stored key, and the slower path stored the rest
    assert tried == ["_append", "_write"]
    assert results == [(1, 1), (1, 0)]
    assert count(con) == 3
    assert [(e["uuid"], e["text"]) for e in entries_page(cur, "s1")] == [("a", "kept"), ("b", None)]
    assert session(cur, "s1")["entry_count"] == 2 and session(cur, "s2")["entry_count"] == 1


def test_inside_one_group_the_last_copy_wins(con, cur):
    results = store.ingest(con, [
        build_request("s1", [build_entry("a", text="first"), build_entry("a", text="second"),
                             build_entry("b")]),
        build_request("s1", [build_entry("b", text="later"), build_entry("c")]),
    ])
    assert results == [(3, 0), (2, 0)]  # changed copies are stored, not duplicates
    entries = entries_page(cur, "s1")
    assert [(e["uuid"], e["text"]) for e in entries] == [("a", "second"), ("b", "later"),
                                                         ("c", None)]
    assert session(cur, "s1")["entry_count"] == 3


def test_identical_copies_inside_one_group_are_duplicates(con, cur):
    results = store.ingest(con, [
        build_request("s1", [build_entry("a", text="same"), build_entry("a", text="same")]),
        build_request("s1", [build_entry("a", text="same"), build_entry("b")]),
    ])
    assert results == [(1, 1), (1, 1)]  # the first copy is the one stored
    assert session(cur, "s1")["entry_count"] == 2


def test_the_same_uuid_in_two_sessions_is_two_rows(con, cur):
    results = store.ingest(con, [build_request("s1", [build_entry("a")]),
                                 build_request("s2", [build_entry("a")])])
    assert results == [(1, 0), (1, 0)]
    assert count(con) == 2
    assert session(cur, "s1")["entry_count"] == session(cur, "s2")["entry_count"] == 1


def test_a_failing_group_stores_nothing(con):
    good = build_request("s1", [build_entry("a")], instance_id="i1")
    bad = build_request("s2", [build_entry("b", role=None)])  # violates NOT NULL
    with pytest.raises(duckdb.ConstraintException):
        store.ingest(con, [good, bad])
    assert count(con) == count(con, "collected_sessions") == count(con, "collected_agents") == 0
    assert store.ingest(con, [good]) == [(1, 0)]  # and the connection is usable again


def test_a_failed_commit_leaves_no_transaction_open(con, monkeypatch):
    class FailingCommit:
        def __init__(self, real):
            self.real = real

        def execute(self, sql, *args):
            if sql == "COMMIT":
                raise duckdb.IOException("disk full")
            return self.real.execute(sql, *args)

    # The group's statements run on the real connection; BEGIN, COMMIT and ROLLBACK go
    # through the wrapper, which fails the COMMIT.
    for path in ("_append", "_write"):
        monkeypatch.setattr(ingest, path, lambda c, group, real=getattr(ingest, path): real(con, group))
    with pytest.raises(duckdb.IOException):
        store.ingest(FailingCommit(con), [build_request("s1", [build_entry("a")])])
    assert count(con) == 0
    assert store.ingest(con, [build_request("s1", [build_entry("a")])]) == [(1, 0)]


def test_requests_without_entries_are_heartbeats_only(con, cur):
    assert store.ingest(con, [build_request("s1", [], instance_id="i1")]) == [(0, 0)]
    assert count(con) == count(con, "collected_sessions") == 0
    assert store.list_agents(cur, T0)[0]["trace_count"] == 0


def test_counts_outside_64_bits_are_refused_before_writing(con):
    with pytest.raises(store.StoreError, match="64-bit"):
        store.ingest(con, [build_request("s", [build_entry("a", output_tokens=2**63)])])
    assert count(con) == 0


def test_the_largest_counts_never_break_a_sum(con, cur):
    # GIVEN the entries (2**63 - 1 tokens, as a collector before the API bound
    # stored them) in two sessions
    top = 2**63 - 1
    for session_id in ("s1", "s2"):
        store.ingest(con, [build_request(session_id, [build_entry("a", input_tokens=top)])])
    # THEN stats and usage add them up exactly (they answered 503 for everyone)
    assert store.stats(cur, T0, ":none:")["tokens"]["input"] == 2 * top
    assert store.usage(cur, "source", None, None, None)[0]["input_tokens"] == 2 * top
    # (bounds inside an hour read the entries: their sums come back exact too)
    off_the_hour = T0 - timedelta(minutes=1)
    assert store.usage(cur, "source", off_the_hour, None, None)[0]["input_tokens"] == 2 * top
    # WHEN more usage arrives in one of those sessions (it was refused 400)
    assert store.ingest(con, [build_request("s1", [
        build_entry("b", input_tokens=5, output_tokens=top), build_entry("c", text="hi")])]
    ) == [(2, 0)]
    # THEN every total is exact, and the session's own columns stop at their largest value
    assert store.stats(cur, T0, ":none:")["tokens"]["input"] == 2 * top + 5
    [claude] = store.usage(cur, "source", None, None, None)
    assert (claude["input_tokens"], claude["output_tokens"]) == (2 * top + 5, top)
    assert tokens_of(session(cur, "s1"))[:2] == (store.BIGINT_MAX, top)
    assert session(cur, "s1")["entry_count"] == 3


def test_texts_and_ids_are_stored_and_read_back_exactly_nul_characters_included(con, cur):
    store.ingest(con, [build_request("s\U0001f600", [
        build_entry("a\U0001f600", text="before\x00after", model="m\x00", tool_name="t\x00")])])
    [entry] = entries_page(cur, "s\U0001f600", 10, 0)
    assert (entry["uuid"], entry["text"], entry["model"], entry["tool_name"]) == (
        "a\U0001f600", "before\x00after", "m\x00", "t\x00")
    assert [s["id"] for s in store.search(cur, "e\x00a", 10)] == ["s\U0001f600"]


def test_a_cut_text_keeps_its_flag_and_size_and_a_whole_one_shows_false_and_0(con, cur):
    store.ingest(con, [build_request("s1", [
        build_entry("cut", text="head of a paste", text_truncated=True, text_bytes=12_582_912),
        build_entry("whole", text="all of it", timestamp=T0 + timedelta(seconds=1)),
    ])])
    entries = entries_page(cur, "s1")
    assert [(e["uuid"], e["text_truncated"], e["text_bytes"]) for e in entries] == [
        ("cut", True, 12_582_912), ("whole", False, 0)]


def test_a_negative_text_size_is_refused_before_writing(con):
    with pytest.raises(store.StoreError, match="text_bytes is negative"):
        store.ingest(con, [build_request("s", [build_entry("a", text_bytes=-1)])])
    assert count(con) == 0


def test_times_in_any_zone_are_stored_as_utc_to_the_microsecond():
    east = timezone(timedelta(hours=5, minutes=30))
    values = [None, datetime(2026, 3, 1, 12, 0, 0, 1), datetime(2026, 3, 1, 17, 30, tzinfo=east),
              datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)]
    stored = ingest._timestamps(values)
    assert str(stored.dtype) == "datetime64[us]"
    assert [None if str(v) == "NaT" else v.item() for v in stored] == [
        None, datetime(2026, 3, 1, 12, 0, 0, 1), datetime(2026, 3, 1, 12, 0),
        datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59, 999999)]


def test_an_unknown_timestamp_is_the_receive_time_and_flagged(con, cur):
    received = T0 + timedelta(hours=3)
    store.ingest(con, [build_request("s1", [build_entry("a", timestamp=None),
                                            build_entry("b", timestamp=T0)],
                                     received_at=received)])
    entries = {e["uuid"]: e for e in entries_page(cur, "s1")}
    assert entries["a"]["timestamp"] == "2026-01-01T15:00:00Z"
    assert entries["a"]["timestamp_estimated"] is True
    assert entries["b"]["timestamp"] == "2026-01-01T12:00:00Z"
    assert entries["b"]["timestamp_estimated"] is False


# -- sessions ------------------------------------------------------------------------------

def test_session_counts_times_and_model_follow_new_entries_only(con, cur):
    hour = timedelta(hours=1)
    store.ingest(con, [build_request("s1", [
        build_entry("a", timestamp=T0 + 2 * hour, model="claude-b"),
        build_entry("b", timestamp=T0 + 3 * hour, model="<synthetic>"),
        build_entry("c", timestamp=T0 + 1 * hour, model="claude-a"),
    ], project_path="/work/p", instance_id="i1")])
    first = session(cur, "s1")
    assert (first["entry_count"], first["model"]) == (3, "claude-b")
    assert (first["first_seen"], first["last_updated"]) == ("2026-01-01T13:00:00Z",
                                                            "2026-01-01T15:00:00Z")
    # An older entry arriving late widens first_seen but does not replace the model;
    # a re-sent entry with a different model and time replaces the stored copy.
    store.ingest(con, [build_request("s1", [
        build_entry("d", timestamp=T0, model="claude-old"),
        build_entry("a", timestamp=T0 + 9 * hour, model="claude-z"),
        build_entry("e", timestamp=T0 + 4 * hour, model=""),
    ], project_path="/elsewhere", instance_id="i2")])
    second = session(cur, "s1")
    assert second["entry_count"] == 5
    assert second["model"] == "claude-z"
    assert (second["first_seen"], second["last_updated"]) == ("2026-01-01T12:00:00Z",
                                                              "2026-01-01T21:00:00Z")
    assert second["project_path"] == "/work/p"  # a set project path is kept
    assert second["instance_id"] == "i2"  # the latest sender
    # A newer entry with a real model takes over.
    store.ingest(con, [build_request("s1", [build_entry("f", timestamp=T0 + 10 * hour,
                                                        model="claude-c")])])
    assert session(cur, "s1")["model"] == "claude-c"


def test_an_empty_project_path_is_filled_later(con, cur):
    store.ingest(con, [build_request("s1", [build_entry("a")], project_path=None)])
    assert session(cur, "s1")["project_path"] is None
    store.ingest(con, [build_request("s1", [build_entry("b")], project_path="/p")])
    assert session(cur, "s1")["project_path"] == "/p"


def test_the_first_request_in_a_group_sets_the_project_path(con, cur):
    store.ingest(con, [build_request("s1", [build_entry("a")], project_path="/first"),
                       build_request("s1", [build_entry("b")], project_path="/second")])
    assert session(cur, "s1")["project_path"] == "/first"


# -- usage ---------------------------------------------------------------------------------

def test_one_response_split_over_entries_counts_once_with_the_largest_output(con, cur):
    store.ingest(con, [build_request("s1", [
        build_entry("a", input_tokens=100, output_tokens=3, cache_read_tokens=50,
                    message_id="msg_1"),
        build_entry("b", input_tokens=100, output_tokens=40, cache_read_tokens=50,
                    message_id="msg_1"),
        build_entry("c", input_tokens=7, output_tokens=1),  # no message id: its own response
    ])])
    stats = store.stats(cur, T0, ":none:")
    assert stats["tokens"] == {"input": 107, "output": 41, "cache_read": 50, "cache_write": 0,
                               "reasoning": 0}
    assert tokens_of(session(cur, "s1")) == (107, 41, 50, 0, 0)
    [row] = store.usage(cur, "session", None, None, None)
    assert (row["entries"], row["sessions"]) == (3, 1)


def test_a_larger_copy_in_a_later_ingest_raises_the_count(con, cur):
    store.ingest(con, [build_request("s1", [build_entry("a", input_tokens=10, output_tokens=5,
                                                        message_id="m")])])
    store.ingest(con, [build_request("s1", [build_entry("b", input_tokens=10, output_tokens=90,
                                                        message_id="m")])])
    # a smaller copy afterwards lowers nothing
    store.ingest(con, [build_request("s1", [build_entry("c", input_tokens=2, output_tokens=1,
                                                        message_id="m")])])
    assert store.stats(cur, T0, ":none:")["tokens"]["output"] == 90
    assert store.stats(cur, T0, ":none:")["tokens"]["input"] == 10
    assert tokens_of(session(cur, "s1"))[:2] == (10, 90)


def test_a_response_replayed_in_another_session_stays_with_the_first(con, cur):
    # GIVEN a response first seen in s1
    store.ingest(con, [build_request("s1", [build_entry("a", input_tokens=10, output_tokens=5,
                                                        message_id="m")])])
    # WHEN a resumed session s2 replays it, once with a larger output
    store.ingest(con, [build_request("s2", [
        build_entry("x", input_tokens=10, output_tokens=5, message_id="m"),
        build_entry("y", input_tokens=10, output_tokens=8, message_id="m"),
        build_entry("z", input_tokens=1, output_tokens=1, message_id="m2"),
    ])])
    # THEN it is counted once, attributed to s1 with the largest output
    assert tokens_of(session(cur, "s1"))[:2] == (10, 8)
    assert tokens_of(session(cur, "s2"))[:2] == (1, 1)
    assert store.stats(cur, T0, ":none:")["tokens"]["output"] == 9
    by_session = {r["key"]: r for r in store.usage(cur, "session", None, None, None)}
    # AND each session's entries are its own: the replays are s2's
    assert (by_session["s1"]["output_tokens"], by_session["s1"]["entries"]) == (8, 1)
    assert (by_session["s2"]["output_tokens"], by_session["s2"]["entries"]) == (1, 3)
    assert session(cur, "s2")["entry_count"] == 3


def test_the_same_message_id_in_two_sources_is_two_responses(con, cur):
    store.ingest(con, [build_request("s1", [build_entry("a", output_tokens=5, message_id="m")]),
                       build_request("s2", [build_entry("a", output_tokens=7, message_id="m")],
                                     source="codex")])
    assert store.stats(cur, T0, ":none:")["tokens"]["output"] == 12


def test_entries_without_tokens_are_no_response(con, cur):
    store.ingest(con, [build_request("s1", [build_entry("a", text="no usage", message_id="m")])])
    assert count(con, "collected_usage") == 0
    assert store.usage(cur, "source", None, None, None) == [row("claude", 0, 0, 0, 0, 0, 1, 1)]


@pytest.fixture
def usage_data(con):
    """Three days of usage from two sources, two models, two projects and two agents."""
    day = timedelta(days=1)
    store.ingest(con, [
        build_request("s1", [
            build_entry("a", timestamp=T0, model="opus", input_tokens=100, output_tokens=10,
                        message_id="m1"),
            build_entry("b", timestamp=T0, model="opus", input_tokens=100, output_tokens=20,
                        message_id="m1"),
            build_entry("c", timestamp=T0 + day, model="haiku", input_tokens=5, output_tokens=5,
                        cache_write_tokens=3, message_id="m2"),
        ], project_path="/p1", instance_id="laptop"),
        build_request("s2", [
            build_entry("a", timestamp=T0 + 2 * day, model="gpt-5", input_tokens=50,
                        output_tokens=50, reasoning_tokens=30, cache_read_tokens=1),
        ], source="codex", project_path="/p2", instance_id="server"),
        build_request("s3", [
            build_entry("a", timestamp=None, model="opus", input_tokens=1, output_tokens=1),
        ], received_at=T0 + 2 * day),
    ])


def row(key, i, o, cr, cw, r, entries, sessions):
    return {"key": key, "input_tokens": i, "output_tokens": o, "cache_read_tokens": cr,
            "cache_write_tokens": cw, "reasoning_tokens": r, "entries": entries,
            "sessions": sessions}


@pytest.mark.parametrize("group_by, expected", [
    ("source", [row("claude", 106, 26, 0, 3, 0, 4, 2), row("codex", 50, 50, 1, 0, 30, 1, 1)]),
    ("model", [row("gpt-5", 50, 50, 1, 0, 30, 1, 1), row("opus", 101, 21, 0, 0, 0, 3, 2),
               row("haiku", 5, 5, 0, 3, 0, 1, 1)]),
    ("project", [row("/p1", 105, 25, 0, 3, 0, 3, 1), row("/p2", 50, 50, 1, 0, 30, 1, 1),
                 row(None, 1, 1, 0, 0, 0, 1, 1)]),
    ("day", [row("2026-01-03", 51, 51, 1, 0, 30, 2, 2), row("2026-01-01", 100, 20, 0, 0, 0, 2, 1),
             row("2026-01-02", 5, 5, 0, 3, 0, 1, 1)]),
    ("agent", [row("laptop", 105, 25, 0, 3, 0, 3, 1), row("server", 50, 50, 1, 0, 30, 1, 1),
               row(None, 1, 1, 0, 0, 0, 1, 1)]),
    ("session", [row("s1", 105, 25, 0, 3, 0, 3, 1), row("s2", 50, 50, 1, 0, 30, 1, 1),
                 row("s3", 1, 1, 0, 0, 0, 1, 1)]),
])
def test_usage_groups_largest_first(usage_data, cur, group_by, expected):
    assert store.usage(cur, group_by, None, None, None) == expected


def test_usage_since_is_inclusive_until_exclusive_and_source_filters(usage_data, cur):
    day = timedelta(days=1)
    assert [r["key"] for r in store.usage(cur, "day", T0 + day, None, None)] == [
        "2026-01-03", "2026-01-02"]
    assert [r["key"] for r in store.usage(cur, "day", None, T0 + day, None)] == ["2026-01-01"]
    assert [r["key"] for r in store.usage(cur, "day", T0, T0 + day, None)] == ["2026-01-01"]
    assert store.usage(cur, "source", None, None, "codex") == [
        row("codex", 50, 50, 1, 0, 30, 1, 1)]
    assert store.usage(cur, "source", T0 + 3 * day, None, None) == []
    with pytest.raises(ValueError):
        store.usage(cur, "hostname", None, None, None)


@pytest.fixture
def usage_without_tokens(usage_data, con):
    """usage_data, plus user lines in s1 and a Copilot session with no token figures at all."""
    day = timedelta(days=1)
    store.ingest(con, [
        build_request("s1", [build_entry("q1", role="user", timestamp=T0, text="why?"),
                             build_entry("q2", role="user", timestamp=T0 + day, text="and?")],
                      project_path="/p1", instance_id="laptop"),
        build_request("cop", [build_entry(f"c{n}", role="user" if n % 2 else "assistant",
                                          model=None if n % 2 else "gpt-4.1",
                                          timestamp=T0 + 3 * day) for n in range(38)],
                      source="copilot", project_path="/p3", instance_id="desk"),
    ])


@pytest.mark.parametrize("group_by, expected", [
    ("source", [row("claude", 106, 26, 0, 3, 0, 6, 2), row("codex", 50, 50, 1, 0, 30, 1, 1),
                row("copilot", 0, 0, 0, 0, 0, 38, 1)]),
    ("model", [row("gpt-5", 50, 50, 1, 0, 30, 1, 1), row("opus", 101, 21, 0, 0, 0, 3, 2),
               row("haiku", 5, 5, 0, 3, 0, 1, 1), row(None, 0, 0, 0, 0, 0, 21, 2),
               row("gpt-4.1", 0, 0, 0, 0, 0, 19, 1)]),
    ("project", [row("/p1", 105, 25, 0, 3, 0, 5, 1), row("/p2", 50, 50, 1, 0, 30, 1, 1),
                 row(None, 1, 1, 0, 0, 0, 1, 1), row("/p3", 0, 0, 0, 0, 0, 38, 1)]),
    ("day", [row("2026-01-03", 51, 51, 1, 0, 30, 2, 2), row("2026-01-01", 100, 20, 0, 0, 0, 3, 1),
             row("2026-01-02", 5, 5, 0, 3, 0, 2, 1), row("2026-01-04", 0, 0, 0, 0, 0, 38, 1)]),
    ("agent", [row("laptop", 105, 25, 0, 3, 0, 5, 1), row("server", 50, 50, 1, 0, 30, 1, 1),
               row(None, 1, 1, 0, 0, 0, 1, 1), row("desk", 0, 0, 0, 0, 0, 38, 1)]),
    ("session", [row("s1", 105, 25, 0, 3, 0, 5, 1), row("s2", 50, 50, 1, 0, 30, 1, 1),
                 row("s3", 1, 1, 0, 0, 0, 1, 1), row("cop", 0, 0, 0, 0, 0, 38, 1)]),
])
def test_usage_lists_every_key_with_all_its_entries_and_sessions(usage_without_tokens, cur,
                                                                  group_by, expected):
    # The issue: a Copilot session (no token figures) was missing from group_by=source,
    # and entries counted only the entries that carried tokens.
    assert store.usage(cur, group_by, None, None, None) == expected


def test_usage_filters_entries_without_tokens_like_the_rest(usage_without_tokens, cur):
    day = timedelta(days=1)
    assert store.usage(cur, "source", None, None, "copilot") == [
        row("copilot", 0, 0, 0, 0, 0, 38, 1)]
    assert store.usage(cur, "source", T0 + 3 * day, None, None) == [
        row("copilot", 0, 0, 0, 0, 0, 38, 1)]
    assert store.usage(cur, "day", T0 + day, T0 + 2 * day, None) == [
        row("2026-01-02", 5, 5, 0, 3, 0, 2, 1)]


def test_usage_of_a_project_filled_in_later_follows_the_session(con, cur):
    store.ingest(con, [build_request("s1", [build_entry("a", output_tokens=4)])])
    store.ingest(con, [build_request("s1", [build_entry("b")], project_path="/late")])
    assert [r["key"] for r in store.usage(cur, "project", None, None, None)] == ["/late"]


# -- search --------------------------------------------------------------------------------

def test_search_is_a_literal_substring_not_a_like_pattern(con, cur):
    store.ingest(con, [
        build_request("pct", [build_entry("a", text="coverage is 100% done")]),
        build_request("num", [build_entry("a", text="coverage is 1000 done")]),
        build_request("und", [build_entry("a", text="call my_func now")]),
        build_request("any", [build_entry("a", text="call myXfunc now")]),
        build_request("bsl", [build_entry("a", text=r"path C:\temp\x")]),
    ])
    assert [s["id"] for s in store.search(cur, "100%", 10)] == ["pct"]
    assert [s["id"] for s in store.search(cur, "%", 10)] == ["pct"]
    assert [s["id"] for s in store.search(cur, "my_f", 10)] == ["und"]
    assert [s["id"] for s in store.search(cur, "_", 10)] == ["und"]
    assert [s["id"] for s in store.search(cur, "\\temp", 10)] == ["bsl"]
    assert store.search(cur, "c%e", 10) == []
    assert store.search(cur, "absent", 10) == []


def test_search_ignores_case_both_ways(con, cur):
    store.ingest(con, [build_request("s1", [build_entry("a", text="A TypeError was raised")]),
                       build_request("s2", [build_entry("a", text="l'ÉCOLE est fermée")])])
    assert [s["id"] for s in store.search(cur, "typeerror", 10)] == ["s1"]
    assert [s["id"] for s in store.search(cur, "TYPEERROR WAS", 10)] == ["s1"]
    assert [s["id"] for s in store.search(cur, "école", 10)] == ["s2"]
    assert [s["id"] for s in store.search(cur, "FERMÉE", 10)] == ["s2"]


def test_search_counts_matching_entries_and_shows_the_first_match(con, cur):
    long_text = "x" * 500 + " the needle is here " + "y" * 500
    store.ingest(con, [build_request("s1", [
        build_entry("a", text="no match"),
        build_entry("b", text=long_text),
        build_entry("c", text="another NEEDLE"),
    ])])
    [hit] = store.search(cur, "needle", 10)
    assert hit["match_count"] == 2
    assert hit["entry_count"] == 3
    snippet = hit["snippet"]
    assert "the needle is here" in snippet
    assert snippet.startswith("…") and snippet.endswith("…")
    assert len(snippet) <= store.SNIPPET_CHARS + 2
    assert set(hit) == {"id", "source", "project_path", "instance_id", "model", "entry_count",
                        "first_seen", "last_updated", "match_count", "snippet", "user"}


def test_search_matches_tool_names_and_project_paths(con, cur):
    store.ingest(con, [
        build_request("tool", [build_entry("a", role="tool_use", tool_name="WebFetch",
                                           text="https://example.org")]),
        build_request("proj", [build_entry("a", text="unrelated")],
                      project_path="/home/dev/webfetcher"),
    ], )
    hits = {s["id"]: s for s in store.search(cur, "webfetch", 10)}
    assert hits["tool"]["snippet"] == "WebFetch"
    assert hits["tool"]["match_count"] == 1
    assert hits["proj"]["snippet"] == "/home/dev/webfetcher"
    assert hits["proj"]["match_count"] == 1


def test_search_orders_by_last_activity_and_honours_limit(con, cur):
    store.ingest(con, [build_request(f"s{i}", [build_entry("a", text="common word",
                                                           timestamp=T0 + timedelta(minutes=i))])
                       for i in range(5)])
    assert [s["id"] for s in store.search(cur, "common", 3)] == ["s4", "s3", "s2"]
    assert len(store.search(cur, "common", 500)) == 5


def test_many_hits_each_get_their_own_snippet(con, cur):
    count_ = 120
    store.ingest(con, [build_request(f"s{i:03d}", [build_entry("a", text=f"word #{i:03d} here"),
                                                   build_entry("b", text=f"word #{i:03d} again")])
                       for i in range(count_)])
    hits = store.search(cur, "word", 500)
    assert len(hits) == count_
    assert all(h["snippet"] == f"word #{h['id'][1:]} here" and h["match_count"] == 2
               for h in hits)


def test_short_queries_scan_every_entry(con, cur):
    store.ingest(con, [build_request("s1", [build_entry("a", text="Qz")]),
                       build_request("s2", [build_entry("a", text="zq!")])])
    assert sorted(s["id"] for s in store.search(cur, "qz", 10)) == ["s1"]
    assert sorted(s["id"] for s in store.search(cur, "Z", 10)) == ["s1", "s2"]


def test_search_finds_every_substring_of_stored_text(con, cur):
    # The sketch may only ever skip entries that cannot match: try many substrings.
    text = "Ünïcode → fine; MixedCase_under%score 😀 done"
    store.ingest(con, [build_request("s1", [build_entry("a", text=text)])])
    for start in range(len(text)):
        for length in (1, 3, 5):
            needle = text[start:start + length]
            assert store.search(cur, needle, 1), needle
            assert store.search(cur, needle.upper(), 1), needle.upper()


def test_a_match_after_a_widening_lowercase_keeps_the_snippet_aligned(con, cur):
    store.ingest(con, [build_request("s1", [build_entry("a", text="İİİİ then target word")])])
    [hit] = store.search(cur, "target", 10)
    assert hit["snippet"] == "İİİİ then target word"


# -- stats, sessions, entries --------------------------------------------------------------

def test_stats_totals_and_size_on_disk(con, cur, db_path):
    store.ingest(con, [build_request("s1", [build_entry("a", output_tokens=3),
                                            build_entry("b")], instance_id="i1"),
                       build_request("s2", [build_entry("a")])])
    stats = store.stats(cur, T0, db_path)
    assert (stats["total_traces"], stats["total_sessions"]) == (3, 2)
    assert (stats["total_agents"], stats["active_agents"]) == (1, 1)
    wal = db_path + ".wal"
    expected = os.path.getsize(db_path) + (os.path.getsize(wal) if os.path.exists(wal) else 0)
    assert stats["db_size_bytes"] == expected > 0
    assert store.stats(cur, T0 + timedelta(minutes=6), db_path)["active_agents"] == 0


def test_list_sessions_filters_by_source_and_project(con, cur):
    store.ingest(con, [
        build_request("s1", [build_entry("a", timestamp=T0)], project_path="/p"),
        build_request("s2", [build_entry("a", timestamp=T0 + timedelta(1))], source="codex",
                      project_path="/p"),
        build_request("s3", [build_entry("a", timestamp=T0 + timedelta(2))], project_path="/q"),
    ])
    assert [s["id"] for s in store.list_sessions(cur, 10, None, None)] == ["s3", "s2", "s1"]
    assert [s["id"] for s in store.list_sessions(cur, 2, None, None)] == ["s3", "s2"]
    assert [s["id"] for s in store.list_sessions(cur, 10, "claude", None)] == ["s3", "s1"]
    assert [s["id"] for s in store.list_sessions(cur, 10, None, "/p")] == ["s2", "s1"]
    assert store.list_sessions(cur, 10, "gemini", None) == []


def test_list_sessions_by_arrival_puts_a_backfill_of_old_history_first(con, cur):
    # s-old: a year-old session that arrived just now (a first export of old history)
    store.ingest(con, [build_request("s-new", [build_entry("a", timestamp=T0)])])
    store.ingest(con, [build_request("s-old", [build_entry("a", timestamp=T0 - timedelta(400))],
                                     received_at=T0 + timedelta(minutes=5))])
    by_time = [s["id"] for s in store.list_sessions(cur, 10, None, None)]
    by_arrival = [s["id"] for s in store.list_sessions(cur, 10, None, None, sort="received")]
    assert (by_time, by_arrival) == (["s-new", "s-old"], ["s-old", "s-new"])


def test_session_entries_by_timestamp_then_arrival_with_paging(con, cur):
    store.ingest(con, [build_request("s1", [
        build_entry("late", timestamp=T0 + timedelta(seconds=5), text="3"),
        build_entry("tie-1", timestamp=T0, text="1"),
        build_entry("tie-2", timestamp=T0, text="2", is_error=True, input_tokens=4),
    ])])
    page = store.session_entries(cur, "s1", 10, 0)
    assert page["total"] == 3
    entries = page["entries"]
    assert [e["uuid"] for e in entries] == ["tie-1", "tie-2", "late"]
    assert entries[1]["is_error"] is True and entries[1]["input_tokens"] == 4
    assert set(store.ENTRY_FIELDS) <= set(entries[0])
    assert [e["uuid"] for e in entries_page(cur, "s1", 1, 1)] == ["tie-2"]
    assert store.session_entries(cur, "s1", 10, 5) == {"entries": [], "total": 3}
    assert store.session_entries(cur, "nope", 10, 0) is None


def test_times_are_rfc3339_utc():
    assert store.rfc3339(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"
    assert store.rfc3339(datetime(2026, 1, 2, 3, 4, 5, 120000)) == "2026-01-02T03:04:05.120Z"
    assert store.rfc3339(datetime(2026, 1, 2, 3, 4, 5, 7)) == "2026-01-02T03:04:05.000007Z"
    assert store.rfc3339(None) is None


# -- agents --------------------------------------------------------------------------------

def test_an_ingest_is_a_heartbeat_that_counts_new_entries(con, cur):
    store.ingest(con, [build_request("s1", [build_entry("a"), build_entry("b")],
                                     instance_id="i1")])
    store.ingest(con, [build_request("s1", [build_entry("b"), build_entry("c")],
                                     instance_id="i1", received_at=T0 + timedelta(minutes=2))])
    [agent] = store.list_agents(cur, T0 + timedelta(minutes=3))
    assert agent == {"instance_id": "i1", "platform": "", "hostname": None, "version": None,
                     "started_at": None, "last_heartbeat": "2026-01-01T12:02:00Z",
                     "trace_count": 3, "status": "active", "user": None}


def test_registration_is_an_idempotent_upsert_that_keeps_trace_count(con, cur):
    store.ingest(con, [build_request("s1", [build_entry("a")], instance_id="i1")])
    agent = {"instance_id": "i1", "platform": "linux", "hostname": "dev1", "version": "1.0",
             "started_at": T0 - timedelta(hours=1), "machine_id": "mid", "project": "/p",
             "region": None, "metadata": '{"k": 1}'}
    first = store.register_agent(con, agent, T0 + timedelta(minutes=1))
    again = store.register_agent(con, agent, T0 + timedelta(minutes=1))
    assert first == again == {
        "instance_id": "i1", "platform": "linux", "hostname": "dev1", "version": "1.0",
        "started_at": "2026-01-01T11:00:00Z", "last_heartbeat": "2026-01-01T12:01:00Z",
        "trace_count": 1, "status": "active", "user": None}
    updated = store.register_agent(con, {"instance_id": "i1", "platform": "darwin",
                                         "version": "1.1"}, T0 + timedelta(minutes=2))
    assert (updated["platform"], updated["version"], updated["hostname"]) == ("darwin", "1.1",
                                                                              "dev1")
    assert store.list_agents(cur, T0 + timedelta(minutes=2)) == [updated]


def test_agents_go_stale_and_are_swept_after_retention(con, cur):
    retention = timedelta(days=7)
    with freeze_time("2026-01-01T12:00:00Z") as frozen:
        def now():  # naive UTC, as the writer passes it
            return datetime.now(timezone.utc).replace(tzinfo=None)

        store.register_agent(con, {"instance_id": "old", "platform": "linux"}, now())
        frozen.tick(timedelta(minutes=4))
        store.register_agent(con, {"instance_id": "new", "platform": "linux"}, now())
        assert store.sweep_agents(con, now(), retention) == (0, 0)
        frozen.tick(timedelta(minutes=2))  # old: 6 min since heartbeat, new: 2 min
        assert {a["instance_id"]: a["status"] for a in store.list_agents(cur, now())} == {
            "old": "stale", "new": "active"}
        assert store.sweep_agents(con, now(), retention) == (1, 0)
        assert store.sweep_agents(con, now(), retention) == (0, 0)
        # a heartbeat brings an agent back
        store.ingest(con, [build_request("s", [build_entry("a")], instance_id="old",
                                         received_at=now())])
        assert {a["instance_id"]: a["status"] for a in store.list_agents(cur, now())} == {
            "old": "active", "new": "active"}
        frozen.tick(retention)  # both stale, neither for longer than the retention
        assert store.sweep_agents(con, now(), retention) == (2, 0)
        frozen.tick(timedelta(minutes=6))
        assert store.sweep_agents(con, now(), retention) == (0, 2)
        assert store.list_agents(cur, now()) == []


# -- opening -------------------------------------------------------------------------------

def test_open_creates_the_directory_and_reopens_with_data(db_path):
    con = store.open_database(db_path)
    store.ingest(con, [build_request("s1", [build_entry("a")])])
    con.close()
    con = store.open_database(db_path, threads=2)
    try:
        assert count(con) == 1
        assert con.execute("SELECT current_setting('threads')").fetchone()[0] == 2
        threshold = con.execute("SELECT current_setting('checkpoint_threshold')").fetchone()[0]
        assert threshold.endswith("MiB") and float(threshold.split()[0]) > 200  # 256MB
        assert con.execute("SELECT max(version) FROM schema_version").fetchone()[0] == (
            store.SCHEMA_VERSION)
    finally:
        con.close()


def test_a_database_held_by_another_process_is_named_locked(db_path):
    os.makedirs(os.path.dirname(db_path))
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
                               "print('open', flush=True); sys.stdin.read()", db_path],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(store.StoreError) as caught:
            store.open_database(db_path)
        message = str(caught.value)
        assert db_path in message and "locked" in message and f"pid {holder.pid}" in message
        assert caught.value.status == ExitStatus.TEMPFAIL
    finally:
        holder.stdin.close()  # the holder exits when its stdin ends
        holder.wait(timeout=30)
        holder.stdout.close()


def test_a_file_that_is_not_a_database_is_refused_untouched(db_path):
    os.makedirs(os.path.dirname(db_path))
    with open(db_path, "wb") as fh:
        fh.write(b"this is a text file, not DuckDB\n" * 200)
    with pytest.raises(store.StoreError, match="not a DuckDB database") as caught:
        store.open_database(db_path)
    assert db_path in str(caught.value)
    with open(db_path, "rb") as fh:
        assert fh.read(11) == b"this is a t"


def test_a_file_named_like_a_lock_is_not_taken_for_locked(tmp_path):
    # The word "lock" in the path (blocker.duckdb) is not DuckDB saying the file is held.
    path = tmp_path / "blocker.duckdb"
    path.write_bytes(b"not a database at all\n" * 200)
    with pytest.raises(store.StoreError) as caught:
        store.open_database(str(path))
    assert "not a DuckDB database" in str(caught.value) and "locked" not in str(caught.value)
    assert caught.value.status == ExitStatus.CONFIG


def test_a_database_path_under_a_file_is_refused(tmp_path):
    (tmp_path / "plain").write_text("x")
    with pytest.raises(store.StoreError, match="Cannot create the directory"):
        store.open_database(str(tmp_path / "plain" / "collector.duckdb"))


def test_a_newer_schema_is_refused(db_path):
    store.open_database(db_path).close()
    raw = duckdb.connect(db_path)
    raw.execute("INSERT INTO schema_version VALUES (?, 'from the future', now()::TIMESTAMP)",
                [store.SCHEMA_VERSION + 1])
    raw.close()
    with pytest.raises(store.StoreError, match="newer") as caught:
        store.open_database(db_path)
    assert db_path in str(caught.value)


def test_thinkt_tables_without_a_schema_version_are_refused(db_path):
    os.makedirs(os.path.dirname(db_path))
    raw = duckdb.connect(db_path)
    m001_tables.apply(raw)
    raw.close()
    with pytest.raises(store.StoreError, match="no schema version"):
        store.open_database(db_path)


def make_old_database(db_path, version):
    """Create the database as schema version ``version`` of this code left it, with one
    entry (session 'old', uuid 'u1') written by version 1."""
    os.makedirs(os.path.dirname(db_path))
    raw = duckdb.connect(db_path)
    raw.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, "
                "description VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)")
    for number, migration in MIGRATIONS[:version]:
        migration.apply(raw)
        raw.execute("INSERT INTO schema_version VALUES (?, ?, TIMESTAMP '2025-12-01 00:00:00')",
                    [number, migration.DESCRIPTION])
        if number == 1:
            raw.execute("INSERT INTO collected_entries (session_id, uuid, seq, source, "
                        "received_at, role, \"timestamp\", text, tool_name) VALUES ('old', 'u1', "
                        "1, 'claude', TIMESTAMP '2025-12-01', 'user', TIMESTAMP '2025-12-01', "
                        "'Legacy ENTRY text', 'Bash')")
            raw.execute("INSERT INTO collected_sessions (session_id, source, entry_count, "
                        "first_seen, last_updated) VALUES ('old', 'claude', 1, "
                        "TIMESTAMP '2025-12-01', TIMESTAMP '2025-12-01')")
    raw.close()


def test_a_version_1_database_is_upgraded_in_place(db_path):
    # GIVEN a database as version 1 of this code left it, with an entry
    make_old_database(db_path, 1)
    # WHEN this code opens it
    con = store.open_database(db_path)
    try:
        # THEN it is upgraded, the rows are kept and the old entry is searchable
        versions = con.execute("SELECT version FROM schema_version ORDER BY 1").fetchall()
        assert [v for (v,) in versions] == list(range(1, store.SCHEMA_VERSION + 1))
        cur = con.cursor()
        assert [s["id"] for s in store.search(cur, "legacy entry", 10)] == ["old"]
        assert [s["id"] for s in store.search(cur, "bash", 10)] == ["old"]
        resent = build_entry("u1", role="user", timestamp=datetime(2025, 12, 1),
                             text="Legacy ENTRY text", tool_name="Bash")
        assert store.ingest(con, [build_request("old", [resent, build_entry("u2")])]) == [(1, 1)]
        assert session(cur, "old")["entry_count"] == 2
        store.migrate(con)  # idempotent
        assert len(con.execute("SELECT * FROM schema_version").fetchall()) == store.SCHEMA_VERSION
    finally:
        con.close()


def test_a_version_2_database_gets_the_truncation_columns_with_whole_texts(db_path):
    # GIVEN a database as version 2 of this code left it, with an entry
    make_old_database(db_path, 2)
    # WHEN this code opens it
    con = store.open_database(db_path)
    try:
        # THEN version 3 is recorded, the old entry is kept and reads as not cut
        versions = con.execute("SELECT version FROM schema_version ORDER BY 1").fetchall()
        assert [v for (v,) in versions] == list(range(1, store.SCHEMA_VERSION + 1))
        cur = con.cursor()
        [old] = entries_page(cur, "old", 10, 0)
        assert (old["uuid"], old["text"]) == ("u1", "Legacy ENTRY text")
        assert (old["text_truncated"], old["text_bytes"]) == (False, 0)
        # AND a cut entry can be stored next to it
        store.ingest(con, [build_request("old", [build_entry(
            "u2", timestamp=datetime(2025, 12, 2), text_truncated=True, text_bytes=99)])])
        assert [(e["uuid"], e["text_truncated"], e["text_bytes"])
                for e in entries_page(cur, "old", 10, 0)] == [
            ("u1", False, 0), ("u2", True, 99)]
    finally:
        con.close()


def test_memory_limit_caps_duckdb(tmp_path):
    con = store.open_database(str(tmp_path / "m.duckdb"), memory_limit=256 * 1024 * 1024)
    try:
        limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        assert limit in ("256.0 MiB", "256 MiB", "268.4 MB"), limit
    finally:
        con.close()
