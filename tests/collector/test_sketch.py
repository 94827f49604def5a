"""The sized trigram sketch never rules out an entry containing the needle, and rules out most others."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thinkt.collector import sketch

duckdb = pytest.importorskip("duckdb")

# Texts as entries have them: any Unicode, the characters whose lower case is special,
# and now and then a long one (tool results run to tens of KB).
TEXT = st.one_of(
    st.text(max_size=300),
    st.text(alphabet="aAbİıΣσς ./_%\\😀é", max_size=60),
    st.builds(lambda word, times: word * times, st.text(min_size=1, max_size=30),
              st.integers(1, 2000)),
)


@settings(max_examples=150, deadline=None)
@given(texts=st.lists(TEXT, min_size=1, max_size=5), data=st.data())
def test_every_substring_passes_the_sketch_of_its_text(texts, data):
    sketches = sketch.build(texts)
    assert sketches.dtype == object and len(sketches) == len(texts)
    row = data.draw(st.integers(0, len(texts) - 1))
    text = texts[row]
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, min(len(text), start + 40)))
    assert sketch.bits_set(sketches[row], text[start:end])


@settings(max_examples=50, deadline=None)
@given(texts=st.lists(st.text(max_size=40), max_size=600))
def test_a_row_sketch_depends_on_that_row_alone(texts):
    together = sketch.build(texts)
    for row in range(0, len(texts), 97):
        assert together[row] == sketch.build([texts[row]])[0]


def test_sketches_are_strings_of_the_listed_lengths_in_the_sketch_alphabet():
    texts = ["", "a", "ab", "abc", "x" * 5000, " ".join(map(str, range(20000)))]
    for value in sketch.build(texts):
        assert len(value) in sketch.LENGTHS
        assert all("@" <= char <= "\x7f" for char in value)
    assert sketch.build([]).shape == (0,)


def test_the_sketch_grows_with_the_distinct_trigrams_and_stays_half_empty():
    rng = np.random.default_rng(3)
    words = ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), size=7)) for _ in range(3000)]
    short, long_ = (" ".join(rng.choice(words, size=n)) for n in (100, 5000))
    repetitive = "the same line again\n" * 2000
    sizes = {name: sketch.build([text])[0] for name, text in
             (("short", short), ("long", long_), ("repetitive", repetitive))}
    assert len(sizes["short"]) < len(sizes["long"])
    assert len(sizes["repetitive"]) <= 32  # 40 KB, but only ~20 distinct trigrams
    for value in (sizes["short"], sizes["long"]):
        fill = sum(bin(ord(c) - 64).count("1") for c in value) / (6 * len(value))
        assert 0.2 < fill < 0.55


def test_the_largest_sketch_still_holds_a_huge_text():
    rng = np.random.default_rng(5)
    huge = "".join(map(chr, rng.integers(32, 127, 300_000)))  # ~300,000 distinct trigrams
    [value] = sketch.build([huge])
    assert len(value) == sketch.LENGTHS[-1]
    assert all(sketch.bits_set(value, huge[i:i + 9]) for i in range(0, len(huge), 7919))


def test_keyed_lowers_text_and_tool_name_joined_by_nul():
    assert sketch.keyed(["Hello WORLD", None, "", "İ"], ["WebFetch", "Bash", None, None]) == [
        "hello world\0webfetch", "\0bash", "\0", "i̇\0"]
    values = sketch.columns(["Hello WORLD"], ["WebFetch"])
    assert set(values) == set(sketch.COLUMNS) == set(sketch.COLUMN_DDL)
    [value] = values["text_sketch"]
    assert sketch.bits_set(value, "lo wor") and sketch.bits_set(value, "webfetch")


def test_rows_do_not_share_bits():
    sketches = sketch.build(["abcdef", "uvwxyz", "", "q"])
    assert sketch.bits_set(sketches[0], "abcdef")
    assert not sketch.bits_set(sketches[0], "efu")
    assert not sketch.bits_set(sketches[1], "bcd")
    assert not sketch.bits_set(sketches[2], "abc") and not sketch.bits_set(sketches[3], "abc")


def test_short_needles_have_no_filter():
    assert sketch.condition("s", "ab") is None and sketch.condition("s", "") is None
    assert sketch.required("ab", 64) == {}
    assert sketch.condition("s", "é€") is not None  # 5 bytes of UTF-8


def test_unrelated_text_is_mostly_ruled_out():
    rng = np.random.default_rng(7)
    words = ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), size=6)) for _ in range(400)]
    texts = [" ".join(rng.choice(words, size=120)) for _ in range(500)]
    passing = sum(sketch.bits_set(value, "zzqxjv") for value in sketch.build(texts))
    assert passing < len(texts) * 0.05


@pytest.fixture(scope="module")
def table():
    """An in-memory table of sketches of many sizes, with each row's text."""
    rng = np.random.default_rng(11)
    words = ["".join(rng.choice(list("abcdefghij"), size=5)) for _ in range(2000)]
    texts = [" ".join(rng.choice(words, size=int(n))) for n in rng.integers(0, 3000, 300)]
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t (i INTEGER, txt VARCHAR, s {sketch.COLUMN_DDL['text_sketch']})")
    rows = {"i": np.arange(len(texts)), "txt": np.array(texts, dtype=object),
            "s": sketch.build(texts)}
    con.execute("INSERT INTO t SELECT * FROM rows")
    con.execute("INSERT INTO t VALUES (-1, 'never sketched', NULL), (-2, 'odd', 'ABC')")
    yield con, texts, rows["s"]
    con.close()


@pytest.mark.parametrize("needle", ["abcde", "fghij", "aaaaa bbbbb", "jjjjj", "ab cd",
                                    "abcdefghij", "zzz"])
def test_the_sql_condition_agrees_with_the_python_test(table, needle):
    con, texts, values = table
    selected = {row[0] for row in con.execute(
        f"SELECT i FROM t WHERE {sketch.condition('s', needle)}").fetchall()}
    expected = {i for i, value in enumerate(values) if sketch.bits_set(value, needle)}
    assert selected == expected | {-1, -2}  # no sketch, or an unknown length: may match
    assert {i for i, text in enumerate(texts) if needle in text} <= selected


def test_the_sql_condition_is_pushed_into_the_scan(table):
    # Only a filter the scan applies keeps DuckDB from reading the text of every row:
    # with a second filter beside it, DuckDB pushes only filters that cannot fail.
    con, _, _ = table
    plan = con.execute(f"EXPLAIN SELECT count(*) FROM t WHERE {sketch.condition('s', 'abcde')} "
                       "AND contains(lower(txt) || 'x', 'abcde')").fetchall()[0][1]
    scan = plan[plan.index("Seq Scan"):]
    assert "Filters:" in scan and "substring" in scan


def test_migration_2_still_gets_its_columns():
    lowered, words = sketch.searchable(["AbC", None], ["Bash", None])
    assert lowered == ["abc", None] and words.shape == (40, 2)
    assert (words == (1 << 52) - 1).all()
