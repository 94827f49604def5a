"""Archive to Parquet (issue 18): the closed days of the store as Hive-partitioned files.

- the layout is ``<dataset>/source=<source>/day=YYYY-MM-DD/*.parquet`` and the summary
  counts what is on disk; DuckDB and pyarrow read the same rows back;
- entries come back whole, long texts unpacked, without the search sketch columns;
- usage summed over the archive equals ``/v1/usage`` over the store for the same days,
  by every grouping key;
- only closed days: a range including today is refused, today's rows never written;
- archiving a day again replaces its files (no duplicates) and leaves other days alone;
- one snapshot: a commit made while the archive runs is wholly out of it;
- a failure leaves the archive as it was, and a crash's leftovers are cleared up.
"""

from __future__ import annotations

import fcntl
import os
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from tests.collector import facade as store
from tests.collector.conftest import T0, build_entry, build_request
from thinkt.collector import ingest, longtext, queries, sketch
from thinkt.collector.governance import archive as archiving

D1, D2, D3, D4 = (date(2026, 1, 1) + timedelta(days=n) for n in range(4))
TODAY = date(2026, 1, 5)
LONG_TEXT = "".join(f"line {n}: the quick brown fox\n" for n in range(400))
assert longtext.is_long(LONG_TEXT)


def at(day: date, hour: int = 12, minute: int = 0, second: int = 0,
       micro: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, micro)


def build_store(con) -> None:
    """Two sources, four sessions over five days (today included), one long text, split
    responses, a response without a person or project of its own, and telemetry."""
    assert T0.date() == D1
    store.ingest(con, [
        build_request("s-ana", [
            build_entry("a1", role="user", text="deploy the api", timestamp=at(D1, 9)),
            # One response told by two entries: counted once, with the largest counts.
            build_entry("a2", text="part one", model="claude-sonnet-4-5", message_id="m-a2",
                        input_tokens=100, output_tokens=50, timestamp=at(D1, 9, 1)),
            build_entry("a3", text="part two", model="claude-sonnet-4-5", message_id="m-a2",
                        input_tokens=100, output_tokens=60, cache_read_tokens=30,
                        timestamp=at(D1, 9, 1, 5)),
            build_entry("a4", role="tool_result", text=LONG_TEXT, tool_name="Read",
                        timestamp=at(D1, 9, 2)),
            build_entry("a5", text="late at night", model="claude-opus-4", message_id="m-a5",
                        input_tokens=10, output_tokens=5, cache_write_tokens=4,
                        timestamp=at(D2, 23, 59, 59, 999000)),
            build_entry("a6", text="<synthetic>", model="<synthetic>", timestamp=at(D2, 10)),
            build_entry("a7", text="today", model="claude-opus-4", message_id="m-a7",
                        input_tokens=1000, output_tokens=1000, timestamp=at(TODAY, 1)),
        ], person="ana@example.com", instance_id="laptop-ana", project_path="/work/api"),
        build_request("s-bob", [
            build_entry("b1", text="fix the build", model="gpt-5", message_id="m-b1",
                        input_tokens=200, output_tokens=20, reasoning_tokens=7,
                        timestamp=at(D1, 15)),
            build_entry("b2", text="at midnight", model="gpt-5", message_id="m-b2",
                        input_tokens=3, output_tokens=2, timestamp=at(D3, 0)),
            build_entry("b3", text="the day before", model="gpt-5", message_id="m-b3",
                        input_tokens=8, output_tokens=1, timestamp=at(D4, 8)),
        ], source="codex", person="bob@example.com", instance_id="laptop-bob",
            project_path="/work/web"),
        # Sent without person, agent or project: its session gets them from a later
        # request, and /v1/usage attributes the response to the session's.
        build_request("s-cy", [
            build_entry("c1", text="no person yet", model="claude-sonnet-4-5",
                        message_id="m-c1", input_tokens=40, output_tokens=4,
                        timestamp=at(D2, 8)),
        ]),
        build_request("s-cy", [
            build_entry("c2", text="now with a person", model="claude-sonnet-4-5",
                        message_id="m-c2", input_tokens=1, output_tokens=1,
                        timestamp=at(D3, 8)),
        ], person="cy@example.com", instance_id="laptop-cy", project_path="/work/cy"),
        build_request("s-dee", [
            build_entry("d1", text="no tokens at all", timestamp=at(D3, 9)),
        ], source="copilot"),
    ])
    con.execute("""
        INSERT INTO telemetry_requests (source, request_key, session_id, "timestamp", model,
                                        input_tokens, cost_usd, received_at) VALUES
        ('claude', 'r1', 's-ana', ?, 'claude-sonnet-4-5', 100, 0.5, ?),
        ('claude', 'r2', 's-ana', NULL, 'claude-sonnet-4-5', 7, 0.1, ?),
        ('claude', 'r3', 's-ana', ?, 'claude-opus-4', 1000, 2.0, ?)
    """, [at(D1, 9), at(D1, 9, 5), at(D2, 1), at(TODAY, 1), at(TODAY, 1)])
    con.execute("""
        INSERT INTO metric_points (series_id, start_time, "time", source, name, unit, kind,
                                   value, received_at) VALUES
        ('x', ?, ?, 'claude', 'claude_code.cost.usage', 'USD', 'sum', 0.5, ?),
        ('x', ?, ?, 'claude', 'claude_code.cost.usage', 'USD', 'sum', 2.0, ?)
    """, [at(D1, 9), at(D1, 10), at(D1, 10), at(TODAY, 1), at(TODAY, 2), at(TODAY, 2)])


