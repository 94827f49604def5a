"""Long entry texts: kept apart from the short ones, compressed, and sketched by chunks.

Most entries are a few hundred bytes; a few (tool results, pasted files) are tens of
kilobytes and hold most of the text. Kept in one column they cost twice:

- **Bytes.** DuckDB compresses a column segment's strings with a dictionary and FSST,
  and gives up on a segment holding one very long string: the whole segment is then
  stored as it is, ~1.4 bytes per text byte once long texts are 2% of the entries
  (bench/store.py). So a text over :data:`LONG_CHARS` goes to ``long_text``, and
  ``text`` keeps the short ones.
- **Search.** One 2048-bit sketch (sketch.py) per entry is full of set bits for a text of
  a few kilobytes, so every long text was read and lower-cased on every search. A long
  text is sketched as overlapping chunks instead, one row per chunk in
  ``long_text_sketches``; the entry's own sketch then covers its tool name only.

``long_text`` holds each text compressed on its own, one zstd frame (RFC 8878) of its
UTF-8 (:func:`pack`, :func:`unpack`): DuckDB's own compression of a column (zstd, or
dictionary+FSST) costs ~1.3 ms to read one string back, as it decompresses the
segment around it, and search reads a few hundred long texts when a term is common
(1M entries: 127 ms to read 100 of them back); one text of ~25 KB in its own
frame takes ~0.04 ms (zlib: 0.1 ms). Bytes per text byte of the whole store at 1M
entries: 1.17 with DuckDB's zstd, 1.20 with zlib per text, 1.39 uncompressed. Short
texts stay uncompressed for the same reason (migration 6).

A chunk is :data:`CHUNK_CHARS` characters of the lower-cased text plus the
:data:`OVERLAP_CHARS` after them, so every substring of up to ``OVERLAP_CHARS + 1``
characters lies whole in some chunk. Search tests a chunk's sketch for the needle's
first ``OVERLAP_CHARS + 1`` characters (:func:`prefix`): a text containing the needle
contains that prefix, inside one chunk.
"""

from __future__ import annotations

import logging
import threading
from typing import NamedTuple, Sequence

import numpy as np
import zstandard

from thinkt.collector import sketch

log = logging.getLogger(__name__)

#: A text of more characters than this is stored in ``long_text`` and sketched by chunks.
#: At 2,048 a text has up to ~1,400 distinct trigrams, which leave a third of a 2048-bit
#: sketch's bits unset; longer texts fill it.
LONG_CHARS = 2048
#: Characters a chunk starts after the one before it; its sketch then has about as
#: many distinct trigrams as a short text's.
CHUNK_CHARS = 1024
#: Characters a chunk shares with the next one: the longest needle prefix tested, less one.
OVERLAP_CHARS = 64

#: The table of chunk sketches (migration 6 creates it).
SKETCH_TABLE = "long_text_sketches"
#: zstd's default level: 0.35 of the text, ~170 MB/s to pack and ~650 MB/s to unpack
#: (zlib: 0.38, ~80 and ~240 MB/s).
LEVEL = 3
# zstandard's (de)compressors are not safe to share between threads: one per thread.
_local = threading.local()


class Prepared(NamedTuple):
    """What an HTTP worker makes of a batch's texts for the writer: sketches and packed
    long texts (work the writer, the one process every batch passes through, need not do)."""

    #: ``(entries, len(sketch.COLUMNS))``: each entry's short text and tool name.
    entries: np.ndarray
    #: ``(chunks, len(sketch.COLUMNS))``: the chunks of the batch's long texts.
    chunks: np.ndarray
    #: ``(chunks,)``: the entry (its index in the batch) each chunk belongs to.
    chunk_entry: np.ndarray
    #: ``(entries,)`` objects: each long text :func:`pack`\ ed, None for the others.
    long_texts: np.ndarray


def is_long(text: str | None) -> bool:
    """Return whether ``text`` is stored in ``long_text``."""
    return text is not None and len(text) > LONG_CHARS


def pack(text: str) -> bytes:
    """Return a long text as ``long_text`` stores it."""
    if not hasattr(_local, "packer"):
        _local.packer = zstandard.ZstdCompressor(level=LEVEL)
    return _local.packer.compress(text.encode("utf-8", "surrogatepass"))


def unpack(packed: bytes | None) -> str | None:
    """Return the text :func:`pack` made ``packed`` of (None for None)."""
    if packed is None:
        return None
    if not hasattr(_local, "unpacker"):
        _local.unpacker = zstandard.ZstdDecompressor()
    return _local.unpacker.decompress(packed).decode("utf-8", "surrogatepass")


def chunks(lowered: str) -> list[str]:
    """Return the overlapping chunks of an already lower-cased text."""
    last = max(len(lowered) - OVERLAP_CHARS, 1)
    return [lowered[start:start + CHUNK_CHARS + OVERLAP_CHARS]
            for start in range(0, last, CHUNK_CHARS)]


def prefix(needle: str) -> str:
    """Return the part of a lower-cased ``needle`` a chunk's sketch is tested for."""
    return needle[:OVERLAP_CHARS + 1]


def prepare(texts: Sequence[str | None], tool_names: Sequence[str | None]) -> Prepared:
    """Return what the writer stores of a batch's texts besides the short ones: :class:`Prepared`."""
    long = [index for index, text in enumerate(texts) if is_long(text)]
    short = list(texts)
    for index in long:
        short[index] = None
    entries = sketch.table(short, tool_names)
    pieces: list[str] = []
    owners: list[int] = []
    for index in long:
        parts = chunks(texts[index].lower())
        pieces.extend(parts)
        owners.extend([index] * len(parts))
    table = sketch.words(pieces)
    packed = np.empty(len(texts), dtype=object)
    for index in long:
        packed[index] = pack(texts[index])
    return Prepared(entries, table, np.array(owners, dtype=np.int64), packed)


def chunk_rows(chunks_table: np.ndarray, seqs: np.ndarray,
               session_ids: np.ndarray) -> dict[str, np.ndarray]:
    """Return rows of ``long_text_sketches`` as named columns: each chunk with its entry's
    ``seq`` and ``session_id``."""
    rows = {"seq": np.asarray(seqs, dtype=np.int64), "session_id": session_ids}
    for index, column in enumerate(sketch.COLUMNS):
        rows[column] = np.ascontiguousarray(chunks_table[:, index])
    return rows


def insert_chunks(con, rows: dict[str, np.ndarray]) -> None:
    """Append :func:`chunk_rows` to ``long_text_sketches``."""
    if not len(rows["seq"]):
        return
    chunk_table = rows  # noqa: F841  (scanned by name)
    names = ", ".join(f'"{name}"' for name in rows)
    con.execute(f"INSERT INTO {SKETCH_TABLE} ({names}) SELECT {names} FROM chunk_table")
