"""People: who a session belongs to (the exporter's ``user``, stored as ``person``).

- usage groups by user (``group_by=user``) and filters on one (``user=``), the same on
  the hourly rollup and on the entries themselves; entries an exporter sent without a
  user count as their session's;
- sessions show their user and filter on it; agents show theirs, from registrations
  and from batches;
- a store of schema version 6 (no person anywhere) migrates in place and answers as
  before.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.collector import facade as store
from tests.collector.conftest import T0, build_entry, build_request
from tests.collector.test_rollup import recomputed, snapshot
from thinkt.collector import database, queries
from thinkt.collector.migrations import LATEST, m004_rollups

ALICE, BOB = "alice@example.com", "bob"
#: Bounds that read the hourly rollup, and bounds (not on the hour) that read the entries,
#: both around every entry of :func:`team`.
HOURLY = (T0 - timedelta(hours=1), T0 + timedelta(hours=5))
BY_TIME = (T0 - timedelta(minutes=1), T0 + timedelta(hours=4, minutes=1))


@pytest.fixture
def team(con):
    """Alice's and Bob's sessions, one from an exporter without a user, and a late entry
    of Alice's session sent by an exporter that named no user."""
    store.ingest(con, [
        build_request("a1", [build_entry("a-1", input_tokens=10, output_tokens=1,
                                         message_id="m1"),
                             build_entry("a-2", role="user")],
                      instance_id="i-alice", person=ALICE),
        build_request("b1", [build_entry("b-1", input_tokens=100,
                                         timestamp=T0 + timedelta(minutes=30))],
                      instance_id="i-bob", person=BOB),
        build_request("n1", [build_entry("n-1", input_tokens=1000)], instance_id="i-old"),
    ])
    store.ingest(con, [build_request("a1", [build_entry("a-3", input_tokens=5,
                                                        timestamp=T0 + timedelta(hours=2))],
                                     instance_id="i-older")])
    return con


def test_usage_by_user_counts_entries_without_one_as_their_sessions(team, cur):
    rows = store.usage(cur, "user", None, None, None)
    assert [(r["key"], r["input_tokens"], r["output_tokens"], r["entries"], r["sessions"])
            for r in rows] == [(None, 1000, 0, 1, 1), (BOB, 100, 0, 1, 1), (ALICE, 15, 1, 3, 1)]


@pytest.mark.parametrize("group_by", queries.GROUP_BY)
@pytest.mark.parametrize("user", [None, ALICE, BOB, "nobody"])
def test_the_hourly_rollup_and_the_entries_give_the_same_usage(team, cur, group_by, user):
    hourly = store.usage(cur, group_by, *HOURLY, None, user=user)
    assert hourly == store.usage(cur, group_by, None, None, None, user=user)
    assert hourly == store.usage(cur, group_by, *BY_TIME, None, user=user)


@pytest.mark.parametrize("bounds", [(None, None), BY_TIME])
def test_the_user_filter_keeps_that_users_row_whole(team, cur, bounds):
    everyone = {r["key"]: r for r in store.usage(cur, "user", *bounds, None)}
    for user in (ALICE, BOB):
        assert store.usage(cur, "user", *bounds, None, user=user) == [everyone[user]]
        [total] = store.usage(cur, "source", *bounds, None, user=user)
        assert total == dict(everyone[user], key="claude")
    assert store.usage(cur, "user", *bounds, None, user="Alice@example.com") == []  # exact


def test_the_user_filter_goes_with_the_other_filters(team, cur):
    # Alice's late entry (two hours on) is cut off by until; a gemini filter leaves nothing
    [row] = store.usage(cur, "session", None, T0 + timedelta(hours=1), None, user=ALICE)
    assert (row["key"], row["input_tokens"], row["entries"]) == ("a1", 10, 2)
    assert store.usage(cur, "session", None, None, "gemini", user=ALICE) == []


def test_sessions_show_their_user_and_filter_on_it(team, cur):
    sessions = {s["id"]: s for s in store.list_sessions(cur, 10, None, None)}
    assert {i: s["user"] for i, s in sessions.items()} == {"a1": ALICE, "b1": BOB, "n1": None}
    assert [s["id"] for s in store.list_sessions(cur, 10, None, None, user=ALICE)] == ["a1"]
    assert store.list_sessions(cur, 10, None, None, user="nobody") == []


def test_search_results_show_the_user_too(con, cur):
    store.ingest(con, [build_request("a1", [build_entry("a", text="find me")], person=ALICE)])
    assert [(s["id"], s["user"]) for s in store.search(cur, "find me", 10)] == [("a1", ALICE)]


