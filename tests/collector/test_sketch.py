"""The trigram sketch never rules out an entry containing the needle, and rules out most others."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from thinkt.collector import sketch


def contains_masks(column_values, masks):
    return all((int(column_values[word]) & mask) == mask for word, mask in masks.items())


@settings(max_examples=100, deadline=None)
@given(texts=st.lists(st.text(max_size=300), min_size=1, max_size=5), data=st.data())
def test_every_substring_passes_the_sketch_of_its_text(texts, data):
    sketches = sketch.build(texts)
    assert sketches.shape == (sketch.WORDS, len(texts)) and sketches.dtype == np.int64
    row = data.draw(st.integers(0, len(texts) - 1))
    text = texts[row]
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    assert contains_masks(sketches[:, row], sketch.masks(text[start:end]))


@settings(max_examples=50, deadline=None)
@given(texts=st.lists(st.text(max_size=40), max_size=600))
def test_a_row_sketch_depends_on_that_row_alone(texts):
    together = sketch.build(texts)
    for row in range(0, len(texts), 97):
        assert (together[:, row] == sketch.build([texts[row]])[:, 0]).all()


def test_rows_do_not_share_bits():
    sketches = sketch.build(["abcdef", "uvwxyz", "", "q"])
    assert contains_masks(sketches[:, 0], sketch.masks("abcdef"))
    assert not contains_masks(sketches[:, 0], sketch.masks("efu"))
    assert not contains_masks(sketches[:, 1], sketch.masks("bcd"))
    assert (sketches[:, 2:] == 0).all()


def test_searchable_lowers_text_and_tool_name_for_the_sketch():
    lowered, sketches = sketch.searchable(["Hello WORLD", None, ""], ["WebFetch", "Bash", None])
    assert lowered == ["hello world", None, ""]
    assert contains_masks(sketches[:, 0], sketch.masks("lo wor"))
    assert contains_masks(sketches[:, 0], sketch.masks("webfetch"))
    assert contains_masks(sketches[:, 1], sketch.masks("bash"))
    # a needle spanning text and tool name is not promised (and never matched exactly)
    assert not contains_masks(sketches[:, 2], sketch.masks("bash"))


def test_short_needles_have_no_filter_and_masks_fit_a_word():
    assert sketch.masks("") == sketch.masks("ab") == {}
    assert sketch.required_bits("ab", 16) == []
    masks = sketch.masks("a fairly long needle with many different trigrams in it")
    assert all(0 < m <= sketch.FULL for m in masks.values())
    assert all(0 <= word < sketch.WORDS for word in masks)


def test_required_bits_name_columns_and_stop_at_the_limit():
    needle = "a fairly long needle with many different trigrams in it"
    masks = sketch.masks(needle)
    pairs = sketch.required_bits(needle, 1000)
    assert len(pairs) == sum(bin(m).count("1") for m in masks.values()) > 16
    assert all(masks[sketch.WORD_COLUMNS.index(column)] >> bit & 1 for column, bit in pairs)
    assert sketch.required_bits(needle, 16) == pairs[:16]


def test_the_fast_division_is_exact_for_every_position():
    positions = np.arange(sketch.BITS)
    fast = (positions * sketch._DIV_MUL) >> sketch._DIV_SHIFT
    assert (fast == positions // sketch.WORD_BITS).all()


def test_sketch_words_stay_below_52_bits():
    sketches = sketch.build(["".join(map(chr, range(32, 1000)))])
    assert sketches.min() >= 0 and sketches.max() <= sketch.FULL
    assert sketches[-1, 0] < 1 << (sketch.BITS - (sketch.WORDS - 1) * sketch.WORD_BITS)


def test_an_empty_batch_has_no_rows():
    assert sketch.build([]).shape == (sketch.WORDS, 0)


def test_unrelated_text_is_mostly_ruled_out():
    rng = np.random.default_rng(7)
    words = ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), size=6)) for _ in range(400)]
    texts = [" ".join(rng.choice(words, size=120)) for _ in range(500)]
    sketches = sketch.build(texts)
    masks = sketch.masks("zzqxjv")
    passing = sum(contains_masks(sketches[:, i], masks) for i in range(len(texts)))
    assert passing < len(texts) * 0.05
