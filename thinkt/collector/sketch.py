"""The trigram sketch: a per-entry Bloom filter, sized to the entry, that lets search skip it.

Each entry stores one ``text_sketch`` string: a Bloom filter of every byte trigram
(UTF-8) of its lower-cased text and tool name (``str.lower``, joined by ``"\\0"``),
one hash per trigram, written six bits to a character (``'@'`` + 0..63). If ``q``
is a substring of the text, every trigram of ``q`` is a trigram of the text, so an
entry whose sketch lacks one of ``q``'s bits cannot match and DuckDB drops it while
scanning the sketch instead of the text. Survivors are still checked exactly: the
sketch has false positives, never false negatives.

The filter's length follows the number of distinct trigrams of the entry (about
:data:`BITS_PER_TRIGRAM` bits each, so a quarter to a half of the bits are set
whatever the size), rounded up to one of :data:`LENGTHS`: a 40-byte tool call gets
16 characters, an 800-byte message ~200, a 50 KB tool result a few thousand. A
fixed-size sketch is either too big for short entries or saturated (every bit set,
so never skipped) for long ones, and long entries hold most of the text.

A trigram with 32-bit hash ``h`` sets bit ``h * bits >> 32`` of a sketch of
``bits = 6 * length`` bits: character ``pos // 6`` (0-based), bit ``pos % 6``.
The test for a needle (:func:`condition`) therefore depends on the sketch's length,
which the query reads with ``strlen``.
"""

from __future__ import annotations

import logging
import math
from typing import Sequence

import numpy as np

log = logging.getLogger(__name__)

#: Every column of an entry that search needs besides its text and tool name.
COLUMNS = ("text_sketch",)
#: Each column's SQL type and options. Uncompressed: the characters are random, so
#: compression saves nothing and would cost decoding on every search.
COLUMN_DDL = {"text_sketch": "VARCHAR USING COMPRESSION uncompressed"}

#: Bits of sketch per distinct trigram: ~1/e of the bits set, so a needle with t
#: trigrams passes ~2**-(1.4 t) of the entries that do not contain it.
BITS_PER_TRIGRAM = 2.0
BITS_PER_CHAR = 6
#: The sketch lengths (characters), about sqrt(2) apart: 16 up to ~185,000 (1.1M bits,
#: enough for ~550,000 distinct trigrams; longer texts get the largest, and more false
#: positives).
LENGTHS = tuple(sorted({int(round(16 * 2 ** (j / 2))) for j in range(17)}))
#: Characters of a needle's sketch tested per search (per length): a few rule out nearly
#: every entry that does not match; more only lengthen the query.
MAX_TESTS = 8

_BASE = 0x40  # '@': characters '@' .. '\x7f' hold 6 bits each
_GOLDEN = 2654435761  # Knuth's multiplicative hash constant
# Rows hashed per numpy pass: bounds the temporary arrays (~20 bytes per text byte).
_CHUNK = 1024
_WEIGHTS = (1 << np.arange(BITS_PER_CHAR)).astype(np.uint8)


def keyed(texts: Sequence[str | None], tool_names: Sequence[str | None]) -> list[str]:
    """Return what the sketch of each entry covers: lower-cased text, NUL, lower-cased tool name."""
    return [(text.lower() if text else "") + "\0" + (name.lower() if name else "")
            for text, name in zip(texts, tool_names)]


def columns(texts: Sequence[str | None],
            tool_names: Sequence[str | None]) -> dict[str, np.ndarray]:
    """Return the values of every column in :data:`COLUMNS` for these entries."""
    return {"text_sketch": build(keyed(texts, tool_names))}


def build(texts: Sequence[str]) -> np.ndarray:
    """Return the sketches of already lower-cased ``texts`` as an object array of strings."""
    out = np.empty(len(texts), dtype=object)
    for start in range(0, len(texts), _CHUNK):
        out[start:start + _CHUNK] = _build_chunk(texts[start:start + _CHUNK])
    return out


