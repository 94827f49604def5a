"""The trigram sketch: per-entry Bloom filters that let search skip entries that cannot match.

An entry's sketch is a Bloom filter of every byte trigram (UTF-8) of its lower-cased
text and tool name (``str.lower``, joined by ``"\\0"``), one hash per trigram. If ``q``
is a substring of the text, every trigram of ``q`` is a trigram of the text, so an
entry whose sketch lacks one of ``q``'s bits cannot match, and DuckDB drops it while
scanning a few integers instead of the text. Survivors are still checked exactly:
the sketch has false positives, never false negatives.

A sketch is 2048 bits in the BIGINT columns ``sk00`` .. ``sk39``, 52 bits each
(:data:`TIERS` allows more than one size, each in its own columns, an entry filling one
and leaving the others NULL, which the test reads as "may match"; two sizes searched
faster but cost three times the insert, see the closing note of issue 15). A text of
more than ~2,000 characters would set most of the bits, so long texts are not sketched
here but by chunks (longtext.py), each chunk a sketch of this kind.

A trigram with 32-bit hash ``h`` sets bit ``h * bits >> 32`` of a tier of ``bits`` bits,
that is bit ``pos % 52`` of word ``pos // 52``. Words hold 52 bits, not 64, so that a
bit can be tested with float division (exact below 2**53): DuckDB pushes into the scan
only filters that cannot fail, and counts the bitwise ``&`` among those that can
(see :func:`condition`).
"""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np

log = logging.getLogger(__name__)

