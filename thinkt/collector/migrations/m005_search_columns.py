"""Schema version 5: a two-size trigram sketch replaces text_lower and the 2048-bit sketch.

Migration 2 stored a lower-cased copy of every text (uncompressed) and a 2048-bit
sketch in 40 BIGINT columns: about 1.1 bytes per text byte, and the fixed sketch was
saturated (every bit set) for texts over a few KB, so those were read on every search.
sketch.py now gives short entries 1024 bits and long ones 8192; bench/search.py has
the numbers.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from thinkt.collector import sketch

log = logging.getLogger(__name__)

DESCRIPTION = "two-size trigram sketch (sk000.., skl000..) instead of text_lower and sk00..sk39"

# What migration 2 added, as it named them.
_OLD_COLUMNS = ("text_lower",) + tuple(f"sk{i:02d}" for i in range(40))
# The columns this version adds (sketch.py's as of this version; it may change them later,
# this migration may not: a later change is a later migration).
_NEW_COLUMNS = tuple(f"sk{i:03d}" for i in range(20)) + tuple(f"skl{i:03d}" for i in range(158))
# Rows sketched per UPDATE: bounds the memory each step needs (~20 bytes per text byte).
_CHUNK = 20_000


def apply(con: Any) -> None:
    """Drop migration 2's columns, add the sketch columns and fill them for every stored entry.

    DuckDB 2.0 drops columns of a table with a primary key (the key's columns aside),
    so the table is altered, not rebuilt. Until a row is filled its sketch is NULL,
    which search treats as "may match": an interrupted migration (rolled back) or a
    row the backfill missed is slower to search, never lost.
    """
    present = {row[0] for row in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = 'collected_entries' "
        "AND database_name = current_database()").fetchall()}
    for column in _OLD_COLUMNS:
        if column in present:
            con.execute(f"ALTER TABLE collected_entries DROP COLUMN {column}")
    for column in _NEW_COLUMNS:
        con.execute(f"ALTER TABLE collected_entries ADD COLUMN {column} BIGINT")
    assignments = ", ".join(f"{column} = b.{column}" for column in _NEW_COLUMNS)
    last, filled = -1, 0
    while True:
        rows = con.execute("SELECT seq, text, tool_name FROM collected_entries WHERE seq > ? "
                           "ORDER BY seq LIMIT ?", [last, _CHUNK]).fetchall()
        if not rows:
            break
        seqs, texts, tool_names = zip(*rows)
        words = sketch.columns(texts, tool_names)
        backfill = {"seq": np.array(seqs, dtype=np.int64),
                    **{column: words[column] for column in _NEW_COLUMNS}}
        con.register("backfill", backfill)
        con.execute(f"UPDATE collected_entries SET {assignments} FROM backfill b "
                    "WHERE collected_entries.seq = b.seq")
        con.unregister("backfill")
        last, filled = seqs[-1], filled + len(rows)
    log.info("sketched %d stored entries", filled)
