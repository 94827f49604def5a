"""The writer's side of telemetry: which path tells a session, API request rows, metric deltas.

In-process (a Writer on a real DuckDB file, fed through its queue), so the rule of
precedence.py is tested at every order of arrival, including both paths in one group
commit; test_live.py shows the same with real processes and the SDK.
"""

from __future__ import annotations

import queue
from datetime import datetime, timedelta, timezone

import pytest

from tests.collector import facade as store
from tests.collector.test_rollup import recomputed, snapshot
from tests.collector.test_writer import RECEIVED, CapturingReplies
from thinkt.collector import queries
from thinkt.collector.channel import (Export, Ingest, Ingested, Ok, TelemetryBatch,
                                      TelemetryStored)
from thinkt.collector.otlp.decode import MetricPoint
from thinkt.collector.otlp.entries import to_batches
from thinkt.collector.otlp.records import ApiRequest, Prompt
from thinkt.collector.schemas import load_entries
from thinkt.collector.writer import Writer

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def db(tmp_path):
    con = store.open_database(str(tmp_path / "collector.duckdb"))
    yield con
    con.close()


def api_request(session: str, key: str, minutes: int = 0, tokens: int = 100,
                source: str = "claude", user: str | None = "ana@example.com") -> ApiRequest:
    return ApiRequest(source=source, session_id=session, time=T0 + timedelta(minutes=minutes),
                      user=user, transcript_id=key, model="claude-sonnet-4-5",
                      input_tokens=tokens, output_tokens=tokens // 2, cache_read_tokens=0,
                      cache_write_tokens=0, reasoning_tokens=0, cost_usd=0.25,
                      duration_ms=900.0, request_key=key)


def prompt(session: str, key: str, text: str | None = "fix the build") -> Prompt:
    return Prompt(source="claude", session_id=session, time=T0, user="ana@example.com",
                  text=text, length=len(text or ""), prompt_id=key, key=key)


def export(records=(), points=(), req_id: int = 1) -> Export:
    batches = to_batches(list(records), RECEIVED)
    assert not batches.rejected, batches.reasons
    requests = [r for r in records if isinstance(r, ApiRequest)]
    return Export("w", req_id, TelemetryBatch(batches.batches, requests, list(points), RECEIVED))


def transcript(session: str, responses: dict[str, int], req_id: int = 1) -> Ingest:
    """An exporter's batch: a prompt and one assistant line per response (tokens)."""
    raw = [{"uuid": f"{session}-prompt", "role": "user", "text": "fix the build",
            "timestamp": T0.isoformat()}]
    raw += [{"uuid": f"{session}-{key}", "role": "assistant", "model": "claude-sonnet-4-5",
             "message_id": f"msg-{session}-{key}", "input_tokens": tokens,
             "output_tokens": tokens // 2,
             "timestamp": (T0 + timedelta(minutes=1)).isoformat()}
            for key, tokens in responses.items()]
    rows, errors = load_entries(raw)
    assert not errors
    return Ingest("w", req_id, store.IngestRequest(
        source="claude", session_id=session, project_path="/work/app", instance_id=None,
        machine_id=None, metadata=None, received_at=RECEIVED, entries=rows))


def run(db, *groups):
    """Commit each group of items in one transaction (as one gathered group would be)."""
    replies = CapturingReplies()
    writer = Writer(db, queue.Queue(), replies)
    for group in groups:
        writer.commit(list(group))
    writer.rollup.refresh(db)
    return writer, [message for _, message in replies.sent]


def session_tokens(db) -> dict:
    rows = queries.usage(db.cursor(), "session", None, None, None)
    return {row["key"]: row["input_tokens"] for row in rows}


def entry_uuids(db, session: str) -> list[str]:
    return [row[0] for row in db.execute(
        "SELECT uuid FROM collected_entries WHERE session_id = ? ORDER BY uuid",
        [session]).fetchall()]


def test_a_session_told_only_by_telemetry_counts_its_telemetry(db):
    _, sent = run(db, [export([prompt("s", "p1"), api_request("s", "req_1"),
                               api_request("s", "req_2", tokens=40)])])
    assert sent == [Ok(1, TelemetryStored(entries_new=3, entries_duplicate=0,
                                          entries_superseded=0, requests_new=2,
                                          points_new=0))]
    assert session_tokens(db) == {"s": 140}
    assert entry_uuids(db, "s") == ["otel:p1", "otel:req_1", "otel:req_2"]
    person, = db.execute("SELECT person FROM collected_sessions").fetchone()
    assert person == "ana@example.com"


def test_the_transcript_arriving_later_replaces_the_telemetry(db):
    writer, sent = run(db, [export([prompt("s", "p1"), api_request("s", "req_1")])],
                       [transcript("s", {"r1": 100}, req_id=2)])
    assert sent[1] == Ok(2, Ingested(new=2, replaced=0, duplicates=0))
    assert session_tokens(db) == {"s": 100}  # once, not 200
    assert entry_uuids(db, "s") == ["s-prompt", "s-r1"]
    assert db.execute("SELECT count(*) FROM telemetry_sessions").fetchone()[0] == 0
    assert writer.precedence.telemetry_told == set()
    # The API request event itself is kept, with what the transcript lacks.
    assert db.execute("SELECT cost_usd, duration_ms FROM telemetry_requests").fetchall() == [
        (0.25, 900.0)]
    assert snapshot(db) == recomputed(db)


def test_telemetry_arriving_after_the_transcript_makes_no_entries(db):
    _, sent = run(db, [transcript("s", {"r1": 100})],
                  [export([prompt("s", "p1"), api_request("s", "req_1")], req_id=2)])
    assert sent[1] == Ok(2, TelemetryStored(entries_new=0, entries_duplicate=0,
                                            entries_superseded=2, requests_new=1,
                                            points_new=0))
    assert session_tokens(db) == {"s": 100}
    assert entry_uuids(db, "s") == ["s-prompt", "s-r1"]


