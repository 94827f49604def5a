"""The rollup: figures folded in off the commit path equal figures made from the entries.

- incremental refreshes give the same tables as a recompute from scratch, whatever the
  order of new entries, changed copies, replayed responses and late models (hypothesis);
- a changed copy replaces the stored entry and usage follows; an identical one is a
  duplicate;
- a crash between a commit and its refresh loses nothing;
- the writer refreshes at least every REFRESH_INTERVAL while batches keep arriving;
- a database that the code before the rollup made (schema version 3) answers the same
  after the migration.
"""

from __future__ import annotations

import json
import queue
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.collector import facade as store
from tests.collector.conftest import T0, build_entry, build_request
from thinkt.collector import database, ingest, longtext, queries, rollup, sketch
from thinkt.collector.channel import Ingest, Ingested
from thinkt.collector.writer import Replies, Writer

DATA = Path(__file__).parent / "data" / "schema3"
ROLLUP_TABLES = {
    "collected_sessions": "session_id",
    "collected_usage": "source, response_key",
    "usage_hourly": "hour, source, session_id, model, instance_id, project_path, person",
}


def snapshot(con) -> dict:
    """Every rollup table's rows, ordered; prev_* columns are bookkeeping, left out."""
    tables = {}
    for table, key in ROLLUP_TABLES.items():
        columns = [name for (name,) in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
            "AND NOT starts_with(column_name, 'prev_') ORDER BY column_index",
            [table]).fetchall()]
        tables[table] = con.execute(f"SELECT {', '.join(columns)} FROM {table} "
                                    f"ORDER BY {key}").fetchall()
    tables["trace_counts"] = con.execute(
        "SELECT instance_id, trace_count FROM collected_agents ORDER BY 1").fetchall()
    return tables


def recomputed(con) -> dict:
    """The rollup tables as a recompute from scratch makes them (then put back)."""
    con.execute("BEGIN TRANSACTION")
    try:
        rollup.recompute(con)
        return snapshot(con)
    finally:
        con.execute("ROLLBACK")


# -- incremental == from scratch -------------------------------------------------------------

_uuid = st.sampled_from([f"u{i}" for i in range(8)])
_entry = st.fixed_dictionaries({
    "uuid": _uuid,
    "minutes": st.integers(0, 200),
    "model": st.sampled_from([None, "", "<synthetic>", "claude-a", "claude-b"]),
    "message_id": st.sampled_from([None, "", "m1", "m2", "m3"]),
    "input_tokens": st.sampled_from([0, 0, 3, 10, 2**40]),
    "output_tokens": st.sampled_from([0, 5, 7]),
    "text": st.sampled_from([None, "a", "b"]),
})
_request = st.fixed_dictionaries({
    "source": st.sampled_from(["claude", "gemini"]),
    "session": st.sampled_from(["s1", "s2", "s3"]),
    "project": st.sampled_from([None, "", "/p", "/q"]),
    "instance": st.sampled_from([None, "i1", "i2"]),
    # an exporter from before the user setting sends none; one user's exporter may move
    "person": st.sampled_from([None, None, "alice@example.com", "bob"]),
    "entries": st.lists(_entry, min_size=1, max_size=6),
})
_history = st.lists(st.lists(_request, min_size=1, max_size=3), min_size=1, max_size=6)


def _build(request: dict, received: datetime):
    entries = [build_entry(e["uuid"], timestamp=T0 + timedelta(minutes=e["minutes"]),
                           model=e["model"] or None, message_id=e["message_id"] or None,
                           input_tokens=e["input_tokens"], output_tokens=e["output_tokens"],
                           text=e["text"])
               for e in request["entries"]]
    return build_request(request["session"], entries, source=request["source"],
                         project_path=request["project"] or None,
                         instance_id=request["instance"], person=request["person"],
                         received_at=received)


