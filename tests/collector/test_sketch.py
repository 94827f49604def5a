"""The trigram sketch never rules out an entry holding the needle, and most others."""

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


def rows(texts: list[str]) -> list[dict]:
    columns = sketch.build(texts)
    return [sketch.row(columns, i) for i in range(len(texts))]


def tier(values: dict) -> int:
    [index] = [i for i, names in enumerate(sketch.TIER_COLUMNS) if values[names[0]] is not None]
    return index


@settings(max_examples=150, deadline=None)
@given(texts=st.lists(TEXT, min_size=1, max_size=5), data=st.data())
def test_every_substring_passes_the_sketch_of_its_text(texts, data):
    sketches = rows(texts)
    row = data.draw(st.integers(0, len(texts) - 1))
    text = texts[row]
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, min(len(text), start + 40)))
    assert sketch.bits_set(sketches[row], text[start:end])


@settings(max_examples=50, deadline=None)
@given(texts=st.lists(st.text(max_size=40), max_size=600))
def test_a_row_sketch_depends_on_that_row_alone(texts):
    together = rows(texts)
    for row in range(0, len(texts), 97):
        assert together[row] == rows([texts[row]])[0]


def test_columns_are_every_tier_word_and_each_entry_fills_one_tier():
    values = sketch.columns(["Hello WORLD", None, "x" * 3000 + " ".join(map(str, range(3000)))],
                            ["WebFetch", "Bash", None])
    assert list(values) == list(sketch.COLUMNS) == list(sketch.COLUMN_DDL)
    assert all(isinstance(v, np.ma.MaskedArray) and v.dtype == np.int64 and len(v) == 3
               for v in values.values())
    assert [tier(sketch.row(values, i)) for i in range(3)] == [len(sketch.TIERS) - 1] * 3 \
        if len(sketch.TIERS) == 1 else [0, 0, 1]
    words = [w for w in sketch.row(values, 2).values() if w is not None]
    assert 0 <= min(words) and max(words) <= sketch.FULL
    assert sketch.build([])[sketch.COLUMNS[0]].shape == (0,)


def test_a_message_fills_about_a_quarter_of_the_bits():
    rng = np.random.default_rng(3)
    words = ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), size=7)) for _ in range(3000)]
    [values] = rows([" ".join(rng.choice(words, size=100))])  # ~800 bytes
    set_bits = sum(bin(w).count("1") for w in values.values() if w is not None)
    assert 0.15 < set_bits / sketch.TIERS[tier(values)][1] < 0.6


def test_a_huge_text_saturates_its_sketch_and_still_matches():
    rng = np.random.default_rng(5)
    huge = "".join(map(chr, rng.integers(32, 127, 100_000)))
    [values] = rows([huge])
    assert tier(values) == len(sketch.TIERS) - 1
    assert all(sketch.bits_set(values, huge[i:i + 9]) for i in range(0, len(huge), 7919))


def test_keyed_lowers_text_and_tool_name_joined_by_nul():
    assert sketch.keyed(["Hello WORLD", None, "", "İ"], ["WebFetch", "Bash", None, None]) == [
        "hello world\0webfetch", "\0bash", "\0", "i̇\0"]
    [values] = [sketch.row(sketch.columns(["Hello WORLD"], ["WebFetch"]), 0)]
    assert sketch.bits_set(values, "lo wor") and sketch.bits_set(values, "webfetch")


def test_rows_do_not_share_bits():
    sketches = rows(["abcdef", "uvwxyz", "", "q"])
    assert sketch.bits_set(sketches[0], "abcdef")
    assert not sketch.bits_set(sketches[0], "efu")
    assert not sketch.bits_set(sketches[1], "bcd")
    assert not sketch.bits_set(sketches[2], "abc") and not sketch.bits_set(sketches[3], "abc")


def test_short_needles_have_no_filter_and_long_ones_a_bounded_one():
    assert sketch.condition("ab") is None and sketch.condition("") is None
    assert sketch.required("ab") == []
    assert sketch.condition("é€") is not None  # 5 bytes of UTF-8
    needle = "a fairly long needle with many different trigrams in it"
    assert len(sketch.required(needle)) == sketch.MAX_TESTS * len(sketch.TIERS)
    assert len(sketch.required(needle, None)) > len(sketch.required(needle))


