"""Search on a real DuckDB file: what it finds (everything str.lower says matches, nothing
else), how it counts, orders and quotes, and that an old database keeps every entry findable."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.collector import facade as store
from tests.collector.conftest import T0, build_entry, build_request
from thinkt.collector import database, longtext, search, sketch
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
    # GIVEN sessions of random entries (each example adds its own sessions), searched
    # either by verifying every candidate or, as for a common term, window by window
    common = data.draw(st.sampled_from([(search.COMMON, search.COMMON_LONG, search.MIN_WINDOW),
                                        (1, 1, 1), (search.COMMON, 1, 1)]))
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
        with patch.multiple(search, COMMON=common[0], COMMON_LONG=common[1],
                            MIN_WINDOW=common[2]):
            hits = {h["id"]: h["match_count"] for h in store.search(cur, needle, 500)
                    if h["id"].startswith(prefix)}
        # THEN the sessions and counts are exactly those of str.lower: no entry missed
        assert hits == expected(sessions, needle), needle


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


def test_long_texts_are_found_across_chunk_ends_and_counted_once(con, cur):
    # GIVEN long texts: needles straddling a chunk's end, one longer than the overlap
    filler = "abcdefghij" * 300
    step = longtext.CHUNK_CHARS
    longer = " ".join(f"word{i}" for i in range(60))  # 350 characters
    assert len(longer) > longtext.OVERLAP_CHARS + 1
    texts = {
        "straddle": filler[:step - 5] + "Boundary-Needle" + filler,
        "longer": filler[:step - 100] + longer + filler,
        "tool": filler + " needle in a long text " + filler,
    }
    store.ingest(con, [build_request(name, [build_entry("a", text=text, tool_name=(
        "NeedleTool" if name == "tool" else None))]) for name, text in texts.items()])
    # THEN the texts are kept apart, each chunked, and whole on the way out
    assert con.execute("SELECT count(*) FROM collected_entries WHERE text IS NULL "
                       "AND long_text IS NOT NULL").fetchone()[0] == 3
    assert con.execute(f"SELECT count(DISTINCT seq) FROM {longtext.SKETCH_TABLE}"
                       ).fetchone()[0] == 3
    for name, text in texts.items():
        [entry] = store.session_entries(cur, name, 10, 0)["entries"]
        assert entry["text"] == text
    # AND search finds each needle, across a chunk's end too, and counts an entry once
    assert [h["id"] for h in store.search(cur, "BOUNDARY-needle", 10)] == ["straddle"]
    [hit] = store.search(cur, longer.upper(), 10)
    assert hit["id"] == "longer" and longer in hit["snippet"].lower()
    hits = {h["id"]: h["match_count"] for h in store.search(cur, "needle", 10)}
    assert hits == {"straddle": 1, "tool": 1}
    assert store.search(cur, "abcdefghijx", 10) == []


def test_long_candidates_are_sought_on_a_cursor_of_their_own(con, cur):
    # GIVEN a long text with a rare word
    text = "abcdefghij" * 300 + " a rare Quokka here " + "abcdefghij" * 300
    store.ingest(con, [build_request("long", [build_entry("a", text=text)])])
    cursors = []

    def spy(c, *args, real=search._long_candidates):
        cursors.append(c)
        return real(c, *args)

    # WHEN it is searched for
    with patch.object(search, "_long_candidates", spy):
        assert [h["id"] for h in store.search(cur, "quokka", 10)] == ["long"]
    # THEN the chunks were scanned on another cursor, and nothing is left running
    assert len(cursors) == 1 and cursors[0] is not cur
    assert not [t for t in threading.enumerate() if t.name == "thinkt-search"]
    # AND a failure of that query is the search's failure
    with patch.object(search, "_long_candidates", side_effect=duckdb.IOException("gone")):
        with pytest.raises(duckdb.IOException):
            store.search(cur, "quokka", 10)


def test_a_common_term_stops_the_long_candidates_scan_it_does_not_need(con, cur):
    # GIVEN entries enough for a common term, and a long-candidates query that would run
    # for minutes when started beside the short one
    store.ingest(con, [build_request("s", [build_entry(f"e{i}", text=f"common {i}")
                                           for i in range(5)])])
    outcome, calls = [], []

    def slow_beside(c, *args, real=search._long_candidates):
        calls.append(c)
        if len(calls) > 1:  # the windows' own queries, on the search's cursor
            return real(c, *args)
        try:
            c.execute("SELECT count(*) FROM range(10000000000) a, range(1000) b").fetchall()
            outcome.append("finished")
        except duckdb.InterruptException:
            outcome.append("interrupted")
        return []

    # WHEN the term is common (windows of recent sessions instead)
    with patch.object(search, "COMMON", 2), patch.object(search, "_long_candidates", slow_beside):
        hits = store.search(cur, "common", 10)
    # THEN the answer came, and the scan beside it was interrupted, not waited for
    assert [(h["id"], h["match_count"]) for h in hits] == [("s", 5)]
    assert outcome == ["interrupted"]
    assert not [t for t in threading.enumerate() if t.name == "thinkt-search"]


def test_short_texts_are_stored_as_they_are_and_long_ones_packed(con):
    # Search reads a few short texts out of many: from a dictionary+FSST segment DuckDB
    # would decompress the whole segment for each (longtext.py); long ones are packed.
    words = [f"word{i} " * 20 for i in range(3000)]
    store.ingest(con, [build_request("s", [build_entry(f"e{i}", text=text)
                                           for i, text in enumerate(words)]
                                     + [build_entry("long", text="long " * 2000)])])
    con.execute("CHECKPOINT")
    kinds = {row[0] for row in con.execute(
        "SELECT compression FROM pragma_storage_info('collected_entries') "
        "WHERE column_name = 'text' AND segment_type = 'VARCHAR'").fetchall()}
    assert kinds == {"Uncompressed"}
    packed = con.execute("SELECT long_text FROM collected_entries WHERE uuid = 'long'"
                         ).fetchone()[0]
    assert len(packed) < 200 and longtext.unpack(packed) == "long " * 2000


def test_a_changed_copy_moves_between_short_and_long_texts(con, cur):
    filler = "0123456789" * 300
    for version, text in (("first", filler + " first-version"), ("second", "second-version"),
                          ("third", "third-version " + filler)):
        # WHEN the same entry comes again with another text (long, short, long)
        store.ingest(con, [build_request("s", [build_entry("a", text=text)])])
        # THEN only its latest text is found, and only its chunks are kept
        for other in ("first", "second", "third"):
            found = store.search(cur, f"{other}-version", 10)
            assert [h["id"] for h in found] == (["s"] if other == version else []), other
        chunks = con.execute(f"SELECT count(*) FROM {longtext.SKETCH_TABLE}").fetchone()[0]
        assert chunks == (len(longtext.chunks(text.lower())) if longtext.is_long(text) else 0)
        [entry] = store.session_entries(cur, "s", 10, 0)["entries"]
        assert entry["text"] == text


def test_a_common_term_searches_the_most_recent_sessions_first(con, cur):
    # GIVEN 40 sessions, each active an hour after the one before; most hold the term
    # in several entries, some only in their project path, some not at all
    for n in range(40):
        entries = [build_entry(f"e{i}", text=f"entry {i} of a common kind" if n % 5 else "other",
                               timestamp=T0 + timedelta(hours=n)) for i in range(n % 4 + 1)]
        store.ingest(con, [build_request(f"s{n:02d}", entries,
                                         project_path="/common/path" if n % 10 == 0 else None)])
    everything = store.search(cur, "common", 500)
    # WHEN the term is common enough to be searched window by window
    with patch.object(search, "COMMON", 3), patch.object(search, "MIN_WINDOW", 2):
        windows = store.search(cur, "COMMON", 7)
    # THEN the answer is the first 7 of the whole answer, counts and snippets included
    assert windows == everything[:7]
    assert [h["id"] for h in windows] == ["s39", "s38", "s37", "s36", "s34", "s33", "s32"]
    assert [h["match_count"] for h in windows] == [4, 3, 2, 1, 3, 2, 1]
    assert store.search(cur, "common", 500)[-1]["id"] == "s00"  # its path alone


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
        # AND its long texts moved to long_text, chunked, and read back whole
        long = sum(longtext.is_long(text) for _, entries in sessions.values() for text, _ in entries)
        assert long > 6 and con.execute(
            "SELECT count(long_text), count(*) - count(text) FROM collected_entries"
        ).fetchone() == (long, long + 6)  # and each session's entry without text
        assert con.execute(f"SELECT count(DISTINCT seq) FROM {longtext.SKETCH_TABLE}"
                           ).fetchone()[0] == long
        cur = con.cursor()
        for session_id, (_, entries) in sessions.items():
            stored = store.session_entries(cur, session_id, 50, 0)["entries"]
            assert sorted((e["text"] or "") for e in stored) == sorted(t or "" for t, _ in entries)
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
