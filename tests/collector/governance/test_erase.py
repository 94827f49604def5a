"""Erasure in the store: what a selector names is gone from every table, the rest answers
as before, and the rollup equals a recompute from what remains."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from tests.collector import facade as store
from tests.collector.conftest import T0, build_entry, build_request
from tests.collector.test_rollup import recomputed, snapshot
from thinkt.collector import queries
from thinkt.collector.governance.erase import Selector, audit_log, erase

NOW = T0 + timedelta(days=30)


@pytest.fixture
def con(tmp_path):
    con = store.open_database(str(tmp_path / "collector.duckdb"))
    store.ingest(con, [
        build_request("s-ana-1", [build_entry("a1", role="user", text="deploy the api"),
                                  build_entry("a2", input_tokens=100, message_id="m-a2",
                                              model="claude-sonnet-4-5")],
                      person="ana@example.com", instance_id="laptop-ana",
                      project_path="/work/api"),
        build_request("s-ana-2", [build_entry("a3", text="old work",
                                              timestamp=T0 - timedelta(days=10),
                                              input_tokens=7, message_id="m-a3")],
                      person="ana@example.com", instance_id="laptop-ana",
                      project_path="/work/web", source="codex"),
        build_request("s-bob-1", [build_entry("b1", text="fix the web build",
                                              input_tokens=40, message_id="m-b1"),
                                  build_entry("b2", text="later", input_tokens=2,
                                              message_id="m-b2",
                                              timestamp=T0 + timedelta(hours=2))],
                      person="bob@example.com", instance_id="laptop-bob",
                      project_path="/work/web"),
    ])
    store.register_agent(con, {"instance_id": "laptop-ana", "platform": "linux"}, T0)
    store.register_agent(con, {"instance_id": "laptop-bob", "platform": "linux"}, T0)
    yield con
    con.close()


def sessions(con) -> set[str]:
    return {row[0] for row in con.execute("SELECT session_id FROM collected_sessions").fetchall()}


def usage_by_session(con) -> dict:
    return {row["key"]: row["input_tokens"]
            for row in queries.usage(con.cursor(), "session", None, None, None)}


def test_one_session_is_gone_from_every_table_and_the_others_stay(con):
    removed = erase(con, Selector("session", "s-ana-1"), actor="ops", now=NOW)
    assert removed == {"entries": 2, "sessions": 1, "api_responses": 1,
                       "telemetry_requests": 0, "metric_points": 0, "agents": 0}
    assert sessions(con) == {"s-ana-2", "s-bob-1"}
    assert usage_by_session(con) == {"s-ana-2": 7, "s-bob-1": 42}
    assert store.search(con.cursor(), "deploy", 10) == []
    assert snapshot(con) == recomputed(con)
    [row] = audit_log(con.cursor())
    assert (row["actor"], row["action"], row["target"]) == ("ops", "delete",
                                                            {"session": "s-ana-1"})
    assert row["removed"]["entries"] == 2
    agents = {a["instance_id"]: a["trace_count"] for a in store.list_agents(con.cursor(), NOW)}
    assert agents == {"laptop-ana": 1, "laptop-bob": 2}


def test_a_person_takes_their_sessions_agents_and_usage_with_them(con):
    removed = erase(con, Selector("user", "ana@example.com"), actor="ops", now=NOW)
    assert removed["entries"] == 3 and removed["sessions"] == 2 and removed["agents"] == 1
    assert sessions(con) == {"s-bob-1"}
    assert [a["instance_id"] for a in store.list_agents(con.cursor(), NOW)] == ["laptop-bob"]
    assert [row["key"] for row in queries.usage(con.cursor(), "user", None, None,
                                                None)] == ["bob@example.com"]
    assert snapshot(con) == recomputed(con)


def test_a_project_and_an_agent(con):
    erase(con, Selector("project", "/work/web"), actor="ops", now=NOW)
    assert sessions(con) == {"s-ana-1"}
    erase(con, Selector("agent", "laptop-ana"), actor="ops", now=NOW)
    assert sessions(con) == set()
    assert [a["instance_id"] for a in store.list_agents(con.cursor(), NOW)] == ["laptop-bob"]
    assert snapshot(con) == recomputed(con)


def test_before_a_time_removes_part_of_a_session_and_its_figures_follow(con):
    removed = erase(con, Selector("before", T0 + timedelta(hours=1)), actor="ops", now=NOW)
    assert removed["entries"] == 4  # a1, a2, a3, b1: b2 is later
    assert sessions(con) == {"s-bob-1"}
    assert usage_by_session(con) == {"s-bob-1": 2}
    [bob] = store.list_sessions(con.cursor(), 10, None, None)
    assert bob["entry_count"] == 1
    assert snapshot(con) == recomputed(con)


def test_only_one_source(con):
    erase(con, Selector("before", NOW, source="codex"), actor="ops", now=NOW)
    assert sessions(con) == {"s-ana-1", "s-bob-1"}


def test_a_dry_run_counts_exactly_and_removes_nothing(con):
    before = snapshot(con)
    counted = erase(con, Selector("user", "bob@example.com"), actor="ops", now=NOW,
                    dry_run=True)
    assert snapshot(con) == before
    assert audit_log(con.cursor()) == []
    assert erase(con, Selector("user", "bob@example.com"), actor="ops", now=NOW) == counted


def test_nothing_selected_removes_nothing_and_is_not_audited(con):
    assert not any(erase(con, Selector("session", "no-such"), actor="ops", now=NOW).values())
    assert audit_log(con.cursor()) == []


def test_a_limit_removes_the_earliest_arrivals_first(con):
    removed = erase(con, Selector("before", NOW), actor="collector", now=NOW, limit=2,
                    action="retention")
    assert removed["entries"] == 2
    assert sessions(con) == {"s-ana-2", "s-bob-1"}  # a1, a2 arrived first
    assert snapshot(con) == recomputed(con)
    assert json.dumps(audit_log(con.cursor())[0]["target"]).startswith('{"before": "2026-01-31')


def test_telemetry_of_the_session_and_person_goes_too(con):
    con.execute("""INSERT INTO telemetry_requests (source, request_key, session_id, person,
                       input_tokens, received_at)
                   VALUES ('claude', 'req_1', 's-tel', 'cy@example.com', 5, ?),
                          ('claude', 'req_2', 's-other', 'dee@example.com', 5, ?)""", [T0, T0])
    con.execute("""INSERT INTO metric_points (series_id, start_time, "time", source, name, unit,
                       kind, person, value, received_at)
                   VALUES ('x', ?, ?, 'claude', 'claude_code.commit.count', '', 'sum',
                           'cy@example.com', 1, ?)""", [T0, T0, T0])
    con.execute("INSERT INTO metric_state VALUES (?, ?, ?, 1, NULL)",
                ['["claude_code.commit.count",{"user.email":"cy@example.com"}]', T0, T0])
    removed = erase(con, Selector("user", "cy@example.com"), actor="ops", now=NOW)
    assert removed["telemetry_requests"] == 1 and removed["metric_points"] == 1
    assert con.execute("SELECT count(*) FROM metric_state").fetchone()[0] == 0
    assert con.execute("SELECT session_id FROM telemetry_requests").fetchall() == [("s-other",)]


def test_a_selector_is_checked():
    with pytest.raises(ValueError, match="cannot erase by 'machine'"):
        Selector("machine", "x")
    with pytest.raises(ValueError):
        Selector("before", "2026-01-01")
    assert Selector("before", datetime(2026, 1, 1)).describe() == '{"before": "2026-01-01T00:00:00Z"}'