@settings(max_examples=150, deadline=None)
@given(history=_history, refresh_every=st.integers(1, 3))
def test_incremental_refreshes_equal_a_recompute_from_the_entries(history, refresh_every):
    con = database.duckdb.connect()  # in memory: the same SQL, a hundred times faster
    database.migrate(con)
    try:
        log = ingest.EntryLog(con)
        folded = rollup.Rollup(con, lambda: log.last_seq)
        for number, group in enumerate(history):
            received = T0 + timedelta(hours=number)
            requests = [_build(request, received) for request in group]
            _, replaced = log.ingest(con, requests)
            folded.committed(requests, replaced)
            if number % refresh_every == 0:
                folded.refresh(con)
        folded.refresh(con)
        assert snapshot(con) == recomputed(con)
    finally:
        con.close()


# -- changed copies ----------------------------------------------------------------------------

def test_a_rewritten_message_replaces_the_stored_copy_and_usage_follows(con, cur):
    # GIVEN a Gemini message stored before its tokens were known
    first = build_entry("g1", model="gemini-2.5-pro", text="draft", message_id=None)
    assert store.ingest(con, [build_request("s", [first], source="gemini")]) == [(1, 0)]
    assert store.stats(cur, T0, "")["tokens"]["output"] == 0
    # WHEN the rewritten session sends it again with its tokens and final text
    rewritten = build_entry("g1", model="gemini-2.5-pro", text="final answer",
                            input_tokens=120, output_tokens=45)
    assert store.ingest(con, [build_request("s", [rewritten], source="gemini")]) == [(1, 0)]
    # THEN the entry, the stats, usage and the session show the new copy, counted once
    [entry] = store.session_entries(cur, "s", 10, 0)["entries"]
    assert (entry["text"], entry["output_tokens"]) == ("final answer", 45)
    assert store.stats(cur, T0, "")["tokens"]["input"] == 120
    [row] = store.usage(cur, "model", None, None, None)
    assert (row["input_tokens"], row["output_tokens"], row["entries"]) == (120, 45, 1)
    [session] = store.list_sessions(cur, 10, None, None)
    assert (session["entry_count"], session["output_tokens"]) == (1, 45)
    assert store.search(cur, "final answer", 10)[0]["id"] == "s"
    assert store.search(cur, "draft", 10) == []
    # AND an identical resend is a duplicate that changes nothing
    before = snapshot(con)
    assert store.ingest(con, [build_request("s", [rewritten], source="gemini")]) == [(0, 1)]
    assert snapshot(con) == before


def test_a_changed_copy_with_smaller_counts_lowers_usage(con, cur):
    store.ingest(con, [build_request("s", [build_entry("a", input_tokens=100)])])
    store.ingest(con, [build_request("s", [build_entry("a", input_tokens=40)])])
    assert store.stats(cur, T0, "")["tokens"]["input"] == 40
    assert store.usage(cur, "session", None, None, None)[0]["input_tokens"] == 40


def test_an_estimated_time_is_no_change(con, cur):
    late = T0 + timedelta(hours=3)
    entry = build_entry("a", timestamp=None, text="same")
    store.ingest(con, [build_request("s", [entry])])
    assert store.ingest(con, [build_request("s", [entry], received_at=late)]) == [(0, 1)]
    [stored] = store.session_entries(cur, "s", 10, 0)["entries"]
    assert stored["timestamp"] == "2026-01-01T12:00:00Z"  # the first estimate stays


def test_the_writer_answers_how_many_entries_replaced_a_copy(con):
    q = queue.Queue()
    q.put(Ingest("w", 1, build_request("s", [build_entry("a", text="x")])))
    q.put(None)
    replies = _Capture()
    Writer(con, q, replies).run()
    q.put(Ingest("w", 2, build_request("s", [build_entry("a", text="y"), build_entry("b")])))
    q.put(None)
    Writer(con, q, replies).run()
    assert [m.result for _, m in replies.sent] == [Ingested(1, 0, 0), Ingested(1, 1, 0)]


# -- crashes and lag ------------------------------------------------------------------------