WORD_BITS = 52
#: A word with every bit set.
FULL = (1 << WORD_BITS) - 1
#: ``(column prefix, bits)`` of each sketch size, smallest first. One size for now:
#: 2048 bits in migration 2's columns ``sk00`` .. ``sk39``, hashed as migration 2 hashed
#: them, so stored sketches stay valid. Two sizes (1024 bits, and 8192 for long texts,
#: in 178 columns) searched faster at 1M entries but cost three times the insert of one
#: (bench/search.py: 132 µs a row against 40); see the closing note of issue 15.
TIERS = (("sk", 2048),)
#: Each tier's word columns.
TIER_COLUMNS = tuple(tuple(f"{prefix}{i:02d}" for i in range(-(-bits // WORD_BITS)))
                     for prefix, bits in TIERS)
#: Every column of an entry that search needs besides its text and tool name.
COLUMNS = tuple(column for columns in TIER_COLUMNS for column in columns)
#: Each column's SQL type and options. NULL: not this entry's tier (or never sketched).
COLUMN_DDL = {column: "BIGINT" for column in COLUMNS}
#: Bits of sketch per distinct trigram: an entry takes the smallest tier with this many.
#: At 1.5 about half the bits are set, so a needle with t trigrams passes ~2**-t of the
#: entries that do not contain it.
BITS_PER_TRIGRAM = 1.5
#: Bits of a needle tested per tier. DuckDB reads each tested column in full, ~3 ms per
#: million entries, while a few bits already rule out nearly every entry that does not
#: match (at 10M entries, 4 bits let 1,138 entries through for a needle in 977, 6 bits
#: 1,084; 4 for a needle in none: 0 to 1,796).
MAX_TESTS = 4

_GOLDEN = 2654435761  # Knuth's multiplicative hash constant
# Rows hashed per numpy pass: bounds the temporary arrays (~30 bytes per text byte).
_CHUNK = 1024


def keyed(texts: Sequence[str | None], tool_names: Sequence[str | None]) -> list[str]:
    """Return what the sketch of each entry covers: lower-cased text, NUL, lower-cased tool name."""
    return [(text.lower() if text else "") + "\0" + (name.lower() if name else "")
            for text, name in zip(texts, tool_names)]


def columns(texts: Sequence[str | None],
            tool_names: Sequence[str | None]) -> dict[str, np.ndarray]:
    """Return the values of every column in :data:`COLUMNS` for these entries.

    Each is a masked int64 array (masked: NULL), which DuckDB scans as a column.
    """
    return build(keyed(texts, tool_names))


def table(texts: Sequence[str | None], tool_names: Sequence[str | None]) -> np.ndarray:
    """Return the search columns of these entries as one ``(len(texts), len(COLUMNS))``
    int64 array: what an HTTP worker hands the writer with a batch (one buffer to pickle)."""
    return words(keyed(texts, tool_names))


def words(texts: Sequence[str]) -> np.ndarray:
    """Return the sketch words of already lower-cased ``texts``, ``(len(texts), len(COLUMNS))``.

    With one tier every entry fills it, so this skips what :func:`build` does to choose
    a tier (counting each entry's distinct trigrams): a third of its time.
    """
    if len(TIERS) > 1:
        built = build(texts)
        return np.column_stack([built[column].filled(FULL) for column in COLUMNS]) \
            if len(texts) else np.zeros((0, len(COLUMNS)), dtype=np.int64)
    parts = [_words_chunk(texts[start:start + _CHUNK]) for start in range(0, len(texts), _CHUNK)]
    return np.concatenate(parts) if parts else np.zeros((0, len(COLUMNS)), dtype=np.int64)


def _words_chunk(texts: Sequence[str]) -> np.ndarray:
    ((_, bits),), (names,) = TIERS, TIER_COLUMNS
    encoded = [text.encode("utf-8") for text in texts]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    hashes, counts = _trigram_hashes(b"".join(encoded), lengths, wide=False)
    if bits & (bits - 1) == 0:  # h * bits >> 32 is a shift, in 32 bits
        position = (hashes >> np.uint32(32 - bits.bit_length() + 1)).astype(np.int32)
    else:
        position = ((hashes.astype(np.uint64) * np.uint64(bits)) >> np.uint64(32)).astype(np.int32)
    word = position // WORD_BITS
    # One flat index into (rows, words, 64) flags: a third of the time of three indexes.
    flat = (np.repeat(np.arange(len(encoded), dtype=np.int32) * len(names), counts) + word) * 64 \
        + (position - word * WORD_BITS)
    flags = np.zeros(len(encoded) * len(names) * 64, dtype=bool)
    flags[flat] = True
    return np.packbits(flags.reshape(len(encoded), len(names), 64), axis=2,
                       bitorder="little").view("<i8")[:, :, 0]


def from_table(rows: np.ndarray) -> dict[str, np.ma.MaskedArray]:
    """Return :func:`columns`' dict from :func:`table`'s array (of the rows the writer keeps)."""
    data = np.ma.getdata(rows)
    mask = np.ma.getmaskarray(rows)
    return {column: np.ma.masked_array(np.ascontiguousarray(data[:, index]),
                                       mask=np.ascontiguousarray(mask[:, index]))
            for index, column in enumerate(COLUMNS)}


def build(texts: Sequence[str]) -> dict[str, np.ma.MaskedArray]:
    """Return the sketch columns of already lower-cased ``texts``."""
    parts = [_build_chunk(texts[start:start + _CHUNK])
             for start in range(0, len(texts), _CHUNK)] or [_build_chunk([])]
    return {column: np.ma.concatenate([part[column] for part in parts])
            for column in COLUMNS}


def _build_chunk(texts: Sequence[str]) -> dict[str, np.ma.MaskedArray]:
    encoded = [text.encode("utf-8") for text in texts]
    rows = len(encoded)
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=rows)
    hashes, counts = _trigram_hashes(b"".join(encoded), lengths)
    # Distinct trigrams per row, by linear counting on a bitmap of 2 bits per byte
    # (rounded up to whole bytes, so each row's count is a sum of bytes' popcounts).
    counting = (lengths + 4) // 4 * 8
    set_bits = np.add.reduceat(np.bitwise_count(_bitmaps(hashes, counts, counting)),
                               np.concatenate(([0], np.cumsum(counting // 8)[:-1]))
                               ) if rows else np.zeros(0)
    distinct = -counting * np.log1p(-np.minimum(set_bits, counting - 1) / counting)
    sizes = np.array([bits for _, bits in TIERS])
    tier = np.minimum(np.searchsorted(sizes, distinct * BITS_PER_TRIGRAM), len(TIERS) - 1)
    owner_tier = np.repeat(tier, counts)
    out = {}
    for index, ((_, bits), names) in enumerate(zip(TIERS, TIER_COLUMNS)):
        mine = tier == index
        words = np.zeros((int(mine.sum()), len(names), 64), dtype=bool)
        position = (hashes[owner_tier == index] * np.uint64(bits)) >> np.uint64(32)
        word, bit = np.divmod(position.astype(np.int64), WORD_BITS)
        words[np.repeat(np.arange(len(words)), counts[mine]), word, bit] = True
        values = np.packbits(words, axis=2, bitorder="little").view("<i8")[:, :, 0]
        for column, value in zip(names, values.T if len(values) else [[]] * len(names)):
            data = np.zeros(rows, dtype=np.int64)
            data[mine] = value
            out[column] = np.ma.masked_array(data, mask=~mine)
    return out


def _bitmaps(hashes: np.ndarray, counts: np.ndarray, sizes: np.ndarray,
             packed: bool = True) -> np.ndarray:
    """Set bit ``h * size >> 32`` of each row's ``size`` bits; return them back to back."""
    offsets = np.concatenate(([0], np.cumsum(sizes)))
    bits = np.zeros(int(offsets[-1]), dtype=bool)
    size = np.repeat(sizes.astype(np.uint64), counts)
    position = (hashes * size) >> np.uint64(32)
    bits[np.repeat(offsets[:-1], counts) + position.astype(np.int64)] = True
    return np.packbits(bits) if packed else bits


def _trigram_hashes(data: bytes, lengths: np.ndarray,
                    wide: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Return the 32-bit hashes (as uint64, or uint32 unless ``wide``) of every row's
    trigrams in order, and their count per row."""
    counts = np.maximum(lengths - 2, 0)
    if len(data) < 3:
        return np.zeros(0, dtype=np.uint64 if wide else np.uint32), counts
    values = np.frombuffer(data, dtype=np.uint8).astype(np.uint32)
    trigrams = (values[:-2] << 16) | (values[1:-1] << 8) | values[2:]
    # The trigrams starting at a row's last two bytes run into the next row.
    keep = np.ones(len(trigrams) + 2, dtype=bool)
    ends = np.cumsum(lengths)
    keep[ends[ends >= 1] - 1] = False
    keep[ends[ends >= 2] - 2] = False
    trigrams = trigrams[keep[:-2]]
    trigrams *= np.uint32(_GOLDEN)
    return (trigrams.astype(np.uint64) if wide else trigrams), counts


def needle_hashes(needle: str) -> list[int]:
    """Return the distinct 32-bit trigram hashes of an already lower-cased ``needle``."""
    data = needle.encode("utf-8")
    seen: dict[int, None] = {}
    for i in range(len(data) - 2):
        trigram = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2]
        seen[(trigram * _GOLDEN) & 0xFFFFFFFF] = None
    return list(seen)


def required(needle: str, limit: int | None = MAX_TESTS) -> list[tuple[str, int]]:
    """Return ``(column, bit)`` pairs an entry containing ``needle`` has set (or NULL).

    At most ``limit`` pairs per tier (None: all); empty for needles shorter than three bytes.
    """
    pairs = []
    for (_, bits), names in zip(TIERS, TIER_COLUMNS):
        mine: dict[tuple[str, int], None] = {}
        for value in needle_hashes(needle):
            word, bit = divmod((value * bits) >> 32, WORD_BITS)
            mine[(names[word], bit)] = None
        pairs.extend(list(mine)[:limit])
    return pairs


def condition(needle: str, limit: int | None = MAX_TESTS) -> str | None:
    """Return SQL true for every entry whose sketch may contain ``needle``; None: no filter.

    Each test reads one column and uses only functions that cannot fail, so DuckDB pushes
    it into the table scan even beside other filters, and reads other columns only for
    the rows it lets through. "Bit b of word w is set" is "floor(w / 2**b) is odd".
    """
    tests = [f"({column} IS NULL OR even(fdiv({column}, {1 << bit}.0)) <> "
             f"fdiv({column}, {1 << bit}.0))" for column, bit in required(needle, limit)]
    return " AND ".join(tests) or None


def bits_set(values: dict[str, int | None], needle: str) -> bool:
    """Return whether the sketch ``values`` (column -> word) may contain ``needle``, in Python."""
    return all(values[column] is None or values[column] >> bit & 1
               for column, bit in required(needle, None))


def row(columns: dict[str, np.ndarray], index: int) -> dict[str, int | None]:
    """Return one entry's sketch from :func:`build`'s columns, NULL as None."""
    return {column: None if np.ma.is_masked(value[index]) else int(value[index])
            for column, value in columns.items()}


def searchable(texts: Sequence[str | None],
               tool_names: Sequence[str | None]) -> tuple[list[str | None], np.ndarray]:
    """Return what migration 2 stores: lower-cased texts, and the 40 sketch words of each
    entry as a ``(40, len(texts))`` array (the columns of today's one tier, the same hash)."""
    lowered = [text.lower() if text else text for text in texts]
    words = columns(texts, tool_names)
    return lowered, np.array([words[column].filled(FULL) for column in TIER_COLUMNS[0]],
                             dtype=np.int64).reshape(len(TIER_COLUMNS[0]), len(lowered))
