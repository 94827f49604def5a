"""Retention in the writer, with an injected clock: old entries go in small steps at start
and every minute, per source, with the rollup kept equal to a recompute."""

from __future__ import annotations

import queue
from datetime import datetime, timedelta

import pytest

from tests.collector import facade as store
from tests.collector.conftest import build_entry, build_request
from tests.collector.test_rollup import recomputed, snapshot
from tests.collector.test_writer import CapturingReplies
from thinkt.collector import queries
from thinkt.collector.channel import Admin, Ok
from thinkt.collector.governance import retention as retention_module
from thinkt.collector.governance.erase import audit_log
from thinkt.collector.governance.retention import Retention
from thinkt.collector.writer import Writer

NOW = datetime(2026, 12, 1, 12, 0)


class Clock:
    """The writer's monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def con(tmp_path):
    con = store.open_database(str(tmp_path / "collector.duckdb"))
    requests = []
    for age in (1, 10, 40, 100):  # days before NOW
        for source in ("claude", "codex"):
            when = NOW - timedelta(days=age)
            requests.append(build_request(
                f"{source}-{age}", [build_entry(f"{source}-{age}-{k}", timestamp=when,
                                                input_tokens=10, message_id=f"{source}{age}{k}")
                                    for k in range(3)], source=source, received_at=when))
    store.ingest(con, requests)
    yield con
    con.close()


def writer(con, keep: Retention, clock: Clock) -> Writer:
    return Writer(con, queue.Queue(), CapturingReplies(), keep=keep, clock=lambda: NOW,
                  monotonic=clock)


def sessions(con) -> list[str]:
    return sorted(row[0] for row in con.execute(
        "SELECT session_id FROM collected_sessions").fetchall())


def test_the_sweep_runs_at_start_per_source_and_keeps_the_rollup_consistent(con):
    clock = Clock()
    w = writer(con, Retention(30, {"codex": 5}), clock)
    w._housekeeping()
    assert sessions(con) == ["claude-1", "claude-10", "codex-1"]
    assert snapshot(con) == recomputed(con)
    assert {row["key"] for row in queries.usage(con.cursor(), "session", None, None,
                                                None)} == {"claude-1", "claude-10", "codex-1"}
    actions = {(row["actor"], row["action"]) for row in audit_log(con.cursor())}
    assert actions == {("collector", "retention")}


def test_nothing_is_removed_without_retention(con):
    clock = Clock()
    w = writer(con, Retention(), clock)
    w._housekeeping()
    assert len(sessions(con)) == 8


def test_big_backlogs_go_in_batches_one_per_writer_loop(con, monkeypatch):
    monkeypatch.setattr(retention_module, "BATCH", 4)
    clock = Clock()
    w = writer(con, Retention(30), clock)
    w._retain()
    # 12 entries are past 30 days (40 and 100 days, two sources): 4 went, and the next
    # step is due at once, not in a minute.
    assert con.execute("SELECT count(*) FROM collected_entries").fetchone()[0] == 24 - 4
    assert w.sweep.due()
    w._retain()
    w._retain()
    assert con.execute("SELECT count(*) FROM collected_entries").fetchone()[0] == 12
    w._retain()  # finds nothing: the next look is a minute away
    assert not w.sweep.due()
    clock.now += 61
    assert w.sweep.due()
    assert snapshot(con) == recomputed(con)


def test_the_dry_run_says_what_the_sweep_will_remove(con):
    clock = Clock()
    w = writer(con, Retention(30, {"codex": 0}), clock)
    w.commit([Admin("w", 1, "retention_plan", {})])
    [(_, answer)] = w.replies.sent
    assert isinstance(answer, Ok)
    plan = answer.result
    assert set(plan["sources"]) == {"claude"}  # codex keeps everything
    assert plan["sources"]["claude"]["removes"]["entries"] == 6
    assert len(sessions(con)) == 8  # nothing removed
    w._housekeeping()
    assert len(sessions(con)) == 6


def test_an_erasure_through_the_writer_is_answered_and_audited(con):
    clock = Clock()
    w = writer(con, Retention(), clock)
    w.commit([Admin("w", 7, "erase", {"kind": "session", "value": "codex-1",
                                       "actor": "ops", "dry_run": False})])
    [(_, answer)] = w.replies.sent
    assert answer == Ok(7, {"removed": {"entries": 3, "sessions": 1, "api_responses": 3,
                                        "telemetry_requests": 0, "metric_points": 0,
                                        "agents": 0}, "dry_run": False})
    assert "codex-1" not in sessions(con)
    assert audit_log(con.cursor())[0]["actor"] == "ops"


def test_a_bad_erasure_is_refused_not_fatal(con):
    w = writer(con, Retention(), Clock())
    w.commit([Admin("w", 1, "erase", {"kind": "machine", "value": "x", "actor": "ops"})])
    [(_, answer)] = w.replies.sent
    assert answer.reason == "rejected" and "cannot erase by 'machine'" in answer.message


def test_the_config_files_retention_table_is_days_per_source():
    from thinkt.collector.command import parse_retention
    from thinkt.status import ConfigError

    assert parse_retention({"Codex": 30, "gemini": 0}) == {"codex": 30, "gemini": 0}
    for bad in ({"codex": "30"}, {"codex": -1}, {"codex": True}, [30]):
        with pytest.raises(ConfigError, match="retention"):
            parse_retention(bad)