def test_entries_committed_but_not_folded_in_before_a_crash_are_folded_in_after(db_path):
    con = database.open_database(db_path)
    log = ingest.EntryLog(con)
    log.ingest(con, [build_request("s", [build_entry("a", input_tokens=5),
                                         build_entry("b", input_tokens=7, message_id="m")],
                                   instance_id="i1")])
    con.close()  # no refresh: the process died after the commit
    con = database.open_database(db_path)
    try:
        folded = rollup.Rollup(con, lambda: ingest.EntryLog(con).last_seq)
        assert folded.pending()
        folded.refresh(con)
        cur = con.cursor()
        assert queries.stats(cur, T0, db_path)["tokens"]["input"] == 12
        assert [(a["instance_id"], a["trace_count"]) for a in store.list_agents(cur, T0)] == [
            ("i1", 2)]
        assert snapshot(con) == recomputed(con)
    finally:
        con.close()


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_refresh_is_due_once_entries_waited_the_interval(con):
    clock = _Clock()
    log = ingest.EntryLog(con)
    folded = rollup.Rollup(con, lambda: log.last_seq, clock=clock)
    assert not folded.due()  # nothing pending
    log.ingest(con, [build_request("s", [build_entry("a")])])
    clock.now += rollup.REFRESH_INTERVAL / 2
    assert folded.pending() and not folded.due()
    clock.now += rollup.REFRESH_INTERVAL / 2
    assert folded.due()
    folded.refresh(con)
    assert not folded.pending() and not folded.due()


class _Capture(Replies):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list = []

    def send(self, client_id, message):
        self.sent.append((client_id, message))
        return True


class _EndlessLoad(queue.Queue):
    """A queue that always has another batch (as under sustained load) until told to stop."""

    def __init__(self, batches: int, clock: _Clock) -> None:
        super().__init__()
        self.clock = clock
        for number in range(batches):
            self.put(Ingest("w", number, build_request(f"s{number}", [build_entry("a")])))
        self.put(None)

    def get(self, block=True, timeout=None):
        self.clock.now += rollup.REFRESH_INTERVAL / 4  # each batch takes a quarter interval
        return super().get(block=False)


def test_under_sustained_load_the_writer_refreshes_every_interval(con):
    clock = _Clock()
    load = _EndlessLoad(40, clock)
    writer = Writer(con, load, _Capture(), max_rows=1, monotonic=clock)
    refreshes = []
    real = writer.rollup.refresh

    def counting(connection):
        refreshes.append((clock.now, writer.log.last_seq - writer.rollup.watermark))
        real(connection)

    writer.rollup.refresh = counting
    writer.run()
    # Never idle, so every refresh but the last came from the interval: about one per
    # four batches, each folding in what had waited since the one before.
    waits = [later - earlier for (earlier, _), (later, _) in zip(refreshes, refreshes[1:])]
    assert len(refreshes) >= 8
    assert max(waits[:-1]) <= rollup.REFRESH_INTERVAL + rollup.REFRESH_INTERVAL / 2
    assert sum(pending for _, pending in refreshes) == 40


# -- migration of a database made before the rollup ------------------------------------------

