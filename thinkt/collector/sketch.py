"""The trigram sketch: a per-entry bitmap that lets search skip entries that cannot match.

Each entry stores ``WORDS`` BIGINT columns (``sk00`` .. ``sk39``) holding a 2048-bit
Bloom filter of every byte trigram of its lower-cased text and tool name (UTF-8).
If ``q`` is a substring of the text, every trigram of ``q`` is a trigram of the
text, so an entry whose sketch lacks one of ``q``'s bits cannot match and DuckDB
drops it while scanning a few integers instead of the whole text. Survivors are
still checked with an exact ``contains``: the sketch only ever has false
positives, never false negatives. Needles shorter than three bytes get no filter.

Words hold 52 bits, not 64, so that a bit can be tested with float division
(exact below 2**53); see ``store.search`` for why the test is not a bitwise AND.
"""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np

log = logging.getLogger(__name__)

BITS = 2048
WORD_BITS = 52
WORDS = -(-BITS // WORD_BITS)  # 40 columns; the last one holds 20 bits
COLUMNS = tuple(f"sk{i:02d}" for i in range(WORDS))
#: A sketch word with every bit set: matches any needle (the value of rows never sketched).
FULL = (1 << WORD_BITS) - 1

_SHIFT = 32 - (BITS.bit_length() - 1)  # keep the top 11 bits of the 32-bit hash
_GOLDEN = 2654435761  # Knuth's multiplicative hash constant
# Rows hashed per numpy pass: keeps the per-chunk bitmap (rows x WORDS x 64 bytes) in cache.
_CHUNK = 256
# position // 52 == (position * 2521) >> 17 for every position below 2048 (checked in tests).
_DIV_MUL, _DIV_SHIFT = 2521, 17


def searchable(texts: Sequence[str | None],
               tool_names: Sequence[str | None]) -> tuple[list[str | None], np.ndarray]:
    """Return the lower-cased texts and the sketches of each (text, tool name) pair.

    Search matches ``q.lower()`` against exactly these lower-cased texts, so the
    sketch and the exact check agree on what case-insensitive means.
    """
    lowered = [text.lower() if text else text for text in texts]
    keyed = [(text or "") + "\0" + (name.lower() if name else "")
             for text, name in zip(lowered, tool_names)]
    return lowered, build(keyed)


def build(texts: Sequence[str]) -> np.ndarray:
    """Return the sketches of lower-cased ``texts`` as a ``(WORDS, len(texts))`` int64 array."""
    count = len(texts)
    out = np.empty((count, WORDS, 8), dtype=np.uint8)
    golden = np.uint32(_GOLDEN)
    shift = np.uint32(_SHIFT)
    row_slots = np.uint32(WORDS * 64)
    for start in range(0, count, _CHUNK):
        part = [text.encode("utf-8") for text in texts[start:start + _CHUNK]]
        rows = len(part)
        lengths = np.fromiter(map(len, part), dtype=np.int64, count=rows)
        data = np.frombuffer(b"".join(part) + b"\0\0", dtype=np.uint8).astype(np.uint32)
        hashes = data[:-2] << 16
        hashes |= data[1:-1] << 8
        hashes |= data[2:]
        hashes *= golden
        hashes >>= shift
        # Bit position p -> slot (p // 52) * 64 + p % 52 == p + 12 * (p // 52): rows are
        # laid out as WORDS words of 64 slots, 52 of them used.
        slots = hashes * np.uint32(_DIV_MUL)
        slots >>= np.uint32(_DIV_SHIFT)
        slots *= np.uint32(64 - WORD_BITS)
        slots += hashes
        slots += np.repeat(np.arange(rows, dtype=np.uint32) * row_slots, lengths)
        # Rows are hashed back to back: the trigrams at a row's last two bytes run into
        # the next row, so they go to a spare slot past the end. (For a row shorter
        # than two bytes this also hits its neighbours' last bytes: spare anyway.)
        ends = np.cumsum(lengths)
        edges = np.concatenate((ends - 1, ends - 2))
        slots[edges[edges >= 0]] = rows * row_slots
        bits = np.zeros(rows * WORDS * 64 + 1, dtype=bool)
        bits[slots] = True
        out[start:start + rows] = np.packbits(bits[:-1].reshape(rows, WORDS, 64), axis=2,
                                              bitorder="little")
    return np.ascontiguousarray(out.view("<i8").reshape(count, WORDS).T)


def masks(needle: str) -> dict[int, int]:
    """Return ``{word: mask}`` that a matching entry's sketch must contain; empty for short needles.

    ``needle`` must be lower-cased the same way as the texts given to :func:`build`.
    """
    data = needle.encode("utf-8")
    words: dict[int, int] = {}
    for i in range(len(data) - 2):
        trigram = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2]
        position = ((trigram * _GOLDEN) & 0xFFFFFFFF) >> _SHIFT
        word, bit = divmod(position, WORD_BITS)
        words[word] = words.get(word, 0) | (1 << bit)
    return words


def required_bits(needle: str, limit: int) -> list[tuple[str, int]]:
    """Return up to ``limit`` ``(column, bit)`` pairs a matching entry must have set.

    A few bits already rule out nearly every non-matching entry; more would only
    lengthen the query.
    """
    pairs = [(COLUMNS[word], bit) for word, mask in sorted(masks(needle).items())
             for bit in range(WORD_BITS) if mask >> bit & 1]
    return pairs[:limit]
