"""Search on a real DuckDB file: what it finds (everything str.lower says matches, nothing
else), how it counts, orders and quotes, and that an old database keeps every entry findable."""

from __future__ import annotations

import itertools
import sys
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.collector import facade as store
from tests.collector.conftest import T0, build_entry, build_request
from thinkt.collector import database, search, sketch
from thinkt.collector.migrations import MIGRATIONS

duckdb = pytest.importorskip("duckdb")

# Entry texts: any Unicode; the characters whose lower case needs care; long tool results.
TEXT = st.one_of(
    st.none(),
    st.text(max_size=200),
    st.text(alphabet="aAbBİiıIΣσς ΟΔ%_\\.😀éÉ", max_size=40),
    st.builds(lambda head, word, times, tail: head + word * times + tail,
              st.text(max_size=20), st.text(min_size=1, max_size=12), st.integers(1, 3000),
              st.text(max_size=20)),
)
_sessions = itertools.count()


def expected(sessions: dict[str, tuple[str | None, list[tuple]]], needle: str) -> dict[str, int]:
    """The model: matching entries per session (str.lower), 1 for a project path match alone."""
    q = needle.lower()
    found = {}
    for session_id, (project, entries) in sessions.items():
        count = sum(q in (text or "").lower() or q in (tool or "").lower()
                    for text, tool in entries)
        if count or q in (project or "").lower():
            found[session_id] = max(count, 1)
    return found


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), batch=st.lists(
    st.tuples(st.one_of(st.none(), st.text(alphabet="/aİΣ_x", max_size=8)),
              st.lists(st.tuples(TEXT, st.one_of(st.none(), st.sampled_from(
                  ["Bash", "WebFetch", "İnspect", "ΣUM"]))), min_size=1, max_size=4)),
    min_size=1, max_size=3))
def test_search_finds_exactly_what_str_lower_finds(con, cur, data, batch):
    # GIVEN sessions of random entries (each example adds its own sessions)
    prefix = f"p{next(_sessions)}-"
    sessions = {}
    for n, (project, entries) in enumerate(batch):
        session_id = f"{prefix}{n}"
        sessions[session_id] = (project, entries)
        store.ingest(con, [build_request(session_id, [
            build_entry(f"u{i}", text=text, tool_name=tool)
            for i, (text, tool) in enumerate(entries)
        ], project_path=project)])
    # WHEN searching for a piece of one of them, in its case, upper case or lower case
    texts = [t for _, entries in batch for pair in entries for t in pair if t] or ["x"]
    source = data.draw(st.sampled_from(texts + [p for p, _ in batch if p]))
    start = data.draw(st.integers(0, max(0, len(source) - 1)))
    piece = source[start:start + data.draw(st.integers(1, 12))] or "x"
    for needle in {piece, piece.upper(), piece.lower()}:
        hits = {h["id"]: h["match_count"] for h in store.search(cur, needle, 500)
                if h["id"].startswith(prefix)}
        # THEN the sessions and counts are exactly those of str.lower: no entry missed
        assert hits == expected(sessions, needle), needle