def _build_chunk(texts: Sequence[str]) -> list[str]:
    encoded = [text.encode("utf-8") for text in texts]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    hashes, counts = _trigram_hashes(b"".join(encoded), lengths)
    # Distinct trigrams per row, by linear counting on a bitmap of 2 bits per byte
    # (rounded up to whole bytes, so each row's count is a sum of bytes' popcounts).
    counting = (lengths + 4) // 4 * 8
    set_bits = np.add.reduceat(np.bitwise_count(_bitmaps(hashes, counts, counting)),
                               np.concatenate(([0], np.cumsum(counting // 8)[:-1])))
    distinct = -counting * np.log1p(-np.minimum(set_bits, counting - 1) / counting)
    wanted = np.ceil(distinct * BITS_PER_TRIGRAM / BITS_PER_CHAR)
    chars = np.asarray(LENGTHS)[np.minimum(np.searchsorted(LENGTHS, wanted), len(LENGTHS) - 1)]
    bits = _bitmaps(hashes, counts, chars * BITS_PER_CHAR, packed=False)
    codes = bits.reshape(-1, BITS_PER_CHAR).view(np.uint8) @ _WEIGHTS + np.uint8(_BASE)
    text = codes.tobytes().decode("ascii")
    ends = np.cumsum(chars).tolist()
    return [text[end - size:end] for end, size in zip(ends, chars.tolist())]


def _bitmaps(hashes: np.ndarray, counts: np.ndarray, sizes: np.ndarray,
             packed: bool = True) -> np.ndarray:
    """Set bit ``h * size >> 32`` of each row's ``size`` bits; return them back to back."""
    offsets = np.concatenate(([0], np.cumsum(sizes)))
    bits = np.zeros(int(offsets[-1]), dtype=bool)
    size = np.repeat(sizes.astype(np.uint64), counts)
    bits[np.repeat(offsets[:-1], counts) + ((hashes * size) >> np.uint64(32)).astype(np.int64)] = True
    return np.packbits(bits) if packed else bits


def _trigram_hashes(data: bytes, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the 32-bit hashes (as uint64) of every row's trigrams, in order, and their count per row."""
    counts = np.maximum(lengths - 2, 0)
    if len(data) < 3:
        return np.zeros(0, dtype=np.uint64), counts
    values = np.frombuffer(data, dtype=np.uint8).astype(np.uint32)
    trigrams = (values[:-2] << 16) | (values[1:-1] << 8) | values[2:]
    # The trigrams starting at a row's last two bytes run into the next row.
    keep = np.ones(len(trigrams) + 2, dtype=bool)
    ends = np.cumsum(lengths)
    keep[ends[ends >= 1] - 1] = False
    keep[ends[ends >= 2] - 2] = False
    trigrams = trigrams[keep[:-2]]
    trigrams *= np.uint32(_GOLDEN)
    return trigrams.astype(np.uint64), counts


def needle_hashes(needle: str) -> list[int]:
    """Return the distinct 32-bit trigram hashes of an already lower-cased ``needle``."""
    data = needle.encode("utf-8")
    seen: dict[int, None] = {}
    for i in range(len(data) - 2):
        trigram = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2]
        seen[(trigram * _GOLDEN) & 0xFFFFFFFF] = None
    return list(seen)


def required(needle: str, length: int, limit: int = MAX_TESTS) -> dict[int, int]:
    """Return ``{character: mask}`` that a sketch of ``length`` characters must contain.

    Characters are 0-based; ``mask`` holds the 6-bit values that must be set. At most
    ``limit`` characters are returned; empty for needles shorter than three bytes.
    """
    bits = length * BITS_PER_CHAR
    masks: dict[int, int] = {}
    for value in needle_hashes(needle):
        char, bit = divmod((value * bits) >> 32, BITS_PER_CHAR)
        if char in masks or len(masks) < limit:
            masks[char] = masks.get(char, 0) | (1 << bit)
    return masks


def condition(column: str, needle: str, limit: int = MAX_TESTS) -> str | None:
    """Return SQL true for every row whose sketch ``column`` may contain ``needle``.

    It reads only ``column`` and uses only functions that cannot fail (``strlen``,
    ``substring``, ``IN``), so DuckDB pushes it into the table scan even next to other
    filters, and reads other columns only for the rows it lets through. A row with no
    sketch (NULL) or a length not in :data:`LENGTHS` passes. None: no filter
    (a needle shorter than three bytes).
    """
    if len(needle.encode("utf-8")) < 3:
        return None
    branches = []
    for length in LENGTHS:
        tests = " AND ".join(
            f"contains('{_characters_with(mask)}', substring({column}, {char + 1}, 1))"
            for char, mask in sorted(required(needle, length, limit).items()))
        branches.append(f"WHEN {length} THEN {tests}")
    return f"({column} IS NULL OR CASE strlen({column}) {' '.join(branches)} ELSE true END)"


def _characters_with(mask: int) -> str:
    """Return the sketch characters that have every bit of ``mask`` set (none is a quote)."""
    return "".join(chr(_BASE + value) for value in range(1 << BITS_PER_CHAR)
                   if value & mask == mask)


def bits_set(sketch: str, needle: str) -> bool:
    """Return whether ``sketch`` may contain ``needle``: the test of :func:`condition`, in Python."""
    if len(needle.encode("utf-8")) < 3 or len(sketch) not in LENGTHS:
        return True
    masks = required(needle, len(sketch), limit=math.inf)  # type: ignore[arg-type]
    return all((ord(sketch[char]) - _BASE) & mask == mask for char, mask in masks.items())


def searchable(texts: Sequence[str | None],
               tool_names: Sequence[str | None]) -> tuple[list[str | None], np.ndarray]:
    """Return what migration 2 stored: lower-cased texts and 40 sketch words, all bits set.

    Migration 2's sketch is gone (migration 5 drops its columns); every bit set is what
    it stored for rows it never sketched, and matches anything.
    """
    lowered = [text.lower() if text else text for text in texts]
    return lowered, np.full((40, len(lowered)), (1 << 52) - 1, dtype=np.int64)