@pytest.fixture
def con(tmp_path):
    connection = store.open_database(str(tmp_path / "state" / "collector.duckdb"))
    build_store(connection)
    yield connection
    connection.close()


@pytest.fixture
def out(tmp_path) -> Path:
    return tmp_path / "archive"


def run(con, out: Path, since: date = D1, until: date = TODAY, **kwargs) -> dict:
    cursor = con.cursor()
    try:
        return archiving.archive(cursor, str(out), since, until, today=TODAY, **kwargs)
    finally:
        cursor.close()


def parquet(out: Path, dataset: str) -> str:
    return f"read_parquet('{out}/{dataset}/**/*.parquet', hive_partitioning = true)"


def files(out: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``out`` (hidden ones included): relative path -> (inode, mtime)."""
    found = {}
    for root, _, names in os.walk(out):
        for name in names:
            path = os.path.join(root, name)
            stat = os.stat(path)
            found[os.path.relpath(path, out)] = (stat.st_ino, stat.st_mtime_ns)
    return found


def store_entries(con, since: date, until: date) -> list[tuple]:
    rows = con.execute("""SELECT session_id, uuid, text, long_text FROM collected_entries
                          WHERE "timestamp" >= ? AND "timestamp" < ? ORDER BY 1, 2""",
                       [since, until]).fetchall()
    return [(s, u, text if packed is None else longtext.unpack(packed))
            for s, u, text, packed in rows]


# -- layout, summary and reading back ------------------------------------------------------

def test_layout_and_summary_match_the_files_written(con, out):
    result = run(con, out)
    assert result["directory"] == str(out)
    assert result["days"] == [str(d) for d in (D1, D2, D3, D4)]
    assert result["rows"] == {"entries": 12, "usage": 7, "telemetry_requests": 2,
                              "metric_points": 1}
    written = sorted(p for p in files(out) if p.endswith(".parquet"))
    assert result["files"] == len(written)
    assert result["bytes"] == sum(os.path.getsize(out / p) for p in written)
    partitions = {os.path.dirname(p) for p in written}
    assert partitions == {
        "entries/source=claude/day=2026-01-01", "entries/source=claude/day=2026-01-02",
        "entries/source=claude/day=2026-01-03", "entries/source=codex/day=2026-01-01",
        "entries/source=codex/day=2026-01-03", "entries/source=codex/day=2026-01-04",
        "entries/source=copilot/day=2026-01-03",
        "usage/source=claude/day=2026-01-01", "usage/source=claude/day=2026-01-02",
        "usage/source=claude/day=2026-01-03", "usage/source=codex/day=2026-01-01",
        "usage/source=codex/day=2026-01-03", "usage/source=codex/day=2026-01-04",
        # r2 has no timestamp: it goes by the day it was received.
        "telemetry_requests/source=claude/day=2026-01-01",
        "telemetry_requests/source=claude/day=2026-01-02",
        "metric_points/source=claude/day=2026-01-01",
    }
    # Nothing but the lock file is left besides the datasets.
    assert sorted(os.listdir(out)) == sorted([archiving.LOCK_NAME, "entries", "usage",
                                              "telemetry_requests", "metric_points"])


def test_duckdb_and_pyarrow_read_the_same_entries_back(con, out):
    ds = pytest.importorskip("pyarrow.dataset")
    run(con, out)
    columns = [row[0] for row in con.execute(
        f"DESCRIBE SELECT * FROM {parquet(out, 'entries')}").fetchall()]
    assert not set(columns) & set(sketch.COLUMNS) and "long_text" not in columns
    stored = [row[0] for row in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = 'collected_entries'"
    ).fetchall()]
    assert set(columns) == set(stored) - set(sketch.COLUMNS) - {"long_text"} | {"day"}
    by_duckdb = con.execute(f"""SELECT session_id, uuid, text, source, strftime(day, '%Y-%m-%d'),
                                       "timestamp" FROM {parquet(out, 'entries')}
                                ORDER BY 1, 2""").fetchall()
    assert [row[:3] for row in by_duckdb] == store_entries(con, D1, TODAY)
    # Each entry sits under its own timestamp's day and its source.
    assert all(str(row[5].date()) == row[4] for row in by_duckdb)
    assert dict((row[1], row[3]) for row in by_duckdb)["b1"] == "codex"

    table = ds.dataset(str(out / "entries"), partitioning="hive").to_table()
    by_arrow = sorted(zip(*(table.column(name).to_pylist()
                            for name in ("session_id", "uuid", "text", "source", "day"))))
    assert [row[:4] for row in by_arrow] == [row[:4] for row in by_duckdb]
    assert [str(row[4]) for row in by_arrow] == [row[4] for row in by_duckdb]


def test_the_long_text_comes_back_whole(con, out):
    run(con, out)
    ((text, tool),) = con.execute(
        f"SELECT text, tool_name FROM {parquet(out, 'entries')} WHERE uuid = 'a4'").fetchall()
    assert (text, tool) == (LONG_TEXT, "Read")
    # Stored packed, with text NULL: the archive is what unpacked it.
    assert con.execute("SELECT text IS NULL AND long_text IS NOT NULL FROM collected_entries "
                       "WHERE uuid = 'a4'").fetchone() == (True,)


# -- usage over the archive equals /v1/usage ----------------------------------------------

# The grouping keys of queries.USAGE_KEYS, over the archive's usage rows (attributed
# already) and entries.
ARCHIVE_KEYS = {
    "source": "source",
    "model": "nullif(nullif(model, ''), '<synthetic>')",
    "project": "project_path",
    "day": "strftime(day, '%Y-%m-%d')",
    "agent": "instance_id",
    "session": "session_id",
    "user": "person",
}
TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
          "reasoning_tokens")


@pytest.mark.parametrize("group_by", sorted(ARCHIVE_KEYS))
@pytest.mark.parametrize("since,until", [(D1, TODAY), (D2, D3)])
def test_usage_over_the_archive_equals_the_api(con, out, group_by, since, until):
    run(con, out, since, until)
    api = {row["key"]: tuple(row[t] for t in TOKENS)
           for row in queries.usage(con.cursor(), group_by, at(since, 0), at(until, 0), None)
           if any(row[t] for t in TOKENS)}
    archived = {row[0]: tuple(row[1:]) for row in con.execute(
        f"SELECT {ARCHIVE_KEYS[group_by]} AS key, {', '.join(f'sum({t})::BIGINT' for t in TOKENS)} "
        f"FROM {parquet(out, 'usage')} GROUP BY key").fetchall()}
    assert archived == api
    assert api  # the comparison is not between two empty answers


@pytest.mark.parametrize("group_by", ["source", "model", "day", "session"])
def test_entry_counts_over_the_archive_equal_the_api(con, out, group_by):
    run(con, out)
    api = {row["key"]: row["entries"]
           for row in queries.usage(con.cursor(), group_by, at(D1, 0), at(TODAY, 0), None)}
    archived = dict(con.execute(
        f"SELECT {ARCHIVE_KEYS[group_by]} AS key, count(*) FROM {parquet(out, 'entries')} "
        "GROUP BY key").fetchall())
    assert archived == {key: n for key, n in api.items() if n}


def test_a_response_is_attributed_as_the_api_attributes_it(con, out):
    run(con, out)
    # c1 came without person, agent or project; its session has them from c2's request.
    assert con.execute(f"""SELECT person, instance_id, project_path FROM {parquet(out, 'usage')}
                           WHERE message_id = 'm-c1'""").fetchall() == [
        ("cy@example.com", "laptop-cy", "/work/cy")]
    # The split response is one row, with the largest counts of its entries.
    assert con.execute(f"""SELECT entries, input_tokens, output_tokens, cache_read_tokens
                           FROM {parquet(out, 'usage')} WHERE message_id = 'm-a2'""").fetchall() \
        == [(2, 100, 60, 30)]


# -- closed days only ------------------------------------------------------------------------

@pytest.mark.parametrize("since,until,named", [
    (D1, TODAY + timedelta(days=1), TODAY),
    (TODAY, TODAY + timedelta(days=1), TODAY),
    (TODAY + timedelta(days=2), TODAY + timedelta(days=3), TODAY + timedelta(days=2)),
])
def test_a_range_with_today_or_later_is_refused(con, out, since, until, named):
    with pytest.raises(ValueError, match=f"Cannot archive {named}: only closed UTC days"):
        run(con, out, since, until)
    assert not out.exists() or not [p for p in files(out) if p.endswith(".parquet")]


def test_todays_rows_are_not_archived(con, out):
    result = run(con, out)
    assert str(TODAY) not in result["days"]
    assert not [p for p in files(out) if f"day={TODAY}" in p]
    assert con.execute(f"SELECT count(*) FROM {parquet(out, 'entries')} "
                       "WHERE uuid = 'a7'").fetchone() == (0,)


@pytest.mark.parametrize("since,until", [(D2, D2), (D3, D2)])
def test_an_empty_range_is_refused(con, out, since, until):
    with pytest.raises(ValueError, match="is empty"):
        run(con, out, since, until)


@pytest.mark.parametrize("url", ["s3://bucket/thinkt", "gs://bucket/x", "file:///tmp/x"])
def test_only_local_directories_are_supported(con, url):
    with pytest.raises(ValueError, match="only local directories are supported"):
        archiving.archive(con.cursor(), url, D1, D2, today=TODAY)


# -- archiving again replaces -----------------------------------------------------------------

def test_archiving_a_day_again_replaces_it_and_leaves_the_others(con, out):
    run(con, out)
    before = files(out)
    # Late arrivals for D2: a new entry with tokens, and a changed copy of a stored one.
    store.ingest(con, [
        build_request("s-ana", [
            build_entry("a8", text="arrived late", model="claude-opus-4", message_id="m-a8",
                        input_tokens=9, output_tokens=9, timestamp=at(D2, 11)),
            build_entry("a6", text="<synthetic> changed", model="<synthetic>",
                        timestamp=at(D2, 10)),
        ], person="ana@example.com", instance_id="laptop-ana", project_path="/work/api"),
    ])
    result = run(con, out, D2, D3)
    assert result["days"] == [str(D2)]
    assert result["rows"]["entries"] == 4
    after = files(out)
    # Other days' files are the very same files, untouched.
    assert {p: v for p, v in after.items() if f"day={D2}" not in p} == \
        {p: v for p, v in before.items() if f"day={D2}" not in p}
    # D2's partitions hold what the store holds now, once.
    archived = con.execute(f"""SELECT session_id, uuid, text FROM {parquet(out, 'entries')}
                               WHERE day = DATE '{D2}' ORDER BY 1, 2""").fetchall()
    assert archived == store_entries(con, D2, D3)
    assert ("s-ana", "a6", "<synthetic> changed") in archived
    whole = con.execute(f"SELECT count(*), count(DISTINCT (session_id, uuid)) "
                        f"FROM {parquet(out, 'entries')}").fetchone()
    assert whole == (len(store_entries(con, D1, TODAY)),) * 2
    usage = con.execute(f"SELECT count(*), count(DISTINCT (source, response_key)) "
                        f"FROM {parquet(out, 'usage')}").fetchone()
    assert usage == (con.execute("SELECT count(*) FROM collected_usage WHERE \"timestamp\" "
                                 "< ?", [at(TODAY, 0)]).fetchone()[0],) * 2
    assert not [p for p in after if "/." in p or p.startswith(".archive-staging")]


def test_a_day_left_out_of_the_store_keeps_its_archive(con, out):
    """Retention removes old entries from the store after they were archived: archiving
    their days again must not remove them from the archive."""
    run(con, out)
    before = files(out)
    con.execute("DELETE FROM collected_entries WHERE source = 'codex'")
    con.execute("DELETE FROM collected_usage WHERE source = 'codex'")
    run(con, out)
    after = files(out)
    assert {p: v for p, v in after.items() if "source=codex" in p} == \
        {p: v for p, v in before.items() if "source=codex" in p}


# -- one snapshot, failures and crashes ------------------------------------------------------

def test_a_commit_during_the_archive_is_wholly_out_of_it(con, out):
    expected = store_entries(con, D1, TODAY)
    committed = []

    def commit_once(message: str) -> None:
        # Told after the snapshot is taken and between COPYs: the commit (entries, then
        # their rollup) lands while the archive's transaction is reading.
        if committed or not message.startswith("entries"):
            return
        writer = con.cursor()
        store.ingest(writer, [build_request("s-late", [
            build_entry("l1", text="mid-archive", model="gpt-5", message_id="m-l1",
                        input_tokens=5, output_tokens=5, timestamp=at(D3, 20)),
        ], source="codex")])
        writer.close()
        committed.append(message)

    result = run(con, out, progress=commit_once)
    assert committed
    assert result["rows"]["entries"] == len(expected)
    assert con.execute(f"SELECT session_id, uuid, text FROM {parquet(out, 'entries')} "
                       "ORDER BY 1, 2").fetchall() == expected
    assert con.execute(f"SELECT count(*) FROM {parquet(out, 'usage')} "
                       "WHERE message_id = 'm-l1'").fetchone() == (0,)
    # The commit is in the store, and the next archive takes it.
    assert run(con, out)["rows"]["entries"] == len(expected) + 1


def test_entries_the_rollup_has_not_folded_in_wait_for_the_next_archive(con, out):
    """A snapshot between a commit and its rollup: the entries without their tokens would
    make the archive's usage disagree with its entries."""
    ingest.EntryLog(con).ingest(con, [build_request("s-late", [
        build_entry("l1", text="not rolled up", message_id="m-l1", input_tokens=5,
                    timestamp=at(D1, 20)),
    ])])
    run(con, out)
    assert con.execute(f"SELECT count(*) FROM {parquet(out, 'entries')} "
                       "WHERE uuid = 'l1'").fetchone() == (0,)


def test_a_failure_midway_leaves_the_archive_as_it_was(con, out):
    run(con, out, D1, D2)
    before = files(out)

    def fail(message: str) -> None:
        if message.startswith("usage"):
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        run(con, out, progress=fail)
    assert files(out) == before
    # The cursor's transaction was ended: the connection takes a new one.
    cursor = con.cursor()
    cursor.execute("BEGIN TRANSACTION")
    cursor.execute("ROLLBACK")
    # No function of the archive is left registered.
    assert not con.execute("SELECT count(*) FROM duckdb_functions() WHERE function_name "
                           "LIKE 'thinkt_archive_%'").fetchone()[0]


def test_a_crashs_leftovers_are_cleared_and_a_set_aside_day_put_back(con, out):
    run(con, out, D1, D2)
    parent = out / "entries" / "source=claude"
    # A crash between setting D1's old partition aside and moving its new one in ...
    os.rename(parent / f"day={D1}", parent / f".day={D1}{archiving.REPLACED}-dead")
    # ... and with a staging directory left behind.
    (out / f"{archiving.STAGING_PREFIX}dead" / "entries").mkdir(parents=True)
    run(con, out, D3, D4)
    names = set(os.listdir(parent))
    assert f"day={D1}" in names and not [n for n in names if n.startswith(".")]
    assert not [n for n in os.listdir(out) if n.startswith(archiving.STAGING_PREFIX)]
    assert con.execute(f"SELECT count(*) FROM {parquet(out, 'entries')} WHERE day = DATE '{D1}' "
                       "AND source = 'claude'").fetchone() == (4,)


def test_another_archive_into_the_directory_is_refused(con, out):
    out.mkdir()
    fd = os.open(out / archiving.LOCK_NAME, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(archiving.ArchiveBusy, match="Another archive"):
            run(con, out)
    finally:
        os.close(fd)
    assert run(con, out)["rows"]["entries"] == 12