def test_unrelated_text_is_mostly_ruled_out():
    rng = np.random.default_rng(7)
    words = ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), size=6)) for _ in range(400)]
    texts = [" ".join(rng.choice(words, size=120)) for _ in range(500)]
    passing = sum(sketch.bits_set(values, "zzqxjv") for values in rows(texts))
    assert passing < len(texts) * 0.05


@pytest.fixture(scope="module")
def table():
    """An in-memory table of sketches of both sizes, with each row's text."""
    rng = np.random.default_rng(11)
    words = ["".join(rng.choice(list("abcdefghij"), size=5)) for _ in range(2000)]
    texts = [" ".join(rng.choice(words, size=int(n))) for n in rng.integers(0, 1500, 300)]
    con = duckdb.connect()
    ddl = ", ".join(f"{c} {t}" for c, t in sketch.COLUMN_DDL.items())
    con.execute(f"CREATE TABLE t (i INTEGER, txt VARCHAR, {ddl})")
    data = {"i": np.arange(len(texts)), "txt": np.array(texts, dtype=object),
            **sketch.build(texts)}
    con.execute("INSERT INTO t SELECT * FROM data")
    con.execute("INSERT INTO t (i, txt) VALUES (-1, 'never sketched')")
    yield con, texts, rows(texts)
    con.close()


@pytest.mark.parametrize("needle", ["abcde", "fghij", "aaaaa bbbbb", "jjjjj", "ab cd",
                                    "abcdefghij", "zzz"])
def test_the_sql_condition_agrees_with_the_python_test(table, needle):
    con, texts, values = table
    selected = {row[0] for row in con.execute(
        f"SELECT i FROM t WHERE {sketch.condition(needle, None)}").fetchall()}
    assert selected == {i for i, v in enumerate(values) if sketch.bits_set(v, needle)} | {-1}
    assert {i for i, text in enumerate(texts) if needle in text} <= selected


def test_the_sql_condition_is_pushed_into_the_scan(table):
    # Only a filter the scan applies keeps DuckDB from reading the text of every row:
    # with a second filter beside it, DuckDB pushes only filters that cannot fail.
    con, _, _ = table
    plan = con.execute(f"EXPLAIN SELECT count(*) FROM t WHERE {sketch.condition('abcde')} "
                       "AND contains(lower(txt) || 'x', 'abcde')").fetchall()[0][1]
    scan = plan[plan.index("Seq Scan"):]
    assert "Filters:" in scan and "floor" in scan


def test_the_sql_bit_test_reads_every_bit_of_a_word():
    word = 0b1011_0000_0000_0000_0000_0000_0000_0000_0000_0000_0000_0000_1101
    con = duckdb.connect()
    tests = ", ".join(f"even(fdiv(w, {1 << b}.0)) <> fdiv(w, {1 << b}.0)" for b in range(52))
    bits = con.execute(f"SELECT {tests} FROM (SELECT ?::BIGINT AS w)", [word]).fetchone()
    assert list(bits) == [bool(word >> b & 1) for b in range(52)]


def test_migration_2_still_gets_its_columns():
    lowered, words = sketch.searchable(["AbC", None], ["Bash", None])
    assert lowered == ["abc", None] and words.shape == (40, 2)
    made = sketch.columns(["AbC", None], ["Bash", None])
    assert [list(words[:, i]) for i in range(2)] == [
        [int(made[column][i]) for column in sketch.COLUMNS] for i in range(2)]


@settings(max_examples=50, deadline=None)
@given(texts=st.lists(st.text(max_size=300), max_size=8))
def test_words_are_the_columns_build_makes(texts):
    built = sketch.build(texts)
    expected = [[sketch.row(built, i)[column] for column in sketch.COLUMNS]
                for i in range(len(texts))]
    assert sketch.words(texts).tolist() == expected