def test_a_schema_3_database_made_by_the_old_code_answers_the_same(tmp_path):
    # GIVEN the database the code before the rollup left (schema 3), with its answers
    data = tmp_path / "schema3"
    shutil.copytree(DATA, data)
    path = str(tmp_path / "collector.duckdb")
    raw = database.duckdb.connect(path)
    raw.execute((data / "schema.sql").read_text())
    raw.execute((data / "load.sql").read_text().replace("@DIR@", str(data)))
    raw.close()
    expected = json.loads((data / "answers.json").read_text())
    # WHEN this code opens it (migrating it)
    con = database.open_database(path)
    try:
        cur = con.cursor()
        # THEN every answer is what the old code gave
        for group_by, rows in expected["usage"].items():
            assert queries.usage(cur, group_by, None, None, None) == rows, group_by
        assert queries.usage(cur, "model", datetime(2026, 3, 1), datetime(2026, 3, 2),
                             None) == expected["usage_day1"]
        stats = queries.stats(cur, T0, path)
        assert {k: stats[k] for k in expected["stats"]} == expected["stats"]
        sessions = json.loads(json.dumps(queries.list_sessions(cur, 50, None, None),
                                         default=str))
        # (the old code knew no person: every session has none)
        assert [s.pop("user") for s in sessions] == [None] * len(sessions)
        assert sessions == expected["sessions"]
        assert [{k: a[k] for k in ("instance_id", "trace_count")}
                for a in store.list_agents(cur, T0)] == expected["agents"]
        # AND the sketches the old code stored are the ones this code makes
        for text, tool, *words in con.execute(
                f"SELECT text, tool_name, {', '.join(sketch.COLUMNS)} FROM collected_entries"
                ).fetchall():
            made = sketch.columns([text], [tool])
            assert words == [int(made[column][0]) for column in sketch.COLUMNS], text
        # AND the rollup it built is the one a recompute makes, and new entries add to it
        assert snapshot(con) == recomputed(con)
        store.ingest(con, [build_request("s-claude-1", [build_entry("new", input_tokens=1)],
                                         project_path="/work/alpha")])
        assert queries.stats(cur, T0, path)["total_traces"] == expected["stats"]["total_traces"] + 1
        assert snapshot(con) == recomputed(con)
    finally:
        con.close()


@pytest.mark.parametrize("bounds", [(T0, None), (None, T0 + timedelta(minutes=30))])
def test_usage_between_whole_hours_and_between_any_times_agree(con, cur, bounds):
    store.ingest(con, [build_request("s", [
        build_entry("a", timestamp=T0 - timedelta(minutes=1), input_tokens=1),
        build_entry("b", timestamp=T0 + timedelta(minutes=10), input_tokens=10),
        build_entry("c", timestamp=T0 + timedelta(minutes=50), input_tokens=100),
    ])])
    since, until = bounds
    [row] = store.usage(cur, "session", since, until, None)
    assert row["input_tokens"] == (110 if since else 11)


def test_a_batch_sketched_by_the_http_worker_stores_what_the_writer_would_make(tmp_path):
    first_long = "first long text " * 400
    last_long = "the last copy of a long text " * 300
    entries = [build_entry("a", text="Hello World", tool_name="Bash"),
               build_entry("b", text=first_long), build_entry("a", text="hello again"),
               build_entry("c", text=None), build_entry("b", text=last_long, tool_name="Read")]
    stored, chunks = [], []
    for name, sketched in (("writer", False), ("worker", True)):
        con = database.open_database(str(tmp_path / f"{name}.duckdb"))
        requests = [build_request("s", entries[:2]), build_request("s", entries[2:])]
        if sketched:  # as api.ingest hands them over
            requests = [r._replace(prepared=longtext.prepare([e[4] for e in r.entries],
                                                             [e[5] for e in r.entries]))
                        for r in requests]
        store.ingest(con, requests)
        stored.append(con.execute(f"SELECT uuid, text, long_text, {', '.join(sketch.COLUMNS)} "
                                  "FROM collected_entries ORDER BY uuid").fetchall())
        chunks.append(con.execute(f"SELECT seq, session_id, {', '.join(sketch.COLUMNS)} "
                                  f"FROM {longtext.SKETCH_TABLE} ORDER BY ALL").fetchall())
        con.close()
    assert stored[0] == stored[1] and len(stored[0]) == 3
    assert chunks[0] == chunks[1]
    assert stored[1][0][1] == "hello again"  # the last copy, and its sketch
    # AND the long text is kept apart, chunked as the last copy's text
    assert stored[1][1][1] is None and longtext.unpack(stored[1][1][2]) == last_long
    made = longtext.prepare([last_long], ["Read"])
    assert [list(row[2:]) for row in chunks[1]] == sorted(made.chunks.tolist())
    assert list(stored[1][1][3:]) == made.entries[0].tolist()