def test_a_session_shows_its_latest_user_and_usage_stays_with_the_first(team, cur, con):
    store.ingest(con, [build_request("b1", [build_entry("b-1", input_tokens=100,
                                                        timestamp=T0 + timedelta(minutes=30)),
                                            build_entry("b-2", role="user")],
                                     instance_id="i-bob", person="robert")])
    [session] = store.list_sessions(cur, 10, None, None, user="robert")
    assert session["id"] == "b1"
    by_user = {r["key"]: (r["input_tokens"], r["entries"])
               for r in store.usage(cur, "user", None, None, None)}
    # the resent response keeps its first user; the new entry is robert's
    assert by_user[BOB] == (100, 1) and by_user["robert"] == (0, 1)


def test_agents_show_the_user_of_their_registration_or_batches(team, cur, con):
    agents = {a["instance_id"]: a["user"] for a in store.list_agents(cur, T0)}
    assert agents == {"i-alice": ALICE, "i-bob": BOB, "i-old": None, "i-older": None}
    # a registration sets it; one without a user keeps it; a batch without one too
    registered = store.register_agent(con, {"instance_id": "i-old", "platform": "linux",
                                            "user": "carol"}, T0)
    assert registered["user"] == "carol"
    assert store.register_agent(con, {"instance_id": "i-old", "platform": "linux"},
                                T0)["user"] == "carol"
    store.ingest(con, [build_request("n1", [build_entry("n-2")], instance_id="i-old")])
    store.ingest(con, [build_request("a1", [build_entry("a-4")], instance_id="i-alice",
                                     person="alice@new.example.com")])
    agents = {a["instance_id"]: a["user"] for a in store.list_agents(cur, T0)}
    assert agents["i-old"] == "carol" and agents["i-alice"] == "alice@new.example.com"


# -- a store of version 6 --------------------------------------------------------------------

def as_version_6(con) -> None:
    """Turn a store this code made, without any person, into the one version 6 made."""
    for table in ("collected_entries", "collected_sessions", "collected_usage",
                  "collected_agents"):
        assert not con.execute(f"SELECT count(person) FROM {table}").fetchone()[0]
        con.execute(f"ALTER TABLE {table} DROP COLUMN person")
    con.execute("CREATE TABLE cells AS SELECT * EXCLUDE (person) FROM usage_hourly")
    con.execute("DROP TABLE usage_hourly")
    [create] = [s for s in m004_rollups.STATEMENTS if "CREATE TABLE usage_hourly" in s]
    con.execute(create)
    con.execute("INSERT INTO usage_hourly SELECT * FROM cells")
    con.execute("DROP TABLE cells")
    # and without what later versions added (8: the telemetry tables; 9: the audit log)
    for table in ("telemetry_sessions", "telemetry_requests", "metric_points", "metric_state",
                  "audit_log"):
        con.execute(f"DROP TABLE {table}")
    con.execute("DROP SEQUENCE audit_log_id")
    con.execute("DELETE FROM schema_version WHERE version >= 7")


def answers(cur) -> dict:
    return {"usage": {g: store.usage(cur, g, None, None, None) for g in queries.GROUP_BY},
            "usage_by_time": store.usage(cur, "model", *BY_TIME, None),
            "sessions": store.list_sessions(cur, 50, None, None),
            "agents": store.list_agents(cur, T0)}


def test_a_version_6_store_migrates_in_place_and_answers_as_before(db_path):
    # GIVEN a store as version 6 left it: sessions, responses, agents, no person anywhere
    con = store.open_database(db_path)
    store.ingest(con, [
        build_request(f"s{n}", [build_entry(f"u{n}-{k}", input_tokens=n + k, message_id=f"m{n}",
                                            timestamp=T0 + timedelta(minutes=25 * k))
                                for k in range(4)],
                      instance_id=f"i{n % 2}", project_path=f"/p{n % 3}")
        for n in range(6)])
    store.register_agent(con, {"instance_id": "i0", "platform": "linux"}, T0)
    before = answers(con.cursor())
    as_version_6(con)
    con.close()
    # WHEN this code opens it
    con = database.open_database(db_path)
    try:
        cur = con.cursor()
        # THEN the latest version is recorded, and every answer is what it was
        assert con.execute("SELECT max(version) FROM schema_version").fetchone()[0] == LATEST
        assert answers(cur) == before
        [nobody] = before["usage"]["user"]
        assert nobody["key"] is None and nobody["entries"] == 24
        assert snapshot(con) == recomputed(con)
        # AND a new entry with a user goes in beside the old cells of its hour and session,
        # whose entries become that user's (the session's, as they name none)
        store.ingest(con, [build_request("s0", [build_entry("new", input_tokens=7)],
                                         instance_id="i0", person=ALICE)])
        assert con.execute("SELECT count(*) FROM usage_hourly WHERE session_id = 's0' "
                           "AND hour = ? AND person = ?", [T0, ALICE]).fetchone()[0] == 1
        assert [(r["key"], r["input_tokens"], r["entries"])
                for r in store.usage(cur, "user", *HOURLY, None)][-1] == (ALICE, 3 + 7, 5)
        assert snapshot(con) == recomputed(con)
        assert store.list_agents(cur, T0)[0]["user"] == ALICE
    finally:
        con.close()