def test_duckdb_lowers_like_python_but_for_dotted_capital_i_and_final_sigma():
    # search replaces İ before lower() and checks entries with Σ in Python, the rest in SQL:
    # that is exact only while the two lower-case every other code point alike.
    codes = [c for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    rows = {"i": np.arange(len(codes)), "c": np.array([chr(c) for c in codes], dtype=object)}
    con = duckdb.connect()
    lowered = con.execute("SELECT lower(c) AS l FROM rows ORDER BY i").fetchnumpy()["l"]
    differ = {c for c, mine in zip(rows["c"], lowered) if mine != c.lower()}
    assert differ <= {search._DOTTED_I, search._SIGMA}
    assert con.execute(f"SELECT lower('{search._DOTTED_I}')").fetchone()[0] == "i"
    assert "ΟΔΟΣ".lower() == "οδος" != con.execute("SELECT lower('ΟΔΟΣ')").fetchone()[0]


def test_greek_final_sigma_and_dotted_i_match_as_str_lower_says(con, cur):
    store.ingest(con, [build_request("greek", [build_entry("a", text="ΟΔΟΣ και ΣΟΦΙΑ")]),
                       build_request("turkish", [build_entry("a", text="İstanbul"),
                                                 build_entry("b", tool_name="İnspect")])])
    assert [s["id"] for s in store.search(cur, "οδος", 10)] == ["greek"]
    assert [s["id"] for s in store.search(cur, "ΟΔΟΣ", 10)] == ["greek"]
    assert store.search(cur, "οδοσ ", 10) == []  # str.lower writes the final sigma as ς
    assert [s["id"] for s in store.search(cur, "σοφια", 10)] == ["greek"]
    [hit] = store.search(cur, "İSTANBUL", 10)
    assert hit["id"] == "turkish" and hit["match_count"] == 1 and hit["snippet"] == "İstanbul"
    assert store.search(cur, "istanbul", 10) == []  # 'i̇stanbul': a dot between i and s
    assert store.search(cur, "i̇nspect", 10)[0]["match_count"] == 1


def test_search_counts_matches_and_quotes_the_first_by_arrival(con, cur):
    filler = "lorem ipsum " * 40
    store.ingest(con, [build_request("s1", [
        build_entry("a", text="nothing here"),
        build_entry("b", text=filler + "the NEEDLE in the middle" + filler),
        build_entry("c", text="a second needle"),
        build_entry("d", text="x" * 60_000 + " needle at the end of a long result"),
    ])])
    [hit] = store.search(cur, "needle", 10)
    assert hit["match_count"] == 3
    assert "the NEEDLE in the middle" in hit["snippet"]
    assert hit["snippet"].startswith("…") and hit["snippet"].endswith("…")
    assert len(hit["snippet"]) <= search.SNIPPET_CHARS + 2
    [hit] = store.search(cur, "at the end of a long", 10)
    assert hit["match_count"] == 1 and hit["snippet"].endswith("long result")


def test_search_orders_by_last_activity_and_honours_limit(con, cur):
    for n in range(5):
        store.ingest(con, [build_request(f"s{n}", [
            build_entry("a", text="common word", timestamp=T0 + timedelta(hours=n))])])
    assert [s["id"] for s in store.search(cur, "common", 3)] == ["s4", "s3", "s2"]
    assert len(store.search(cur, "COMMON WORD", 500)) == 5
    assert store.search(cur, "common", 0) == [] and store.search(cur, "", 10) == []


def test_search_matches_project_paths_and_tool_names(con, cur):
    store.ingest(con, [
        build_request("p", [build_entry("a", text="unrelated")], project_path="/srv/Needle-App"),
        build_request("t", [build_entry("a", tool_name="NeedleTool")]),
        build_request("n", [build_entry("a", text="nothing")], project_path="/srv/other")])
    hits = {s["id"]: s for s in store.search(cur, "needle", 10)}
    assert set(hits) == {"p", "t"}
    assert hits["p"]["match_count"] == 1 and hits["p"]["snippet"] == "/srv/Needle-App"
    assert hits["t"]["snippet"] == "NeedleTool"


def test_short_and_wildcard_needles_are_literal(con, cur):
    store.ingest(con, [build_request("pct", [build_entry("a", text="100% done")]),
                       build_request("und", [build_entry("a", text="my_file")]),
                       build_request("bsl", [build_entry("a", text="C:\\temp")])])
    assert [s["id"] for s in store.search(cur, "%", 10)] == ["pct"]
    assert [s["id"] for s in store.search(cur, "_", 10)] == ["und"]
    assert [s["id"] for s in store.search(cur, "\\t", 10)] == ["bsl"]
    assert store.search(cur, "c%e", 10) == [] and store.search(cur, "m_f", 10) == []


# -- migration ------------------------------------------------------------------------------

def open_at_version_3(path: str):
    """Create a database as thinkt with schema version 3 did: migrations 1..3 only."""
    con = duckdb.connect(path)
    con.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, "
                "description VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)")
    for version, migration in MIGRATIONS[:3]:
        with database.transaction(con):
            migration.apply(con)
            con.execute("INSERT INTO schema_version VALUES (?, ?, ?)",
                        [version, migration.DESCRIPTION, T0])
    return con


