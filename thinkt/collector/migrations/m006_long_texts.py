"""Schema version 6: long texts kept apart, compressed one by one, and sketched by chunks.

Adds ``collected_entries.long_text`` and the table ``long_text_sketches``, then moves
every stored text of more than ``longtext.LONG_CHARS`` characters: the text, packed, to
``long_text``, its chunks' sketches to the new table, and the entry's own sketch made
again over its tool name alone (see longtext.py for why). The short texts move to a
new ``text`` column stored uncompressed: search reads a few hundred of them out of a
million, and DuckDB decompresses a whole dictionary+FSST segment to read one string
(rare-term search at 1M entries: 127 ms over FSST texts, 33 ms over plain ones).

This migration uses longtext.py and sketch.py as they are at version 6: the sketches
it stores must be the ones search tests. A later change to how texts are chunked or
hashed needs a migration of its own that sketches them again.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from thinkt.collector import longtext, sketch

log = logging.getLogger(__name__)

DESCRIPTION = "long texts packed in their own column, sketched by chunks"

#: Long texts moved per step: bounds the texts and sketches held in memory at once.
STEP = 2_000


def apply(con: Any) -> None:
    """Add the column and the table, and move the long texts stored so far."""
    con.execute("ALTER TABLE collected_entries ADD COLUMN long_text BLOB "
                "USING COMPRESSION uncompressed")
    con.execute("ALTER TABLE collected_entries ADD COLUMN short_text VARCHAR "
                "USING COMPRESSION uncompressed")
    words = ", ".join(f"{column} BIGINT NOT NULL" for column in sketch.COLUMNS)
    con.execute(f"CREATE TABLE {longtext.SKETCH_TABLE} (seq BIGINT NOT NULL, "
                f"session_id VARCHAR NOT NULL, {words})")
    moved, after = 0, 0
    while True:
        # strlen counts bytes, never fewer than the characters is_long counts.
        rows = con.execute(
            "SELECT seq, session_id, text, tool_name FROM collected_entries "
            "WHERE seq > ? AND strlen(text) > ? ORDER BY seq LIMIT ?",
            [after, longtext.LONG_CHARS, STEP]).fetchall()
        if not rows:
            break
        after = rows[-1][0]
        rows = [row for row in rows if longtext.is_long(row[2])]
        if rows:
            _move(con, rows)
            moved += len(rows)
    con.execute("UPDATE collected_entries SET short_text = text WHERE long_text IS NULL")
    con.execute("ALTER TABLE collected_entries DROP COLUMN text")
    con.execute("ALTER TABLE collected_entries RENAME COLUMN short_text TO text")
    log.info("moved %d long texts to long_text", moved)


def _move(con: Any, rows: list[tuple]) -> None:
    seqs = np.array([row[0] for row in rows], dtype=np.int64)
    sessions = np.empty(len(rows), dtype=object)
    sessions[:] = [row[1] for row in rows]
    made = longtext.prepare([row[2] for row in rows], [row[3] for row in rows])
    longtext.insert_chunks(con, longtext.chunk_rows(made.chunks, seqs[made.chunk_entry],
                                                    sessions[made.chunk_entry]))
    moved = {"seq": seqs, "long_text": made.long_texts,  # noqa: F841  (scanned by name)
             **sketch.from_table(made.entries)}
    assignments = ", ".join(f"{column} = m.{column}" for column in ("long_text",) + sketch.COLUMNS)
    con.execute(f"""
        UPDATE collected_entries AS e SET {assignments}
        FROM moved m WHERE e.seq = m.seq
    """)