def test_telemetry_after_a_transcript_not_yet_folded_in_makes_no_entries(db):
    # The transcript's session is not in collected_sessions until the rollup runs: the
    # entries past the watermark tell it too.
    replies = CapturingReplies()
    writer = Writer(db, queue.Queue(), replies)
    writer.commit([transcript("s", {"r1": 100})])
    assert writer.rollup.pending()
    writer.commit([export([api_request("s", "req_1")], req_id=2)])
    assert replies.sent[1][1].result.entries_superseded == 1
    writer.rollup.refresh(db)
    assert session_tokens(db) == {"s": 100}


def test_both_paths_in_one_group_commit_count_once(db):
    for order in ((0, 1), (1, 0)):
        session = f"s{order[0]}"
        items = [export([api_request(session, f"req-{session}")]),
                 transcript(session, {"r1": 100}, req_id=2)]
        run(db, [items[i] for i in order])
        assert session_tokens(db)[session] == 100
        assert not [u for u in entry_uuids(db, session) if u.startswith("otel:")]
    assert snapshot(db) == recomputed(db)


def test_a_resent_export_is_stored_once(db):
    records = [prompt("s", "p1"), api_request("s", "req_1")]
    _, sent = run(db, [export(records)], [export(records, req_id=2)])
    assert sent[1] == Ok(2, TelemetryStored(entries_new=0, entries_duplicate=2,
                                            entries_superseded=0, requests_new=0,
                                            points_new=0))
    assert session_tokens(db) == {"s": 100}


def test_a_restarted_writer_remembers_which_sessions_telemetry_tells(db):
    run(db, [export([api_request("s", "req_1")])])
    writer, _ = run(db, [transcript("s", {"r1": 70})])
    assert session_tokens(db) == {"s": 70}
    assert writer.precedence.telemetry_told == set()


def test_other_sessions_keep_their_telemetry(db):
    run(db, [export([api_request("a", "req_a"), api_request("b", "req_b", tokens=30)])],
        [transcript("a", {"r1": 100})])
    assert session_tokens(db) == {"a": 100, "b": 30}
    assert snapshot(db) == recomputed(db)


# -- metric points ---------------------------------------------------------------------

def point(value: float, seconds: int, temporality: str = "cumulative",
          start: int = 0, name: str = "claude_code.token.usage") -> MetricPoint:
    return MetricPoint(name=name, unit="tokens", kind="sum", temporality=temporality,
                       monotonic=True, start_time=T0 + timedelta(seconds=start),
                       time=T0 + timedelta(seconds=seconds), value=value, count=None,
                       attrs={"type": "input", "session.id": "s", "model": "m"},
                       resource_attrs={"service.name": "claude-code"}, scope_name="x")


def deltas(db) -> list[float]:
    return [row[0] for row in db.execute(
        'SELECT value FROM metric_points ORDER BY "time"').fetchall()]


def test_cumulative_points_are_stored_as_deltas_and_resends_add_nothing(db):
    first, second = point(100, 10), point(150, 20)
    _, sent = run(db, [export(points=[first])], [export(points=[second], req_id=2)],
                  [export(points=[second, first], req_id=3)])
    assert [message.result.points_new for message in sent] == [1, 1, 0]
    assert deltas(db) == [100, 50]


def test_a_restarted_series_counts_from_its_new_start(db):
    run(db, [export(points=[point(100, 10)])],
        [export(points=[point(30, 40, start=35)], req_id=2)])
    assert deltas(db) == [100, 30]


def test_the_series_state_survives_a_writer_restart(db):
    run(db, [export(points=[point(100, 10)])])
    run(db, [export(points=[point(160, 20)])])  # a new Writer: the cache is empty
    assert deltas(db) == [100, 60]


def test_delta_points_resent_are_stored_once(db):
    delta = point(25, 20, temporality="delta", start=10)
    run(db, [export(points=[delta])], [export(points=[delta], req_id=2)])
    assert deltas(db) == [25]


def test_a_rolled_back_commit_leaves_no_series_state_behind(db, monkeypatch):
    replies = CapturingReplies()
    writer = Writer(db, queue.Queue(), replies)

    def failing(con, requests, also=None):
        if also is not None:
            also(con)
        raise store.duckdb.IOException("No space left on device")

    monkeypatch.setattr(writer.log, "ingest", failing)
    writer.commit([export(points=[point(100, 10)])])
    assert replies.sent[-1][1].reason == "unavailable"
    monkeypatch.undo()
    writer.commit([export(points=[point(100, 10)], req_id=2)])
    assert deltas(db) == [100]


def test_metric_totals_add_up_the_deltas_per_series_and_key(db):
    run(db, [export(points=[point(100, 10)])], [export(points=[point(160, 20)], req_id=2)],
        [export(points=[point(7, 30, name="claude_code.commit.count")], req_id=3)])
    cur = db.cursor()
    assert queries.metric_totals(cur, "series", None, None, None, None, None) == [
        {"series": "commits", "unit": "tokens", "value": 7.0, "count": None, "points": 1},
        {"series": "tokens.input", "unit": "tokens", "value": 160.0, "count": None,
         "points": 2}]
    assert queries.metric_totals(cur, "session", None, T0 + timedelta(seconds=15), "claude",
                                 None, "tokens.input") == [
        {"series": "tokens.input", "key": "s", "unit": "tokens", "value": 100.0,
         "count": None, "points": 1}]
    telemetry = queries.stats(cur, T0, "/nonexistent")["telemetry"]
    assert telemetry == {"sessions": 0, "api_requests": 0, "metric_points": 3}