def insert_the_old_way(con, session_id: str, project: str | None, entries: list[tuple]) -> None:
    """Store entries as version 3's ingest did: text_lower and sk00..sk39 beside the text."""
    first = con.execute("SELECT coalesce(max(seq), 0) + 1 FROM collected_entries").fetchone()[0]
    words = ", ".join(f"sk{i:02d}" for i in range(40))
    for n, (text, tool) in enumerate(entries):
        con.execute(
            f"INSERT INTO collected_entries (session_id, uuid, seq, source, received_at, role, "
            f'"timestamp", text, tool_name, text_lower, {words}) VALUES '
            f"(?, ?, ?, 'claude', ?, 'assistant', ?, ?, ?, ?, {', '.join(['?'] * 40)})",
            [session_id, f"u{n}", first + n, T0, T0, text, tool, text.lower() if text else text]
            + [int(w) for w in sketch.searchable([text], [tool])[1][:, 0]])  # as version 3 did
    con.execute("INSERT INTO collected_sessions (session_id, source, project_path, entry_count, "
                "first_seen, last_updated) VALUES (?, 'claude', ?, ?, ?, ?)",
                [session_id, project, len(entries), T0, T0])


def test_an_old_database_keeps_every_entry_findable(tmp_path):
    # GIVEN a version 3 database with entries of every kind, more than one backfill chunk
    path = str(tmp_path / "collector.duckdb")
    old = open_at_version_3(path)
    rng = np.random.default_rng(1)
    sessions = {}
    for s in range(6):
        entries = [(f"Entry {s}.{n} ΣΟΦΙΑ İzmir " + " ".join(map(str, range(
                    int(rng.integers(0, 3000))))) + f" end{s}.{n}",
                    "Bash" if n % 2 else None) for n in range(5)] + [(None, "WebFetch"), ("", None)]
        sessions[f"s{s}"] = (f"/home/p{s}", entries)
        insert_the_old_way(old, f"s{s}", f"/home/p{s}", entries)
    old.close()
    # WHEN the current code opens it
    con = database.open_database(path)
    try:
        # THEN it is at the latest version, without the lower-cased copy, every row sketched
        assert con.execute("SELECT max(version) FROM schema_version").fetchone()[0] == \
            database.SCHEMA_VERSION
        columns = {r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() "
                                             "WHERE table_name = 'collected_entries'").fetchall()}
        assert "text_lower" not in columns
        assert set(sketch.COLUMNS) <= columns
        assert con.execute(f"SELECT count(*), count({sketch.COLUMNS[0]}) "
                           "FROM collected_entries").fetchone() == (42, 42)
        # AND every entry is found by pieces of its text, tool name and project path
        cur = con.cursor()
        for session_id, (project, entries) in sessions.items():
            pieces = [text[-7:] for text, _ in entries if text]
            for needle in pieces + ["ΟΦΙΑ", "ZMIR", project]:
                assert session_id in {h["id"] for h in store.search(cur, needle, 500)}, needle
            assert session_id in {h["id"] for h in store.search(cur, "webfetch", 500)}
        [hit] = store.search(cur, "Entry 3.4", 10)
        assert hit["id"] == "s3" and hit["match_count"] == 1
        assert len(store.search(cur, "İZMİR", 500)) == 0  # 'i̇zmi̇r' is not in 'i̇zmir'
        assert len(store.search(cur, "İzmir", 500)) == 6
        # AND new entries go in beside the old ones
        store.ingest(con, [build_request("new", [build_entry("a", text="fresh İzmir entry")])])
        assert len(store.search(cur, "İzmir", 500)) == 7
    finally:
        con.close()
